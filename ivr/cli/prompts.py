"""``ivr prompts``: pre-render what callers will hear."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ivr.flows.loader import load_flow_set
from ivr.pbx import PbxInstance
from ivr.settings import load_settings
from ivr.speech.tts import Synthesizer


@click.group()
def prompts() -> None:
    """Prompt audio: recorded prompts and the TTS cache."""


def prompt_jobs(flow_set: object) -> list[tuple[str, str, str]]:
    """(text, lang, rate) for every prompt of every flow, at every rate a caller may get."""
    jobs: set[tuple[str, str, str]] = set()
    for flow in flow_set.flows.values():  # type: ignore[attr-defined]
        rates = {flow.spec.defaults.speech_rate, "slower"}
        rates |= {p.set.speech_rate for p in flow.spec.profiles if p.set.speech_rate}
        for lang in flow.spec.languages:
            for text in flow_set.prompts.get(lang, {}).values():  # type: ignore[attr-defined]
                jobs |= {(text, lang, rate) for rate in rates}
    return sorted(jobs)


@prompts.command()
@click.option("--workers", default=2, show_default=True, help="Synthesis processes.")
def build(workers: int) -> None:
    """Render every prompt of every flow, language and speech rate into the cache."""
    settings = load_settings()
    flow_set, found = load_flow_set([Path(settings.engine.dialplans)], Path(
        settings.engine.prompts))
    if flow_set is None:
        for d in found:
            click.echo(str(d), err=True)
        raise click.ClickException("the flows do not validate")
    cache, _seen = PbxInstance(settings).sounds_dir
    synth = Synthesizer(cache, workers=workers, shared=settings.engine.tts_cache)
    jobs = prompt_jobs(flow_set)
    fresh = 0
    started = time.monotonic()
    try:
        with click.progressbar(jobs, label=f"rendering {len(jobs)} prompts",
                               item_show_func=lambda j: j[1] if j else "") as bar:
            for text, lang, rate in bar:
                if not synth.cached(text, lang, rate).exists():
                    synth.render(text, lang, rate)
                    fresh += 1
    finally:
        synth.close()
    click.echo(f"{len(jobs)} prompts ready in {cache} ({fresh} synthesized now, "
               f"{len(jobs) - fresh} from cache) in {time.monotonic() - started:.1f} s")

"""``ivr simulate``: walk a flow without a phone."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

import click

from ivr.events import Event
from ivr.flows.loader import PROMPTS_DIR, load_flow_set, parse_flow_file
from ivr.flows.simulator import CallerTurn, SimChannel, simulate

SCRIPT_OPTIONS = {"--input": "key", "--say": "say", "--wav": "wav", "--hangup": "hangup"}


def _script(args: list[str]) -> list[CallerTurn]:
    """Caller turns in the order given (``--input 1 --say "..." --input 2``)."""
    turns, i = [], 0
    while i < len(args):
        opt = args[i]
        kind = SCRIPT_OPTIONS.get(opt)
        if kind is None:
            raise click.UsageError(f"unknown option {opt!r}")
        if kind == "hangup":
            turns.append(CallerTurn("hangup"))
            i += 1
            continue
        if i + 1 >= len(args):
            raise click.UsageError(f"{opt} needs a value")
        if kind == "wav" and not Path(args[i + 1]).is_file():
            raise click.UsageError(f"--wav {args[i + 1]}: no such file")
        turns.append(CallerTurn(kind, args[i + 1]))
        i += 2
    return turns


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=PROMPTS_DIR,
              show_default=True)
@click.option("--lang", help="Language to start in (default: the flow's first).")
@click.option("--at", "at", help="Time of the call, ISO 8601 (for schedule steps).")
@click.option("--var", "variables", multiple=True, help="Caller data, e.g. caller.age_group="
              "elderly.")
@click.option("--unanswered", multiple=True, help="A queue that nobody answers.")
@click.option("--json", "as_json", is_flag=True, help="The events as JSON instead of text.")
@click.pass_context
def simulate_cmd(ctx: click.Context, file: Path, prompts_dir: Path, lang: str | None,
                 at: str | None, variables: tuple[str, ...], unanswered: tuple[str, ...],
                 as_json: bool) -> None:
    """Run a flow without Asterisk and print the path and the prompts.

    Caller turns, in order: --input KEY, --say "WORDS", --wav RECORDING (heard by the
    speech recogniser), --hangup. With no turns on a terminal, asks you at each prompt
    ("say ..." to speak, "hangup" to hang up); otherwise the caller stays silent.
    """
    turns = _script(ctx.args)
    flow, _ = parse_flow_file(file)
    flow_set, found = load_flow_set([file.parent], prompts_dir)
    if flow_set is None or flow is None:
        for d in found:
            click.echo(str(d), err=True)
        raise click.ClickException("the flows do not validate: nothing simulated")
    interactive = not turns and sys.stdin.isatty() and not as_json
    recognizer = None
    if any(t.kind == "wav" for t in turns):
        from ivr.speech.asr import SpeechRecognizer

        recognizer = SpeechRecognizer()
        # the call may change language before the recording is heard (--input 2: English)
        wanted = [lang] if lang else list(flow.spec.languages)
        if not set(wanted) & set(recognizer.languages()):
            raise click.UsageError(f"--wav needs a speech recognition model for "
                                   f"{' or '.join(wanted)}: see `ivr models list` "
                                   f"(have: {recognizer.languages()})")
    channel = SimChannel(turns, ask=(lambda p: click.prompt("caller", default="",
                                                            show_default=False))
                         if interactive else None, unanswered=set(unanswered),
                         recognizer=recognizer)
    extra = dict(v.split("=", 1) for v in variables)
    if lang:
        extra["lang"] = lang
    when = dt.datetime.fromisoformat(at) if at else None

    def show(event: Event) -> None:
        line = event.describe()
        if line and not as_json:
            click.echo(line)

    result = asyncio.run(simulate(flow_set, flow.name, channel, extra, when, show))
    if as_json:
        click.echo(json.dumps({"outcome": result.outcome, "queue": result.record.queue,
                               "priority": result.record.queue_priority,
                               "events": [e.flat() for e in result.events]},
                              ensure_ascii=False, default=str))
    else:
        click.echo(f"outcome: {result.outcome}"
                   + (f" (queue {result.record.queue})" if result.record.queue else ""))

"""``ivr urgency FILE.wav``: acoustic urgency of a caller's recording (a heuristic)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Earlier speech of the same caller to compare with (default: the first "
                   "seconds of WAV).")
@click.option("--json", "as_json", is_flag=True, help="Score, view, drivers, features as JSON.")
def urgency(wav: Path, baseline: Path | None, as_json: bool) -> None:
    """Acoustic urgency 0-1 of WAV: loudness, pitch (YIN), speech rate, pauses and
    voicing, relative to the caller's own first seconds. A heuristic without
    clinical validation: triage lets it raise a level, never lower one."""
    from ivr.triage.acoustic import score_file  # librosa: imported only when used

    try:
        result = score_file(wav, baseline)
    except (RuntimeError, ValueError) as exc:  # soundfile: not audio, or unreadable
        raise click.ClickException(f"AudioError: {wav}: {exc}") from None
    if as_json:
        click.echo(json.dumps({"file": str(wav), **result.as_dict()}, ensure_ascii=False))
        return
    click.echo(f"acoustic urgency {result.score:.2f} ({result.view} view)"
               + (f": {', '.join(result.drivers)}" if result.drivers else ""))
    for name, value in result.features.items():
        click.echo(f"  {name:<16} {value:g}")
    for name, value in (result.relative or {}).items():
        click.echo(f"  {name:<16} {value:g}  (against the baseline)")

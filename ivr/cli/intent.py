"""``ivr intent eval``: how well a menu understands callers' own words."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.flows.intents import evaluate
from ivr.flows.loader import PROMPTS_DIR, load_flow_set_or_raise
from ivr.triage.engine import RuleTriager


@click.group()
def intent() -> None:
    """Callers' reasons for calling, in their own words, at a menu."""


@intent.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--flows", "flows_dir", type=click.Path(path_type=Path),
              default=Path("dialplans"), show_default=True)
@click.option("--flow", default="main", show_default=True)
@click.option("--step", default="main_menu", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(file: Path, flows_dir: Path, flow: str, step: str, as_json: bool) -> None:
    """Intent accuracy of FLOW's STEP (a menu) on a labelled JSONL file
    (text, lang, intent: the option's choice, 'symptoms', or 'none')."""
    flow_set = load_flow_set_or_raise([flows_dir], PROMPTS_DIR)
    report = evaluate(flow_set, flow, step, file, RuleTriager())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{flow}.{step}: {report.correct}/{report.total} = {report.accuracy:.1%}")
    for lang, n in sorted(report.by_lang.items()):
        click.echo(f"  {lang}: {report.correct_by_lang[lang]}/{n}")
    for miss in report.misses:
        click.echo(f"  miss: {miss['text']!r}: expected {miss['expected']}, got {miss['got']}")

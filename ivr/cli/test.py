"""``ivr test``: run the scripted test conversations against the flows.

Exit 0 when every conversation passes, 1 when one fails, 2 when a test file
cannot be read (or the flows do not validate): a broken test is not a pass.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ivr.conversations import Conversation, Failure, Problem, load_file, run_conversation
from ivr.flows.loader import PROMPTS_DIR, load_flow_set


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files


async def _run_all(plan: list[Conversation], flow_set: object) -> list[list[Failure]]:
    results = []
    for conv in plan:
        failures = await run_conversation(conv, flow_set)
        mark = "ok  " if not failures else "FAIL"
        click.echo(f"{mark} {conv.pos.file}:{conv.pos.line}  {conv.name}")
        for failure in failures:
            click.echo(f"  {failure}")
        results.append(failures)
    return results


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--flows", "flows_dir", type=click.Path(exists=True, file_okay=False,
              path_type=Path), default=Path("dialplans"), show_default=True,
              help="The folder of flows the conversations call.")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=PROMPTS_DIR,
              show_default=True)
@click.option("-k", "select", help="Only conversations whose name contains this text.")
def test_command(paths: tuple[Path, ...], flows_dir: Path, prompts_dir: Path,
                 select: str | None) -> None:
    """Run test conversations (files or folders; default dialplans/tests/) through the
    simulator. Failures print as file:line:col: expected / what happened."""
    flow_set, found = load_flow_set([flows_dir], prompts_dir)
    if flow_set is None:
        for d in found:
            click.echo(str(d), err=True)
        click.echo(f"the flows in {flows_dir} do not validate: nothing tested", err=True)
        raise SystemExit(2)
    files = _files(list(paths) or [Path("dialplans/tests")])
    if not files:
        raise click.UsageError("no .yaml test files found")
    steps = {name: set(flow.steps) for name, flow in flow_set.flows.items()}
    plan: list[Conversation] = []
    problems: list[Problem] = []
    for path in files:
        conversations, trouble = load_file(path, steps)
        problems += trouble
        if not trouble:
            plan += [c for c in conversations if not select or select.lower() in c.name.lower()]
    for problem in sorted(problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.col)):
        click.echo(str(problem))
    results = asyncio.run(_run_all(plan, flow_set))
    failed = sum(1 for r in results if r)
    click.echo(f"{len(plan)} conversation(s) in {len(files)} file(s): "
               f"{len(plan) - failed} passed, {failed} failed"
               + (f"; {len(problems)} problem(s) in the test files" if problems else ""))
    raise SystemExit(2 if problems else 1 if failed else 0)

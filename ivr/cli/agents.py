"""``ivr agents``: the agents list (``agents.yaml``): handsets, languages, skills, queues.

    ivr agents validate                 the file settings name (agents.file)
    ivr agents validate FILE --json

Findings as ``file:line:col: error[AGTnnn] message`` (codes in ``ivr/agents.py``);
exit 1 on any error, 0 with a one-line summary per agent.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.agents import check_agents
from ivr.settings import load_settings
from ivr.telephony.skills import seat


@click.group("agents")
def agents() -> None:
    """The agents list (agents.yaml): who answers which queue, languages, skills."""


@agents.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Findings and agents as JSON.")
def validate_cmd(file: Path | None, as_json: bool) -> None:
    """Check an agents file (default: the one settings name, agents.yaml)."""
    path = file or load_settings().agents.file
    if not path.exists():
        raise click.UsageError(f"no agents file: {path}")
    book, diags = check_agents(path)
    ok = book is not None and not any(d.severity == "error" for d in diags)
    if as_json:
        click.echo(json.dumps({
            "ok": ok, "file": str(path), "diagnostics": [d.as_dict() for d in diags],
            "agents": [a.model_dump(mode="json") for a in book or ()]},
            ensure_ascii=False, indent=2))
        raise SystemExit(0 if ok else 1)
    for d in diags:
        click.echo(str(d))
    if book is None or not ok:
        raise SystemExit(1)
    for agent in book:
        click.echo(f"  {agent.extension} {agent.name} (seat {seat(book, agent.extension)}): "
                   f"{', '.join(agent.languages)}; skills {', '.join(agent.skills) or '-'}; "
                   f"queues {', '.join(agent.queues) or '-'}")
    click.echo(f"{path}: {len(book)} agents, no errors")

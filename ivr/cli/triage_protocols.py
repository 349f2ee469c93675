"""``ivr triage protocols validate``: check ``triage_protocols.yaml`` and prove its paths.

    ivr triage protocols validate                        the shipped file, against the rules
    ivr triage protocols validate FILE --rules R --flows DIR --json

Findings as ``file:line:col: error[PROnnn] message`` (codes in
``ivr/triage/protocols.py``); then the proof: every answer path of every
protocol, from urgency 2 and 3, at every triage step of the flows that asks
protocols, ends with a level and a step, and level 1 with the step's urgency 1
exit. Exit 1 on any error or unproven path.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.flows.loader import PROMPTS_DIR, flow_files, load_flow_set
from ivr.triage.protocols import PROTOCOLS_PATH, check_file, levels_reached, paths
from ivr.triage.rules import RULES_PATH
from ivr.triage.rules import check_file as check_rules


@click.group("protocols")
def protocols() -> None:
    """Protocol questions (symptom -> check -> decision), triage_protocols.yaml."""


@protocols.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Rules whose symptom ids the triggers name "
              "(default: triage_rules.yaml).")
@click.option("--flows", "flows_dir", type=click.Path(path_type=Path), default=Path("dialplans"),
              show_default=True, help="Flows whose triage steps must route every path.")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=PROMPTS_DIR)
@click.option("--json", "as_json", is_flag=True, help="Findings and path ends as JSON.")
def validate_cmd(file: Path | None, rules_file: Path | None, flows_dir: Path,
                 prompts_dir: Path, as_json: bool) -> None:
    """Check a protocols file (default: triage_protocols.yaml beside the rules), then
    prove every answer path ends with a level and a destination."""
    from ivr.flows.protocol_questions import prove

    path = file or PROTOCOLS_PATH
    if not path.exists():
        raise click.UsageError(f"no protocols file: {path}")
    rules, rule_diags = check_rules(rules_file or RULES_PATH)
    found = [d for d in rule_diags if d.severity == "error"]
    result, diags = check_file(path, rules)
    found += diags
    ends, problems = [], []
    if result is not None and flows_dir.exists():
        flow_set, flow_diags = load_flow_set(flow_files([flows_dir]), prompts_dir)
        found += [d for d in flow_diags if d.severity == "error"]
        if flow_set is not None:
            ends, problems = prove(result, flow_set)
    errors = [d for d in found if d.severity == "error"]
    ok = not errors and not problems and result is not None
    if as_json:
        click.echo(json.dumps({
            "ok": ok, "file": str(path), "diagnostics": [d.as_dict() for d in found],
            "problems": problems,
            "paths": [{"flow": e.flow, "step": e.step, "protocol": e.protocol,
                       "start": e.start, "answers": list(e.answers), "level": e.level,
                       "department": e.department, "target": e.target} for e in ends]},
            ensure_ascii=False, indent=2))
        raise SystemExit(0 if ok else 1)
    for d in found:
        click.echo(str(d))
    for p in problems:
        click.echo(f"error: {p}")
    if result is not None:
        for protocol in result.protocols:
            n = sum(len(paths(protocol, s)) for s in (2, 3))
            click.echo(f"  {protocol.id} v{protocol.version} ({protocol.owner}; review by "
                       f"{protocol.review_by}): {len(protocol.questions)} questions, {n} "
                       f"answer paths, ending at levels "
                       f"{', '.join(map(str, sorted(levels_reached(protocol))))}")
        steps = sorted({f"{e.flow}.{e.step}" for e in ends})
        click.echo(f"{'ok' if ok else 'FAILED'}: {path} version {result.version}: "
                   f"{len(result.protocols)} protocols; {len(ends)} path ends at "
                   f"{len(steps)} triage step(s) ({', '.join(steps) or 'none'}), "
                   f"{len(problems)} without a level and a destination")
    else:
        click.echo(f"{len(errors)} error(s) in {path}", err=True)
    raise SystemExit(0 if ok else 1)

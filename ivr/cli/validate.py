"""``ivr validate``: check flow files before they go live."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.flows.loader import PROMPTS_DIR, flow_files, load_flow_set
from ivr.flows.schema import json_schema


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON (one object).")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=PROMPTS_DIR,
              show_default=True, help="Folder of <lang>.yaml prompt texts.")
@click.option("--schema", "schema_out", type=click.Path(path_type=Path),
              help="Also write the flow JSON Schema here (for editors).")
def validate(paths: tuple[Path, ...], as_json: bool, prompts_dir: Path,
             schema_out: Path | None) -> None:
    """Validate flows (files or folders; default dialplans/): schema, references,
    prompts in every language, and the safety analysis. Exit 1 on any error."""
    if schema_out:
        schema_out.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    targets = list(paths) or [Path("dialplans")]
    files = flow_files(targets)
    if not files:
        raise click.UsageError(f"no .yaml flow files in {', '.join(map(str, targets))}")
    flow_set, found = load_flow_set(targets, prompts_dir)
    errors = [d for d in found if d.severity == "error"]
    if as_json:
        click.echo(json.dumps({"ok": not errors, "files": [str(f) for f in files],
                               "diagnostics": [d.as_dict() for d in found]},
                              ensure_ascii=False, indent=2))
    else:
        for d in found:
            click.echo(str(d))
        if flow_set is not None:
            click.echo(f"ok: {len(flow_set.flows)} flows valid "
                       f"({', '.join(sorted(flow_set.flows))}); set version {flow_set.version}")
        else:
            click.echo(f"{len(errors)} error(s) in {len(files)} file(s)", err=True)
    raise SystemExit(1 if errors else 0)

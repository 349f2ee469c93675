"""``ivr triage examples``: the meaning screen's labelled utterances (triage_examples.yaml).

    ivr triage examples add tests/triage/fresh/2026-12-02-c.jsonl   a SPENT batch joins

Only a batch whose figures are already recorded may join: a batch the examples
contain cannot measure the engine any more (ivr/triage/README.md, "Honest
measurement"). Lines already there (same language and words) are skipped; the
same words under another label stop the command, naming both.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.triage.examples import EXAMPLES_PATH, _fold, as_yaml_line, check_file, check_text


def _label(row: dict[str, object]) -> str:
    urgency = int(row["urgency"])  # type: ignore[call-overload]
    if urgency == 1:
        return "crisis" if row.get("department") == "crisis" else "red_flag"
    return "clinical" if urgency in (2, 3) else "admin"


@click.group("examples")
def examples() -> None:
    """The meaning screen's labelled utterances (triage_examples.yaml)."""


@examples.command("add")
@click.argument("batch", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--file", "target", type=click.Path(dir_okay=False, path_type=Path),
              default=EXAMPLES_PATH, show_default=True, help="The examples file.")
@click.option("--source", help="What the examples say they came from "
              "[folder-name: fresh-2026-12-02-d].")
def add_cmd(batch: Path, target: Path, source: str | None) -> None:
    """Append a labelled JSONL batch ({text, lang, urgency, department[, category]}),
    after its figures were recorded. Bump `version:` in the file afterwards."""
    found, diags = check_file(target)
    if found is None:
        for d in diags:
            click.echo(str(d), err=True)
        raise click.ClickException(f"{target} has errors: fix them first")
    have = {(e.lang, _fold(e.text)): e.label for e in found.examples}
    name = source or f"{batch.parent.name}-{batch.stem}"
    lines, skipped = [], 0
    for n, raw in enumerate(batch.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            label, key = _label(row), (str(row["lang"]), _fold(str(row["text"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{batch}:{n}: not a labelled line ({exc})") from None
        if key in have:
            if have[key] != label:
                raise click.ClickException(
                    f"{batch}:{n}: '{row['text']}' is already in {target} as "
                    f"'{have[key]}', here '{label}': a clinician decides which is right")
            skipped += 1
            continue
        have[key] = label
        lines.append(as_yaml_line({"label": label, "lang": row["lang"],
                                   "category": row.get("category") or "", "source": name,
                                   "text": row["text"]}))
    text = target.read_text(encoding="utf-8")
    new = text + ("" if text.endswith("\n") else "\n") + "".join(f"{x}\n" for x in lines)
    checked, more = check_text(new, str(target))
    if checked is None:
        for d in more:
            click.echo(str(d), err=True)
        raise click.ClickException("the result would not validate: nothing written")
    target.write_text(new, encoding="utf-8")
    click.echo(f"{target}: {len(lines)} example(s) added from {batch} ({skipped} already "
               f"there); now {len(checked.examples)}. Bump `version:` and say why.")

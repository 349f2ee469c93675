"""``ivr kb``: the line's knowledge base (``knowledge/answers/``, see ivr/kb/entries.py).

    ivr kb validate [FOLDER] [--today YYYY-MM-DD]   every finding; exit 1 on any error
    ivr kb search "TEXT" [--topic T]                the entry the line would answer with
    ivr kb eval FILE.jsonl                          how often the right entry (or none) is chosen

An expired entry is an error here (CI fails on it) and is never spoken.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from ivr.kb.entries import load
from ivr.kb.search import SURE, KbIndex
from ivr.settings import load_settings

FOLDER = click.Path(file_okay=False, path_type=Path)


def _folder(folder: Path | None) -> Path:
    return folder or load_settings().engine.knowledge


@click.group("kb")
def kb() -> None:
    """The line's knowledge base: validate, search, measure."""


@kb.command("validate")
@click.argument("folder", required=False, type=FOLDER)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Judge review-by dates as of this day (default: today).")
def validate_cmd(folder: Path | None, today: dt.datetime | None) -> None:
    """Check every entry; exit 1 on any error (an expired entry is one)."""
    base = load(_folder(folder), today.date() if today else None)
    for finding in base.findings:
        click.echo(str(finding))
    errors = len(base.errors)
    click.echo(f"{len(base.entries)} entries usable, {errors} error(s), "
               f"{len(base.findings) - errors} warning(s)")
    raise SystemExit(1 if errors else 0)


@kb.command("search")
@click.argument("text")
@click.option("--folder", type=FOLDER, default=None)
@click.option("--topic", "topics", multiple=True, help="Only entries of this topic or "
              "department (repeatable), as a flow's answer step restricts them.")
@click.option("--lang", default="en-US", show_default=True, help="Language of the answer shown.")
def search_cmd(text: str, folder: Path | None, topics: tuple[str, ...], lang: str) -> None:
    """The entry the line would answer TEXT with, and the nearest others."""
    index = KbIndex(load(_folder(folder)))
    ranked = index.rank(text, topics)
    chosen = index.find(text, topics)
    if chosen is None:
        click.echo("no entry: the caller would be offered a person")
    else:
        click.echo(f"answer: {chosen.entry.ref} (closeness {chosen.score:.2f}, "
                   f"ahead by {chosen.lead:.2f}, nearest question {chosen.question!r})")
        click.echo(f"  {chosen.entry.spoken(lang)}")
    for match in ranked[:3]:
        click.echo(f"  {match.score:.3f} {match.entry.ref}: {match.question}")


@kb.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--folder", type=FOLDER, default=None)
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(file: Path, folder: Path | None, as_json: bool) -> None:
    """Lines of {"lang", "text", "entry" (id or null: no entry should answer)}:
    right answers, wrong answers (the costly kind) and declines (caller to a person); of
    the answers given, how many the line would say at once (closeness at or above SURE)
    rather than first ask "is it about ...?" (a wrong one then costs a question)."""
    index = KbIndex(load(_folder(folder)))
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    counts = {"right": 0, "wrong": 0, "declined": 0, "none_right": 0, "none_wrong": 0}
    at_once = {"right": 0, "wrong": 0, "none_wrong": 0}  # said without asking first
    misses = []
    for row in rows:
        match = index.find(row["text"])
        got = match.entry.id if match else None
        want = row.get("entry")
        if want is None:
            key = "none_right" if got is None else "none_wrong"
        else:
            key = "right" if got == want else "declined" if got is None else "wrong"
        counts[key] += 1
        if match is not None and match.score >= SURE:
            at_once[key] += 1
        if key not in ("right", "none_right"):
            misses.append({"text": row["text"], "want": want, "got": got,
                           "at_once": bool(match and match.score >= SURE)})
    asked = counts["right"] + counts["wrong"] + counts["declined"]
    summary = {"file": str(file), "rows": len(rows), **counts,
               "answered_right_share": round(counts["right"] / asked, 3) if asked else None,
               "at_once": at_once, "misses": misses}
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(f"{file}: {len(rows)} phrasings; of {asked} with an entry: {counts['right']} "
               f"right, {counts['wrong']} wrong entry, {counts['declined']} declined (to a "
               f"person); of {counts['none_right'] + counts['none_wrong']} with none: "
               f"{counts['none_wrong']} wrongly answered")
    click.echo(f"  said at once (no check first): {at_once['right']} right, "
               f"{at_once['wrong'] + at_once['none_wrong']} wrong; the rest asked "
               f"\"is it about ...?\" first")
    for miss in misses:
        when = " (said at once)" if miss["at_once"] else ""
        click.echo(f"  {miss['want']} -> {miss['got']}{when}: {miss['text']}")

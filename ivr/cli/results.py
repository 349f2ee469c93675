"""``ivr results``: the results status table the line reads to verified callers.

    ivr results import FILE.csv [--db URL]   patient_number,test,taken,status
    ivr results list [--limit N] [--db URL]  newest tests first (patients as hashes)

Status only (ready | pending | clinic_will_call): a file with a value or diagnosis
column is refused, and every bad line is named (``file:line:col``) before anything
is written. The patient number is kept as a keyed hash, linked to the registry's
(``ivr patients add --mrn``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from ivr.cli.records import DB_OPTION, _authorize, _engine, _privacy
from ivr.privacy.roles import Action
from ivr.settings import load_settings


@click.group("results")
def results() -> None:
    """Test results status (never values): import the lab's export, list it."""


@results.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@DB_OPTION
def import_cmd(file: Path, db_url: str | None) -> None:
    """Import a status CSV; any bad line: nothing imported, every finding shown, exit 1."""
    from ivr.results import importer

    try:
        text = importer.read_file(file)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start})") from None
    today = dt.datetime.now(ZoneInfo(load_settings().followups.timezone)).date()
    rows, findings = importer.parse(text, str(file), today)
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise click.ClickException(f"{len(findings)} problem(s) in {file}: nothing imported")
    engine = _engine(db_url)
    _authorize(engine, Action.MANAGE_STAFF, "results status", file=file.name)
    with Session(engine) as s, s.begin():
        done = importer.store(s, rows, _privacy(), file.name)
    click.echo(f"{file}: {len(rows)} row(s): {done.added} added, {done.updated} updated, "
               f"{len(rows) - done.added - done.updated} unchanged")


@results.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@DB_OPTION
def list_cmd(limit: int, db_url: str | None) -> None:
    """The newest tests on record: patient (hash), test, date taken, status."""
    from ivr.results.lookup import all_rows

    engine = _engine(db_url)
    _authorize(engine, Action.MANAGE_STAFF, "results status")
    with Session(engine) as s:
        rows = all_rows(s, limit)
    if not rows:
        click.echo("no results status on record")
        return
    for r in rows:
        click.echo(f"{r.patient_hash[:12]}  {r.test_kind:<10}  {r.taken_on}  {r.status}")

"""``ivr report``: the management report of the hospital line for a period.

    ivr report                                   last 7 days -> report.html
    ivr report --since 2w --out fortnight.html   the last two weeks
    ivr report --since 2026-11-01 --until 2026-11-30 --tz UTC
    ivr report --since 24h --json                the same figures as JSON on stdout

Call volume by hour and day, triage levels and departments, top symptoms with
a rise check, queue holds and abandonment, survey scores and negative-feedback
themes. Aggregates only: no caller number, name or call id is in the output.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ivr.reports.figures import DEFAULT_TZ, Figures, compute_figures
from ivr.reports.period import PeriodError, parse_moment, zone
from ivr.settings import load_settings

DEFAULT_OUT = Path("report.html")


@click.command("report")
@click.option("--since", default="7d", show_default=True, metavar="WHEN",
              help="Start: a duration back from --until (24h, 7d, 2w) or an ISO date/time.")
@click.option("--until", default=None, metavar="WHEN",
              help="End (excluded): now by default; a duration back from now, or an ISO "
                   "date/time (a date means the end of that day).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"HTML file to write [default: {DEFAULT_OUT}; none with --json].")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: from settings).")
@click.option("--tz", "tz_name", default=DEFAULT_TZ, show_default=True,
              help="Time zone for hours, weekdays and dates (IANA name).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 50),
              help="How many symptoms to list.")
def report(since: str, until: str | None, out: Path | None, as_json: bool,
           db_url: str | None, tz_name: str, top: int) -> None:
    """Write the management report (one self-contained HTML file) for a period."""
    try:
        tz = zone(tz_name)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--tz'") from None
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        end = parse_moment(until, now, tz, end=True) if until else now
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--until'") from None
    try:
        start = parse_moment(since, end, tz, end=False)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None
    if start >= end:
        raise click.BadParameter(f"the period is empty: {start.isoformat()} is not before "
                                 f"{end.isoformat()}", param_hint="'--since'")

    figures = _figures(db_url or load_settings().database_url, start, end, tz_name, top)
    if as_json:
        click.echo(json.dumps(figures.to_dict(), ensure_ascii=False, indent=2))
    if out is None and not as_json:
        out = DEFAULT_OUT
    if out is not None:
        from ivr.reports.html import render_html  # matplotlib: only when drawing

        out.write_text(render_html(figures), encoding="utf-8")
        alerts = len(figures.alerts)
        click.echo(f"wrote {out} ({figures.volume.total} calls, {alerts} alert(s))",
                   err=as_json)


def _figures(url: str, start: datetime, end: datetime, tz_name: str, top: int) -> Figures:
    from ivr.store.database import make_engine, migrate

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise click.BadParameter(f"{url!r} is not a database URL", param_hint="'--db'") from None
    database = parsed.database or ""
    if (parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not Path(database).exists()):
        raise click.ClickException(f"no call records at {database}: nothing to report "
                                   "(is --db right?)")
    engine = make_engine(url)
    try:
        migrate(engine)  # the audit table exists even in records older than it
        from ivr.cli.records import _authorize
        from ivr.privacy.roles import Action

        _authorize(engine, Action.EXPORT_REPORT, f"{start:%Y-%m-%d}..{end:%Y-%m-%d}")
        return compute_figures(engine, start, end, tz=tz_name, top=top,
                               knowledge=load_settings().engine.knowledge)
    except DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise click.ClickException(
            f"cannot read the call records at {parsed.render_as_string(hide_password=True)}: "
            f"{reason}") from None
    finally:
        engine.dispose()

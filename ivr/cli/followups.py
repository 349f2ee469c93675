"""``ivr followups``: the matters the line must come back to. Staff list what is open
(or overdue), add a follow-up by hand, and close or cancel one. Numbers are shown
masked only; the sealed number never leaves the database except to be dialled."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.engine import Engine

from ivr.cli.records import DB_OPTION, _authorize
from ivr.cli.records import _engine as records_engine
from ivr.flows import schema as s
from ivr.followups import store
from ivr.followups.scheduler import dialable
from ivr.followups.window import CallingWindow, span
from ivr.privacy.roles import Action
from ivr.settings import Settings, load_settings

ID = re.compile(s.ID)


def _engine(settings: Settings, db_url: str | None) -> Engine:
    return records_engine(db_url or settings.database_url)


def _may_manage(engine: Engine, target: str) -> str:
    """Who is running the command, once their role allows it (audited): the name kept
    with what they do."""
    return _authorize(engine, Action.MANAGE_FOLLOWUPS, target).user


def _local(value: str | None, tz: ZoneInfo) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(tz).strftime("%m-%d %H:%M")


@click.group(invoke_without_command=True)
@click.pass_context
def followups(ctx: click.Context) -> None:
    """Follow-up calls: list what is open (the default), add, close, cancel."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_followups)


@followups.command("list")
@click.option("--overdue", is_flag=True,
              help="Only what staff must handle: failed, or past the deadline.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@DB_OPTION
def list_followups(overdue: bool, as_json: bool, db_url: str | None = None) -> None:
    """Open, calling and failed follow-ups (times in the hospital's time zone)."""
    settings = load_settings()
    engine = _engine(settings, db_url)
    _may_manage(engine, "list overdue" if overdue else "list")
    now = datetime.now(UTC)
    items = store.overdue(engine, now) if overdue else store.unfinished(engine)
    rows = [store.as_dict(item, now) for item in items]
    engine.dispose()
    window = CallingWindow.build(settings.followups.timezone, settings.followups.hours,
                                 settings.followups.holidays)
    for row in rows:  # when the line will really call: inside the calling hours
        due = row["next_attempt_at"]
        row["next_call_at"] = (window.next_allowed(max(datetime.fromisoformat(str(due)), now))
                               .isoformat() if due else None)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("no overdue follow-ups" if overdue else "no open follow-ups")
        return
    tz = ZoneInfo(settings.followups.timezone)
    click.echo(f"{'id':8}  {'status':8}  {'kind':14}  {'number':13}  {'next call':11}  "
               f"{'tries':5}  {'last outcome':18}  {'deadline':11}")
    for r in rows:
        flag = "  OVERDUE" if r["overdue"] else ""
        click.echo(f"{r['id'][:8]:8}  {r['status']:8}  {r['kind'][:14]:14}  "
                   f"{r['number']:13}  {_local(r['next_call_at'], tz):11}  "
                   f"{r['attempts']}/{r['max_attempts']:<3}  {r['last_outcome'] or '-':18}  "
                   f"{_local(r['deadline_at'], tz):11}{flag}")
    click.echo(f"{len(rows)} follow-up(s); times in {settings.followups.timezone}")


@followups.command()
@click.option("--number", required=True, help="The patient's phone number.")
@click.option("--kind", required=True, help="post_surgery, medication, complaint...")
@click.option("--in", "after", default="0m", show_default=True, metavar="SPAN",
              help="When the first call is due, from now: 30m, 4h, 3d.")
@click.option("--deadline", default="7d", show_default=True, metavar="SPAN",
              help="Listed as overdue if still open by then (from now).")
@click.option("--flow", default="followup_call", show_default=True,
              help="The outbound flow that runs the call.")
@click.option("--reason", default="", help="For the nurse who may take the call.")
@click.option("--language", default="zh-CN", show_default=True,
              help="Language of the call (one of the flow's languages).")
@click.option("--max-attempts", type=click.IntRange(1, 10), default=3, show_default=True)
@DB_OPTION
def add(number: str, kind: str, after: str, deadline: str, flow: str, reason: str,
        language: str, max_attempts: int, db_url: str | None) -> None:
    """Open a follow-up by hand: the line will call the patient."""
    settings = load_settings()
    engine = _engine(settings, db_url)
    by = _may_manage(engine, f"add {kind}")
    engine.dispose()
    due_in, until = _span(after, "--in"), _span(deadline, "--deadline")
    if not ID.match(kind):
        raise click.BadParameter("lowercase letters, digits and _ (e.g. post_surgery)",
                                 param_hint="--kind")
    if len(dialable(number).lstrip("+")) < 5:
        raise click.BadParameter("not a phone number", param_hint="--number")
    _check_flow(settings, flow, language)
    now = datetime.now(UTC)
    if now + until < now + due_in:
        raise click.BadParameter("the deadline comes before the first call",
                                 param_hint="--deadline")
    followup_id, masked = asyncio.run(_create(
        settings, db_url or settings.database_url, number=number, kind=kind, flow=flow,
        due_at=now + due_in, deadline_at=now + until, reason=reason, language=language,
        created_by=f"staff:{by}", max_attempts=max_attempts))
    tz = ZoneInfo(settings.followups.timezone)
    click.echo(f"follow-up {followup_id[:8]} opened: {kind} for {masked}, first call "
               f"{(now + due_in).astimezone(tz):%Y-%m-%d %H:%M} ({settings.followups.timezone}),"
               f" flow {flow}")


async def _create(settings: Settings, db_url: str, **fields: Any) -> tuple[str, str]:
    from ivr.store.recorder import CallRecorder

    recorder = CallRecorder(db_url, settings=settings)  # the engine's keyring seals the number
    try:
        followup_id = await recorder.create_followup(**fields)
        return followup_id, recorder.privacy.display_number(fields["number"])
    finally:
        recorder.close()


def _span(value: str, option: str) -> timedelta:
    try:
        return span(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _check_flow(settings: Settings, flow: str, language: str) -> None:
    """The flow must exist (and validate) in the engine's dialplans, in that language."""
    from ivr.flows.loader import load_flow_set

    flow_set, _found = load_flow_set([settings.engine.dialplans], settings.engine.prompts)
    if flow_set is None:
        raise click.ClickException(f"the flows in {settings.engine.dialplans} do not "
                                   "validate: run `ivr validate`")
    if flow not in flow_set.flows:
        raise click.BadParameter(f"no flow '{flow}' in {settings.engine.dialplans}",
                                 param_hint="--flow")
    languages = flow_set.flows[flow].spec.languages
    if language not in languages:
        raise click.BadParameter(f"flow '{flow}' speaks {', '.join(languages)}",
                                 param_hint="--language")


def _finish(action: str, followup_id: str, note: str, db_url: str | None) -> None:
    from ivr.privacy.records import records_privacy

    settings = load_settings()
    engine = _engine(settings, db_url)
    by = _may_manage(engine, f"{action} {followup_id}")
    try:
        item = store.find(engine, followup_id)
        masked_note = records_privacy(settings.state_dir).mask(note)
        done = (store.close if action == "close" else store.cancel)(
            engine, item.id, by=by, note=masked_note)
    except store.FollowupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"follow-up {done.id[:8]} ({done.kind}, {done.number_masked}) {done.status}")


@followups.command()
@click.argument("followup_id")
@click.option("--note", default="", help="What was done (masked before it is stored).")
@DB_OPTION
def close(followup_id: str, note: str, db_url: str | None) -> None:
    """Close a follow-up: the matter is settled (ID: its first 8 characters will do)."""
    _finish("close", followup_id, note, db_url)


@followups.command()
@click.argument("followup_id")
@click.option("--note", default="", help="Why (masked before it is stored).")
@DB_OPTION
def cancel(followup_id: str, note: str, db_url: str | None) -> None:
    """Cancel a follow-up: no more calls (created by mistake, the patient declined)."""
    _finish("cancel", followup_id, note, db_url)

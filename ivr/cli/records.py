"""Staff commands on call records: history, recordings, dispositions, staff, audit,
retention and keys. Every one that touches patient data checks the role of the
person running it and leaves an audit entry, allowed or not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from ivr.departments import DEPARTMENTS
from ivr.privacy import AccessDenied, PrivacyError
from ivr.privacy.roles import Action, Actor, Role
from ivr.settings import load_settings

DB_OPTION = click.option("--db", "db_url", metavar="URL",
                         help="Database URL (default: from settings).")


def _engine(db_url: str | None) -> Engine:
    from ivr.store.database import make_engine, migrate

    engine = make_engine(db_url or load_settings().database_url)
    migrate(engine)  # a command run before the engine ever started still finds tables
    return engine


def _privacy() -> Any:
    """The keyring and masking of the configured state folder (the engine's)."""
    from ivr.privacy.records import records_privacy

    return records_privacy(load_settings().state_dir)


def _authorize(engine: Engine, action: Action, target: str = "",
               **detail: Any) -> Actor:
    """The person running the command, if their role allows ``action`` (audited)."""
    from ivr.store.access import authorize

    try:
        return authorize(engine, action, target, detail=detail or None)
    except AccessDenied as exc:
        raise click.ClickException(f"{exc} (refusal written to the audit log)") from None


def _since(value: str) -> datetime:
    """As ``ivr report --since`` reads it: 30m, 24h, 7d, 2w, or a date (local midnight)."""
    from zoneinfo import ZoneInfo

    from ivr.reports.period import PeriodError, parse_moment

    tz = ZoneInfo(load_settings().followups.timezone)  # the hospital's time zone
    try:
        return parse_moment(value, datetime.now(UTC), tz, end=False)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None


# --- history ----------------------------------------------------------------------
@click.command("history")
@click.argument("number")
@click.option("--transcripts", is_flag=True, help="Also what the caller said (masked).")
@click.option("--days", default=30, show_default=True, help="How far back.")
@click.option("--json", "as_json", is_flag=True)
@DB_OPTION
def history_cmd(number: str, transcripts: bool, days: int, as_json: bool,
                db_url: str | None) -> None:
    """A caller's recent calls: when, what about, where they went, open follow-ups."""
    from ivr.store.models import Call, FollowUp

    engine = _engine(db_url)
    privacy = _privacy()
    caller = privacy.caller_hash(number)
    target = f"caller {privacy.display_number(number)}"
    _authorize(engine, Action.READ_HISTORY, target)
    if transcripts:
        _authorize(engine, Action.READ_TRANSCRIPTS, target)
    since = datetime.now(UTC) - timedelta(days=days)
    with Session(engine) as s:
        calls = list(s.scalars(
            select(Call).where(Call.caller_hash == caller, Call.started_at >= since)
            .order_by(Call.started_at.desc())
            .options(selectinload(Call.turns), selectinload(Call.triage))))
        open_items = list(s.scalars(select(FollowUp).where(
            FollowUp.caller_hash == caller, FollowUp.status.in_(("open", "calling")))))
    out = {"caller": privacy.display_number(number), "calls": [{
        "id": c.id, "started_at": c.started_at.isoformat(), "direction": c.direction,
        "flow": c.flow, "department": c.department, "urgency": c.urgency,
        "outcome": c.outcome, "agent": c.agent,
        "symptoms": sorted({x for t in c.triage for x in t.symptoms}),
        **({"said": [t.transcript for t in c.turns if t.transcript]} if transcripts else {}),
    } for c in calls], "open_followups": [{
        "id": f.id, "kind": f.kind, "due_at": f.due_at.isoformat(), "status": f.status,
        "reason": f.reason} for f in open_items]}
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"{out['caller']}: {len(calls)} call(s) in {days} days, "
               f"{len(open_items)} open follow-up(s)")
    for c in out["calls"]:
        line = (f"  {c['started_at'][:16]} {c['direction']:8} {c['flow']:12} "
                f"-> {c['department'] or '-'} (urgency {c['urgency'] or '-'}) {c['outcome']}")
        click.echo(line + (f" [{', '.join(c['symptoms'])}]" if c["symptoms"] else ""))
        for words in c.get("said", []):
            click.echo(f"      said: {words}")
    for f in out["open_followups"]:
        click.echo(f"  open follow-up {f['kind']} due {f['due_at'][:16]} ({f['status']})")


# --- recordings ---------------------------------------------------------------------
@click.group("recordings")
def recordings() -> None:
    """Callers' recorded words: sealed on disk, opened only through here."""


@recordings.command("export")
@click.argument("call_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for the decrypted WAV files.")
@DB_OPTION
def export_cmd(call_id: str, out_dir: Path, db_url: str | None) -> None:
    """Decrypt a call's recordings into OUT (after the role check and an audit entry)."""
    from ivr.store.models import Recording

    engine = _engine(db_url)
    _authorize(engine, Action.PLAY_RECORDING, f"call {call_id}")
    with Session(engine) as s:
        rows = list(s.scalars(select(Recording).where(
            Recording.call_id == call_id, Recording.purged_at.is_(None))
            .order_by(Recording.seq)))
    if not rows:
        raise click.ClickException(f"no recordings kept for call {call_id}")
    out_dir.mkdir(parents=True, exist_ok=True)
    privacy = _privacy()
    for row in rows:
        try:
            wav = privacy.open_file(Path(row.path), call_id)
        except (PrivacyError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        target = out_dir / f"{call_id}-{row.seq:04d}.wav"
        target.write_bytes(wav)
        target.chmod(0o600)
        click.echo(f"{target} ({row.seconds:.1f} s)")


# --- dispositions -------------------------------------------------------------------
@click.command("disposition")
@click.argument("call_id")
@click.option("--department", type=click.Choice(DEPARTMENTS), required=True,
              help="What the call was really about.")
@click.option("--urgency", type=click.IntRange(1, 4), help="The urgency it really had.")
@click.option("--unresolved", is_flag=True, help="The matter stays open.")
@click.option("--note", default="", help="Free text (masked when stored).")
@DB_OPTION
def disposition_cmd(call_id: str, department: str, urgency: int | None, unresolved: bool,
                    note: str, db_url: str | None) -> None:
    """Record the agent's wrap-up of a call (feeds `ivr triage review`)."""
    from ivr.store.access import current_user
    from ivr.store.models import Call, Disposition

    engine = _engine(db_url)
    _authorize(engine, Action.READ_HISTORY, f"call {call_id}", disposition=True)
    with Session(engine) as s, s.begin():
        if s.get(Call, call_id) is None:
            raise click.ClickException(f"no call {call_id}")
        s.add(Disposition(call_id=call_id, agent=current_user(), department=department,
                          urgency=urgency, resolved=not unresolved,
                          note=_privacy().mask(note)))
    click.echo(f"call {call_id}: disposition {department}"
               + (f", urgency {urgency}" if urgency else ""))


# --- staff and audit ----------------------------------------------------------------
@click.group("staff")
def staff() -> None:
    """Who may read what: staff accounts and their roles."""


@staff.command("add")
@click.argument("user")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@DB_OPTION
def staff_add(user: str, role: str, db_url: str | None) -> None:
    """Give USER a ROLE (the first account must be an admin)."""
    from ivr.store.access import add_staff

    try:
        add_staff(_engine(db_url), user, role)
    except AccessDenied as exc:
        raise click.ClickException(f"{exc} (the first account must be an admin)") from None
    click.echo(f"{user}: {role}")


@staff.command("remove")
@click.argument("user")
@DB_OPTION
def staff_remove(user: str, db_url: str | None) -> None:
    from ivr.store.access import remove_staff

    try:
        found = remove_staff(_engine(db_url), user)
    except AccessDenied as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user}: removed" if found else f"{user}: not a staff member")


@staff.command("set-password")
@click.argument("user")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password from standard input (scripts), not a prompt.")
@DB_OPTION
def staff_set_password(user: str, from_stdin: bool, db_url: str | None) -> None:
    """Set USER's password for the staff web pages (Argon2id; their own, or anyone's
    for an admin). Signs USER out everywhere."""
    import sys

    from ivr.store.access import current_user
    from ivr.web.passwords import PasswordError, set_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(_engine(db_url), user, password, by=current_user())
    except PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    except AccessDenied as exc:
        raise click.ClickException(f"{exc} (refusal written to the audit log)") from None
    click.echo(f"{user}: password set (signed out of the web pages everywhere)")


@staff.command("list")
@DB_OPTION
def staff_list(db_url: str | None) -> None:
    from ivr.store.models import StaffMember

    engine = _engine(db_url)
    _authorize(engine, Action.MANAGE_STAFF, "list")
    with Session(engine) as s:
        for member in s.scalars(select(StaffMember).order_by(StaffMember.user)):
            click.echo(f"{member.user}\t{member.role}")


@click.command("audit")
@click.option("--since", default="7d", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@DB_OPTION
def audit_cmd(since: str, as_json: bool, db_url: str | None) -> None:
    """Who accessed patient data, and who was refused."""
    from ivr.store.models import AuditEntry

    engine = _engine(db_url)
    start = _since(since)
    _authorize(engine, Action.READ_AUDIT, f"since {start:%Y-%m-%d}")
    with Session(engine) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.at >= start)
                              .order_by(AuditEntry.at)))
    items = [{"at": r.at.isoformat(), "user": r.user, "role": r.role, "action": r.action,
              "target": r.target, "allowed": r.allowed} for r in rows]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for i in items:
        click.echo(f"{i['at'][:19]} {i['user']:12} {i['role'] or '-':10} "
                   f"{'ok     ' if i['allowed'] else 'REFUSED'} {i['action']} {i['target']}")


# --- retention and keys -------------------------------------------------------------
@click.group("retention")
def retention() -> None:
    """Purge recordings, transcripts and records older than privacy.yaml allows."""


@retention.command("apply")
@click.option("--execute", is_flag=True, help="Really delete (default: a dry run).")
@click.option("--json", "as_json", is_flag=True)
@DB_OPTION
def retention_apply(execute: bool, as_json: bool, db_url: str | None) -> None:
    from ivr.privacy.retention import RetentionPolicy
    from ivr.store import retention as purge

    engine = _engine(db_url)
    try:
        policy = RetentionPolicy.from_file()
    except PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    _authorize(engine, Action.APPLY_RETENTION, "execute" if execute else "dry run")
    result = purge.apply(engine, policy, datetime.now(UTC), dry_run=not execute)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    verb = "purged" if execute else "would purge (dry run; --execute to do it)"
    click.echo(f"{verb}: {result.recordings} recording(s) older than "
               f"{policy.recordings} d, the words of {result.transcripts} call(s) older than "
               f"{policy.transcripts} d, {result.call_records} call record(s) older than "
               f"{policy.call_records} d")


@click.group("keys")
def keys() -> None:
    """The encryption keys of recordings and follow-up and booking numbers."""


@keys.command("rotate")
@DB_OPTION
def keys_rotate(db_url: str | None) -> None:
    """Add a new active key and reseal every recording and stored number with it
    (old keys stay in the keyring until nothing uses them)."""
    from ivr.schedule import number_context
    from ivr.store.models import Booking, FollowUp, Recording

    engine = _engine(db_url)
    _authorize(engine, Action.ROTATE_KEYS, "keyring")
    privacy = _privacy()
    try:
        new_id = privacy.keyring.rotate()
    except PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    from ivr.privacy import sealed

    files = numbers = 0
    with Session(engine) as s, s.begin():
        for rec in s.scalars(select(Recording).where(Recording.purged_at.is_(None))):
            if Path(rec.path).exists() and sealed.reseal(privacy.keyring, rec.path,
                                                         rec.call_id):
                files += 1
            rec.key_id = new_id
        for item in s.scalars(select(FollowUp)):
            number = privacy.open_number(item.number_sealed, item.id)
            item.number_sealed = privacy.seal_number(number, item.id)
            numbers += 1
        for booking in s.scalars(select(Booking).where(Booking.number_sealed.is_not(None))):
            context = number_context(booking.patient_hash)
            assert booking.number_sealed is not None
            number = privacy.open_number(booking.number_sealed, context)
            booking.number_sealed = privacy.seal_number(number, context)
            numbers += 1
    click.echo(f"active key {new_id}: resealed {files} recording(s), {numbers} number(s)")


# --- the registry ---------------------------------------------------------------------
@click.group("patients")
def patients() -> None:
    """The part of the patient registry the line needs (verification, age group)."""


@patients.command("add")
@click.option("--number", required=True, help="The phone number the patient calls from.")
@click.option("--dob", required=True, help="Date of birth, YYYYMMDD.")
@click.option("--mrn", default="", help="Medical record number (stored masked).")
@DB_OPTION
def patients_add(number: str, dob: str, mrn: str, db_url: str | None) -> None:
    try:
        datetime.strptime(dob, "%Y%m%d")
    except ValueError:
        raise click.BadParameter(f"'{dob}' is not a date like 19480315",
                                 param_hint="--dob") from None
    from ivr.store.recorder import CallRecorder

    settings = load_settings()
    engine = _engine(db_url)
    _authorize(engine, Action.MANAGE_STAFF, "patient registry")
    recorder = CallRecorder(db_url or settings.database_url, settings=settings)
    try:
        recorder.add_patient(number, dob, mrn)
    finally:
        recorder.close()
    click.echo(f"patient {_privacy().display_number(number)} registered")


COMMANDS = [history_cmd, recordings, disposition_cmd, staff, audit_cmd, retention, keys,
            patients]

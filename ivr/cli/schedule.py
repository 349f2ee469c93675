"""``ivr schedule``: the embedded appointment schedule (ivr/schedule/) by hand: slots
imported from a CSV file, slots and bookings listed, a booking cancelled or moved (and
the patient called about it: ivr/notices/calls.py). Listing, cancelling and moving show
callers' (masked) numbers, so they are role-checked and audited like ``ivr history``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ivr.cli.records import DB_OPTION, _authorize, _engine
from ivr.privacy.roles import Action
from ivr.settings import load_settings


def _zone() -> ZoneInfo:
    return ZoneInfo(load_settings().followups.timezone)  # the hospital's time zone


@click.group("schedule")
def schedule() -> None:
    """Appointment slots and bookings (the line books, changes and cancels them too)."""


@schedule.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DB_OPTION
def import_cmd(file: Path, db_url: str | None) -> None:
    """Add the slots of FILE.csv (columns clinic, department, clinician, start, minutes;
    start in the hospital's local time, e.g. 2026-12-03 09:30). Any problem: each is
    shown as file:row:col and nothing is imported."""
    from ivr.schedule.importing import add_slots, read_file

    rows, problems = read_file(file, str(_zone()))
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {file}: nothing imported")
    added, kept = add_slots(_engine(db_url), rows, file.name)
    click.echo(f"{file}: {added} slot(s) added, {kept} already there")


@schedule.command("list")
@click.option("--department", help="Only this department's slots.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]),
              help="Only this (local) day, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@DB_OPTION
def list_cmd(department: str | None, day: dt.datetime | None, as_json: bool,
             db_url: str | None) -> None:
    """Slots in time order, each free or with its booking (who, how and when booked)."""
    from ivr.schedule.tables import TableSchedule

    engine = _engine(db_url)
    _authorize(engine, Action.READ_HISTORY, "schedule bookings",
               department=department or "", date=f"{day:%Y-%m-%d}" if day else "")
    zone = _zone()
    rows = TableSchedule(engine).listing(department, day.date() if day else None, zone)
    out = [{"slot": slot.id, "start": slot.starts_at.astimezone(zone).isoformat(),
            "minutes": slot.minutes, "department": slot.department, "clinic": slot.clinic,
            "clinician": slot.clinician,
            "booking": None if b is None else {
                "id": b.id, "patient": b.patient_masked, "by": b.booked_by,
                "at": b.booked_at.astimezone(zone).isoformat(), "call": b.call_id}}
           for slot, b in rows]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not out:
        click.echo("no slots")
    for row in out:
        booking = row["booking"]
        held = "free" if booking is None else (
            f"booking {booking['id']} {booking['patient']} by {booking['by']}"
            + (f" (call {booking['call']})" if booking["call"] else ""))
        click.echo(f"{row['start'][:16].replace('T', ' ')} {row['minutes']:3} min  "
                   f"{row['department']:16} {row['clinic']} / {row['clinician']}  {held}")


NO_CALL = click.option("--no-call", is_flag=True, help=(
    "Do not call the patient: they hear the change on their next call to the line."))


@schedule.command("cancel")
@click.argument("booking_id", type=int)
@NO_CALL
@DB_OPTION
def cancel_cmd(booking_id: int, no_call: bool, db_url: str | None) -> None:
    """Cancel a booking (its slot is free again). The patient hears it first on their
    next call; the line also calls them about it, if the booking kept their number."""
    from ivr.schedule.tables import TableSchedule

    engine = _engine(db_url)
    actor = _authorize(engine, Action.MANAGE_SCHEDULE, f"booking {booking_id}", change="cancel")
    by = f"staff:{actor.user}"
    with _refused(booking_id):
        booking = TableSchedule(engine).cancel(booking_id, by)
    start = booking.slot.starts_at.astimezone(_zone())
    click.echo(f"booking {booking_id} cancelled: {booking.slot.department} "
               f"{start:%Y-%m-%d %H:%M} is free again")
    _tell(booking_id, booking.patient_masked, by, no_call, db_url)


@schedule.command("move")
@click.argument("booking_id", type=int)
@click.argument("slot_id", type=int)
@NO_CALL
@DB_OPTION
def move_cmd(booking_id: int, slot_id: int, no_call: bool, db_url: str | None) -> None:
    """Move a booking to a free slot (SLOT: its id, as `list --json` shows). The patient
    hears it first on their next call; the line also calls them about it, if the
    booking kept their number."""
    from ivr.schedule.tables import TableSchedule

    engine = _engine(db_url)
    actor = _authorize(engine, Action.MANAGE_SCHEDULE, f"booking {booking_id}",
                       change=f"move to slot {slot_id}")
    by = f"staff:{actor.user}"
    with _refused(booking_id):
        moved = TableSchedule(engine).change(booking_id, slot_id, by)
    start = moved.slot.starts_at.astimezone(_zone())
    click.echo(f"booking {booking_id} moved: now booking {moved.id}, {moved.slot.department} "
               f"{start:%Y-%m-%d %H:%M} {moved.slot.clinic} / {moved.slot.clinician}")
    _tell(booking_id, moved.patient_masked, by, no_call, db_url)


@contextlib.contextmanager
def _refused(booking_id: int) -> Iterator[None]:
    """The schedule's refusal as the command's error: the booking is as it was."""
    from ivr.schedule import NoSuchBooking, ScheduleError, SlotTaken

    try:
        yield
    except NoSuchBooking:
        raise click.ClickException(f"no active booking {booking_id}") from None
    except SlotTaken as exc:
        raise click.ClickException(f"{exc}: booking {booking_id} is unchanged") from None
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from None


def _tell(booking_id: int, masked: str, by: str, no_call: bool, db_url: str | None) -> None:
    """Open the outbound call about the change (ivr/notices/calls.py) and say what came
    of it; the next-call notice stands either way."""
    later = f"{masked or 'the patient'} will hear it on their next call to the line"
    if no_call:
        click.echo(f"no call (--no-call): {later}")
        return
    import asyncio

    from ivr.notices.calls import call_about
    from ivr.store.recorder import CallRecorder

    settings = load_settings()
    recorder = CallRecorder(db_url or settings.database_url, settings=settings)
    try:
        done = asyncio.run(call_about(recorder, booking_id, by))
    finally:
        recorder.close()
    if done.result == "opened":
        assert done.followup_id and done.due_at
        language = done.language or "the flow's first language"
        click.echo(f"follow-up {done.followup_id[:8]} opened: the line will call {done.masked} "
                   f"about it from {done.due_at.astimezone(_zone()):%Y-%m-%d %H:%M} within "
                   f"calling hours, in {language}; or {later}, whichever comes first")
    elif done.result == "already_open":
        assert done.followup_id
        click.echo(f"follow-up {done.followup_id[:8]} will call {done.masked} already: that "
                   f"call tells this change too; or {later}")
    elif done.result == "no_number":
        click.echo(f"no call: booking {booking_id} kept no number to call; {later}")
    elif done.result == "unreadable":
        click.echo(f"no call: the number kept with booking {booking_id} cannot be opened "
                   f"(keys?); {later}")
    else:
        click.echo("no call: the appointment time has passed, nothing to tell")

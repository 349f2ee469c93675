"""The outbound call about a change the hospital made (ivr/notices/calls.py), on SQLite and
a real PostgreSQL server: a booking keeps its number sealed (and a move carries it), a
staff cancel or move opens one ``appointment_change`` follow-up that dials that number
in the language the booking call spoke; no number, a change made by phone or a passed
appointment opens none; a second change waits for the call already open; a call in
between that tells it closes the follow-up before it is placed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.followups import store
from ivr.notices import mark_told, pending
from ivr.notices.calls import call_about
from ivr.privacy.records import records_privacy
from ivr.schedule import PatientRef, number_context
from ivr.schedule.importing import add_slots, read_rows
from ivr.schedule.tables import TableSchedule
from ivr.store.models import Booking, aware
from ivr.store.recorder import CallRecorder

pytestmark = pytest.mark.timeout(120)

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
NUMBER = "13800138001"
CSV = """clinic,department,clinician,start,minutes
Digestive Clinic,gastroenterology,Dr Wang,2026-12-03 09:00,20
Digestive Clinic,gastroenterology,Dr Wang,2026-12-03 09:20,20
Digestive Clinic,gastroenterology,Dr Wang,2026-12-08 09:00,20
Digestive Clinic,gastroenterology,Dr Wang,2026-12-01 09:00,20
"""


@pytest.fixture
def recorder(db_url, tmp_path):
    rec = CallRecorder(db_url, privacy=records_privacy(tmp_path),
                       recordings_dir=tmp_path / "recordings")
    rows, problems = read_rows(CSV)
    assert problems == []
    add_slots(rec.engine, rows, "test.csv")
    yield rec
    rec.close()


def patient(rec: CallRecorder, number: str = NUMBER, sealed: bool = True) -> PatientRef:
    """As the book step makes it (ivr/flows/steps/book.py ``_patient``)."""
    privacy = rec.privacy
    phone = privacy.caller_hash(number)
    return PatientRef(phone, privacy.display_number(number), None,
                      privacy.seal_number(number, number_context(phone)) if sealed else None)


def slots(rec: CallRecorder) -> dict[tuple[int, int, int], int]:
    """Slot ids by (day, hour, minute), local time."""
    return {(s.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8))).day,
             s.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8))).hour,
             s.starts_at.minute): s.id
            for s, _ in TableSchedule(rec.engine).listing("gastroenterology")}


async def booked_by_phone(rec: CallRecorder, slot_id: int, lang: str) -> int:
    """A phone booking on a call whose caller chose ``lang`` (a ``set`` step, as main's
    language menu does)."""
    call_id = await rec.start("1.1", "PJSIP/t-1", NUMBER, "appointments", "v",
                              language="zh-CN")  # the flow's first language
    await rec.record(call_id, ev.SetVars(step="set_language", values={"lang": lang}))
    await rec.finish(call_id, "goodbye")
    booking = TableSchedule(rec.engine).book(slot_id, patient(rec), "phone", call_id,
                                             now=NOW - dt.timedelta(days=1))
    return booking.id


async def test_a_staff_cancel_opens_a_call_to_the_number_it_was_booked_from(recorder):
    booking = await booked_by_phone(recorder, slots(recorder)[(3, 9, 0)], "en-US")
    TableSchedule(recorder.engine).cancel(booking, "staff:admin.wang", now=NOW)

    done = await call_about(recorder, booking, "staff:admin.wang", now=NOW)

    assert (done.result, done.masked, done.language) == ("opened", "138******01", "en-US")
    item = store.get(recorder.engine, done.followup_id)
    assert (item.kind, item.flow, item.status, item.created_by, item.language) == (
        "appointment_change", "followup_call", "open", "staff:admin.wang", "en-US")
    assert recorder.privacy.open_number(item.number_sealed, item.id) == NUMBER
    assert item.caller_hash == recorder.privacy.caller_hash(NUMBER)  # the notices' key
    assert item.reason == ("appointment cancelled by the clinic: gastroenterology Digestive "
                           f"Clinic 2026-12-03 09:00 (booking {booking})")
    assert aware(item.due_at) == NOW
    assert aware(item.deadline_at) == dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)  # the slot
    assert [f.id for f in store.due(recorder.engine, NOW)] == [item.id]


async def test_a_move_carries_the_number_and_a_second_change_waits_for_the_open_call(
        recorder):
    ids = slots(recorder)
    schedule = TableSchedule(recorder.engine)
    first = await booked_by_phone(recorder, ids[(3, 9, 0)], "zh-CN")
    moved = schedule.change(first, ids[(3, 9, 20)], "phone", now=NOW - dt.timedelta(hours=5))
    with Session(recorder.engine) as s:
        old, new = s.get(Booking, first), s.get(Booking, moved.id)
        assert new.number_sealed == old.number_sealed is not None  # bound to the phone
    # staff move the moved booking (made by phone on no call of its own: the first call's
    # language still counts), then cancel another one of the same phone
    again = schedule.change(moved.id, ids[(8, 9, 0)], "staff:admin.wang", now=NOW)
    done = await call_about(recorder, moved.id, "staff:admin.wang", now=NOW)
    assert (done.result, done.language) == ("opened", "zh-CN")
    item = store.get(recorder.engine, done.followup_id)
    assert item.reason.startswith("appointment moved by the clinic: gastroenterology Digestive "
                                  "Clinic 2026-12-03 09:20, now 2026-12-08 09:00")
    # the old time is when they would come in vain: called before it
    assert aware(item.deadline_at) == dt.datetime(2026, 12, 3, 1, 20, tzinfo=dt.UTC)
    other = schedule.book(ids[(3, 9, 0)], patient(recorder), "phone",
                          now=NOW - dt.timedelta(hours=1))
    schedule.cancel(other.id, "staff:admin.wang", now=NOW)
    second = await call_about(recorder, other.id, "staff:admin.wang", now=NOW)
    assert (second.result, second.followup_id) == ("already_open", item.id)
    assert len(store.unfinished(recorder.engine)) == 1
    assert again.id != moved.id


async def test_no_call_without_a_number_or_without_a_hospital_change(recorder):
    ids = slots(recorder)
    schedule = TableSchedule(recorder.engine)
    old = schedule.book(ids[(3, 9, 0)], patient(recorder, sealed=False), "staff:desk",
                        now=NOW - dt.timedelta(days=1))
    schedule.cancel(old.id, "staff:admin.wang", now=NOW)
    assert (await call_about(recorder, old.id, "staff:x", now=NOW)).result == "no_number"
    mine = schedule.book(ids[(3, 9, 20)], patient(recorder), "phone",
                         now=NOW - dt.timedelta(days=1))
    schedule.cancel(mine.id, "phone", now=NOW)  # the caller's own: not news to them
    assert (await call_about(recorder, mine.id, "staff:x", now=NOW)).result == "nothing_to_tell"
    past = schedule.book(ids[(1, 9, 0)], patient(recorder), "phone",
                         now=NOW - dt.timedelta(days=5))
    schedule.cancel(past.id, "staff:admin.wang", now=NOW)
    assert (await call_about(recorder, past.id, "staff:x", now=NOW)).result == "nothing_to_tell"
    assert (await call_about(recorder, 999, "staff:x", now=NOW)).result == "nothing_to_tell"
    assert store.unfinished(recorder.engine) == []


async def test_a_number_sealed_for_another_phone_does_not_open(recorder):
    ids = slots(recorder)
    schedule = TableSchedule(recorder.engine)
    theirs = patient(recorder, "13900139002")
    stolen = PatientRef(theirs.phone_hash, theirs.masked, None,
                        patient(recorder).number_sealed)  # bound to another phone's hash
    row = schedule.book(ids[(3, 9, 0)], stolen, "phone", now=NOW - dt.timedelta(days=1))
    schedule.cancel(row.id, "staff:admin.wang", now=NOW)
    assert (await call_about(recorder, row.id, "staff:x", now=NOW)).result == "unreadable"
    assert store.unfinished(recorder.engine) == []


async def test_a_call_in_between_that_tells_it_closes_the_follow_up(recorder):
    ids = slots(recorder)
    schedule = TableSchedule(recorder.engine)
    booking = await booked_by_phone(recorder, ids[(8, 9, 0)], "en-US")
    schedule.cancel(booking, "staff:admin.wang", now=NOW)
    done = await call_about(recorder, booking, "staff:admin.wang", now=NOW)
    item = store.get(recorder.engine, done.followup_id)
    assert aware(item.deadline_at) == NOW + dt.timedelta(days=2)  # a week ahead: staff sooner
    phone = recorder.privacy.caller_hash(NUMBER)
    with recorder.sessions.begin() as s:  # the patient calls in first (the notices step)
        mark_told(s, pending(s, phone, NOW), phone, "call-in-between", NOW)
    item = store.get(recorder.engine, done.followup_id)
    assert (item.status, item.last_outcome, item.attempts) == ("done", "told_on_call", 0)
    assert "told on call call-in-between" in item.reason
    assert store.due(recorder.engine, NOW) == []
    with Session(recorder.engine) as s:
        assert s.scalars(select(Booking.number_sealed).where(Booking.id == booking)).one()

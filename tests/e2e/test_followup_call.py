"""The closed loop through the real Asterisk: a follow-up falls due, the engine's
scheduler places the outbound call (AMI Originate of Local/<number>@ivr-outbound-dial),
a simulated patient's phone (sim-phone in extensions_sim.conf) answers or not, and
the outcome lands on the follow-up.

Numbers pick the simulated patient: 15500000001 answers and presses 1 (all well),
15500000000 rings and never answers, 15500000010 is busy (sim-phone)."""

import asyncio
import datetime as dt
import logging
import time

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.followups import store
from ivr.store.models import FollowUp, aware, utcnow

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
log = logging.getLogger(__name__)


async def create(lab, number, due):
    return await lab.engine.recorder.create_followup(
        number=number, kind="post_surgery", flow="followup_call", due_at=due,
        deadline_at=due + dt.timedelta(days=2), reason="knee surgery", created_by="e2e")


async def first_attempt(lab, followup_id, timeout):
    """The follow-up once its first attempt is recorded."""
    db = lab.engine.recorder.engine
    give_up = time.monotonic() + timeout
    while True:
        item = await asyncio.to_thread(store.get, db, followup_id)
        if item.tries:
            return item
        assert time.monotonic() < give_up, (
            f"no attempt recorded within {timeout} s (status {item.status})")
        await asyncio.sleep(0.2)


async def test_followup_is_called_at_its_due_time_and_its_outcome_recorded(lab):
    """A patient calls the post-surgery line with a recovery question (key 2): the flow's
    followup step opens a follow-up on the caller's number, due in three days. The test
    brings it forward to three seconds from now; the scheduler then calls the patient
    back through Asterisk, the patient presses 1 (all well) and the follow-up is done."""
    assert lab.engine.scheduler is not None, "the engine runs the follow-up scheduler"
    db, started = lab.engine.recorder.engine, time.monotonic()
    inbound = await lab.wait(await lab.place("press2", "15500000001", context="sim-flow",
                                             exten="post_surgery"))
    assert inbound.outcome == "answered"  # a person took the recovery question
    with Session(db) as s:
        opened = s.scalars(select(FollowUp).where(FollowUp.call_id == inbound.id)).one()
    assert (opened.kind, opened.flow, opened.status) == ("post_surgery", "followup_call", "open")
    assert aware(opened.due_at) > utcnow() + dt.timedelta(days=2)
    due = utcnow() + dt.timedelta(seconds=3)
    with Session(db) as s, s.begin():  # three days pass
        s.execute(update(FollowUp).where(FollowUp.id == opened.id)
                  .values(due_at=due, next_attempt_at=due))
    await asyncio.sleep(2)  # four polls before it is due: nobody is called early
    assert (await asyncio.to_thread(store.get, db, opened.id)).status == "open"
    item = await first_attempt(lab, opened.id, timeout=60)
    (attempt,) = item.tries
    assert (attempt.outcome, item.status, item.attempts) == ("answered_ok", "done", 1)
    record = await asyncio.to_thread(lab.engine.recorder.get, attempt.call_id)
    assert (record.direction, record.flow, record.outcome) == ("outbound", "followup_call",
                                                               "goodbye")
    assert aware(record.started_at) >= due
    assert record.asterisk_uniqueid.startswith("fu-")  # the ChannelId the scheduler chose
    assert record.channel.startswith("Local/fu") and "15500000001" not in record.channel
    assert record.caller_hash == inbound.caller_hash  # the same patient called back
    assert record.caller_masked == "155******01"
    assert record.language == "zh-CN"  # the language of the inbound call
    steps = [e.step for e in record.events if e.kind == "step"]
    assert steps == ["by_kind", "intro_surgery", "check", "feeling_well", "thank_you"]
    assert [e.detail["dtmf"] for e in record.events if e.kind == "input"] == ["1"]
    noted = next(e for e in record.events if e.kind == "followup")
    assert noted.detail["followup_id"] == opened.id
    log.warning("follow-up answered: inbound call %.1f s, outbound call placed %.1f s after "
                "due, %.1f s long; %.1f s in all",
                inbound.duration_seconds, (aware(record.started_at) - due).total_seconds(),
                record.duration_seconds, time.monotonic() - started)


@pytest.mark.parametrize(("number", "outcome"), [("15500000000", "no_answer"),
                                                 ("15500000010", "busy")])
async def test_unanswered_followup_is_tried_again_later(lab, number, outcome):
    started = time.monotonic()
    now = utcnow()
    followup_id = await create(lab, number, now)
    item = await first_attempt(lab, followup_id, timeout=45)
    (attempt,) = item.tries
    assert (attempt.outcome, attempt.call_id) == (outcome, None)  # no call ever started
    assert (item.status, item.attempts, item.last_outcome) == ("open", 1, outcome)
    assert aware(item.next_attempt_at) >= now + dt.timedelta(minutes=30)  # retry_after[0]
    assert lab.engine.scheduler.live == {} or followup_id not in lab.engine.scheduler.live
    log.warning("follow-up %s: outcome recorded %.1f s after it fell due", outcome,
                time.monotonic() - started)


async def test_a_clinic_cancelled_by_staff_is_told_by_an_outbound_call(lab):
    """Staff cancel an appointment booked from the patient's phone (its number kept
    sealed, as the book step keeps it): ivr/notices/calls.py opens an appointment_change
    follow-up due now, the scheduler calls the patient through Asterisk, the call's
    notices step tells the change to the number dialled (the engine's leg shows the
    hospital's caller id, not the patient's) and the patient presses 1."""
    from ivr.notices.calls import call_about
    from ivr.schedule import PatientRef, number_context
    from ivr.schedule.importing import add_slots, read_rows
    from ivr.schedule.spoken import ZONE
    from ivr.schedule.tables import TableSchedule

    started = time.monotonic()
    recorder, number = lab.engine.recorder, "15500000001"
    start = (utcnow() + dt.timedelta(days=3)).astimezone(ZONE).replace(
        hour=9, minute=0, second=0, microsecond=0)
    rows, problems = read_rows("clinic,department,clinician,start,minutes\n"
                               f"E2E Clinic,gastroenterology,Dr E2E,{start:%Y-%m-%d %H:%M},20\n")
    assert problems == []
    add_slots(recorder.engine, rows, "e2e")
    schedule = TableSchedule(recorder.engine)
    (slot,) = [s for s, b in schedule.listing("gastroenterology")
               if s.clinician == "Dr E2E" and b is None]
    phone = recorder.privacy.caller_hash(number)
    booking = schedule.book(slot.id, PatientRef(
        phone, recorder.privacy.display_number(number), None,
        recorder.privacy.seal_number(number, number_context(phone))), "phone")
    schedule.cancel(booking.id, "staff:e2e")

    done = await call_about(recorder, booking.id, "staff:e2e")
    assert done.result == "opened"
    item = await first_attempt(lab, done.followup_id, timeout=60)
    (attempt,) = item.tries
    assert (attempt.outcome, item.status) == ("answered_ok", "done")
    record = await asyncio.to_thread(recorder.get, attempt.call_id)
    assert (record.direction, record.outcome, record.caller_masked) == (
        "outbound", "goodbye", "155******01")
    steps = [e.step for e in record.events if e.kind == "step"]
    assert steps == ["by_kind", "intro_appointment", "appointment_notices",
                     "appointment_check", "appointment_understood", "appointment_thanks"]
    (told,) = [e for e in record.events if e.kind == "notices"]
    assert told.detail["told"] == [f"cancelled:{booking.id}"]
    log.warning("appointment change told by an outbound call %.1f s after the cancel "
                "(call %.1f s long)", time.monotonic() - started, record.duration_seconds)

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

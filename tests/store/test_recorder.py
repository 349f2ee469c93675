"""Call records: written step by step, masked, closed exactly once; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import FollowUp, utcnow
from ivr.store.recorder import CallRecorder


def recorder(db_url, privacy, tmp_path):
    return CallRecorder(db_url, privacy, journal_path=tmp_path / "journal" / "records.jsonl")


async def test_events_are_visible_before_the_call_ends(db_url, privacy, tmp_path):
    rec = recorder(db_url, privacy, tmp_path)
    seen = []
    rec.listeners.append(lambda uid, cid, e: seen.append((uid, e.kind)))
    call_id = await rec.start("1700.1", "PJSIP/t-1", "13800138000", "main", "abc")
    await rec.event(call_id, "step", "welcome", type="say")
    # written behind the call: once the batch is out, a second reader (another process,
    # a report) sees it mid-call
    await rec.flush()
    other = recorder(db_url, privacy, tmp_path)
    mid = other.get(call_id)
    assert mid.ended_at is None and [e.kind for e in mid.events] == ["start", "step"]
    assert mid.caller_masked == "138******00"
    assert mid.caller_hash == privacy.caller_hash("13800138000")
    await rec.update(call_id, outcome="answered", agent="PJSIP/1001")
    await rec.finish(call_id, "caller_hangup")
    done = other.get(call_id)
    assert done.outcome == "answered"  # a later hangup does not erase who answered
    assert done.ended_at is not None and done.duration_seconds >= 0
    assert [e.seq for e in done.events] == [1, 2, 3]
    assert seen[0] == ("1700.1", "start") and seen[-1] == ("1700.1", "end")
    assert other.by_uniqueid("1700.1").id == call_id
    rec.close()
    other.close()


async def test_text_is_masked_and_followups_keep_the_number_sealed(db_url, privacy, tmp_path):
    rec = recorder(db_url, privacy, tmp_path)
    call_id = await rec.start("1700.2", "PJSIP/t-2", "13900139000", "main", "abc")
    await rec.event(call_id, "turn", "ask", text="call me on 13900139000", heard="13900139000")
    due = utcnow() + timedelta(days=1)
    followup_id = await rec.create_followup(
        number="13900139000", kind="medication", flow="followup_medication", due_at=due,
        deadline_at=due + timedelta(days=2), reason="dose for 13900139000", call_id=call_id)
    await rec.finish(call_id, "goodbye")

    record = rec.get(call_id)
    turn = record.events[1]
    assert turn.text == "call me on [number]" and turn.detail == {"heard": "[number]"}
    with Session(rec.engine) as s:
        followup = s.scalar(select(FollowUp).where(FollowUp.id == followup_id))
    assert followup.call_id == call_id and followup.reason == "dose for [number]"
    assert privacy.open_number(followup.number_sealed, followup_id) == "13900139000"
    assert followup.next_attempt_at == followup.due_at
    rec.close()


async def test_repeat_callers_are_counted_by_hash(db_url, privacy, tmp_path):
    rec = recorder(db_url, privacy, tmp_path)
    for n in range(3):
        call_id = await rec.start(f"1700.{n}", "PJSIP/t", "138-0013-8000", "main", "abc")
        await rec.finish(call_id, "goodbye")
    assert rec.history("13800138000").calls_24h == 3
    assert rec.history("13800138001").calls_24h == 0
    assert rec.history("13800138000", now=utcnow() + timedelta(days=2)).calls_24h == 0
    rec.close()


async def test_writes_apply_once_even_when_repeated(db_url, privacy, tmp_path):
    """Every operation is idempotent: what lets the journal replay without doubles."""
    rec = recorder(db_url, privacy, tmp_path)
    ops = []
    rec.submit, submit = ops.append, rec.submit  # capture the operations a call makes
    call_id = await rec.start("1700.9", "PJSIP/t-9", "13800138000", "main", "abc")
    await rec.event(call_id, "step", "welcome")
    await rec.update(call_id, outcome="routed", queue="pharmacy")
    rec.submit = submit
    assert [op["op"] for op in ops] == ["start", "event", "event", "update"]
    for op in ops + ops:
        rec.write(op)
    record = rec.get(call_id)
    assert [e.seq for e in record.events] == [1, 2]
    assert record.outcome == "routed" and record.queue == "pharmacy"
    rec.close()

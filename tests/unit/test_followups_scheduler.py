"""The scheduler with a fake Originate and a clock: what it calls, when, how many at
once, and what it records for each answer Asterisk gives."""

import asyncio
import datetime as dt
import logging

import pytest

from ivr.followups import store
from ivr.followups.scheduler import FollowupScheduler, OutboundCall, ami_originate
from ivr.settings import FollowupSettings
from ivr.store.models import aware
from ivr.telephony.errors import AmiError

# Tuesday 2026-09-29 10:00 in Shanghai.
T0 = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)
NUMBER = "13800138000"


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


class FakeAsterisk:
    """Collects Originate requests; the test answers them as AMI would."""

    def __init__(self, fail_with=None):
        self.calls: list[OutboundCall] = []
        self.fail_with = fail_with

    async def __call__(self, call):
        if self.fail_with:
            raise self.fail_with
        self.calls.append(call)

    @staticmethod
    def response(call, success, reason):
        return {"Event": "OriginateResponse", "Response": "Success" if success else "Failure",
                "Reason": reason, "Uniqueid": call.channel_id, "Channel": call.dial_string}


def settings(**over):
    base = {"poll_seconds": 0.05, "max_concurrent": 2, "ring_seconds": 0.2,
            "hours": {"mon-fri": ["09:00-20:00"]}, "retry_after": ["30m", "2h"]}
    return FollowupSettings(**{**base, **over})


def scheduler(recorder, asterisk, clock=None, **kw):
    sched = FollowupScheduler(recorder.engine, kw.pop("settings", settings()), asterisk,
                              recorder.privacy.open_number, clock=clock or Clock(), **kw)
    sched.response_margin = 0.1
    sched.answer_grace = 0.2
    return sched


async def new(rec, number=NUMBER, due=T0, **kw):
    return await rec.create_followup(number=number, kind="post_surgery", flow="followup_call",
                                     due_at=due, deadline_at=due + dt.timedelta(days=3), **kw)


async def settle(sched):
    """Wait until the calls the scheduler follows are over."""
    for _ in range(200):
        if not sched.live:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"calls still live: {list(sched.live)}")


async def test_a_due_item_is_dialled_through_the_outbound_context(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    assert await sched.poll() == [fid]
    (call,) = ast.calls
    assert call.dial_string == f"Local/fu{fid.replace('-', '')[:12]}@ivr-outbound-dial"
    assert (call.followup_id, call.flow, call.masked) == (fid, "followup_call", "138******00")
    assert call.channel_id.startswith("fu-") and call.ring_seconds == 0.2
    assert NUMBER not in repr(call)
    assert store.get(recorder.engine, fid).status == "calling"
    assert await sched.poll() == []  # claimed: never twice
    sched.on_originate_response(None, FakeAsterisk.response(call, False, "1"))
    await settle(sched)


async def test_the_number_travels_as_a_variable_never_in_the_channel_name():
    sent = {}

    class Ami:
        async def originate(self, **kw):
            sent.update(kw)
    call = OutboundCall(followup_id="0f1e2d3c-aaaa-bbbb", number=NUMBER, masked="138******00",
                        flow="followup_call", channel_id="fu-1", ring_seconds=45,
                        caller_id='"City Hospital" <02088880000>', engine="10.0.0.7:4573")
    await ami_originate(Ami())(call)
    assert sent == {
        "channel": "Local/fu0f1e2d3caaaa@ivr-outbound-dial", "context": "ivr-outbound",
        "exten": "s", "caller_id": '"City Hospital" <02088880000>', "channel_id": "fu-1",
        "timeout_ms": 45000, "variables": {"FOLLOWUP_ID": "0f1e2d3c-aaaa-bbbb",
                                           "FOLLOWUP_FLOW": "followup_call",
                                           "FOLLOWUP_NUMBER": NUMBER,
                                           "FOLLOWUP_ENGINE": "10.0.0.7:4573"}}


@pytest.mark.parametrize(("reason", "outcome"), [("5", "busy"), ("3", "no_answer"),
                                                 ("1", "no_answer"), ("8", "failed"),
                                                 ("0", "failed")])
async def test_unanswered_calls_are_tried_again_after_the_backoff(recorder, reason, outcome):
    fid = await new(recorder)
    ast = FakeAsterisk()
    clock = Clock()
    sched = scheduler(recorder, ast, clock)
    await sched.poll()
    sched.on_originate_response(None, FakeAsterisk.response(ast.calls[0], False, reason))
    await settle(sched)
    item = store.get(recorder.engine, fid)
    assert (item.status, item.attempts, item.last_outcome) == ("open", 1, outcome)
    assert aware(item.next_attempt_at) == T0 + dt.timedelta(minutes=30)
    clock.now = T0 + dt.timedelta(minutes=29)
    assert await sched.poll() == []
    clock.now = T0 + dt.timedelta(minutes=30)
    assert await sched.poll() == [fid]
    sched.on_originate_response(None, FakeAsterisk.response(ast.calls[1], False, reason))
    await settle(sched)


async def test_answered_call_keeps_its_slot_until_the_route_ends_it(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    await sched.poll()
    sched.on_originate_response(None, FakeAsterisk.response(ast.calls[0], True, "4"))
    assert sched.call_started(fid) is True
    await asyncio.sleep(0.5)  # longer than ring time, margin and grace: still in the call
    assert fid in sched.live
    store.record_attempt(recorder.engine, fid, "answered_ok", "call-1", now=T0)  # the route
    sched.call_ended(fid)
    await settle(sched)
    item = store.get(recorder.engine, fid)
    assert (item.status, [a.outcome for a in item.tries]) == ("done", ["answered_ok"])


async def test_the_route_may_start_before_asterisk_reports_the_answer(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    await sched.poll()
    sched.call_started(fid)
    await asyncio.sleep(0.4)
    assert fid in sched.live
    sched.call_ended(fid)
    await settle(sched)
    assert store.get(recorder.engine, fid).tries == []  # nothing recorded by the scheduler


async def test_answered_but_never_taken_by_the_engine_goes_to_staff(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    await sched.poll()
    sched.on_originate_response(None, FakeAsterisk.response(ast.calls[0], True, "4"))
    await settle(sched)
    item = store.get(recorder.engine, fid)
    assert (item.status, item.last_outcome) == ("failed", "operator_fallback")


async def test_no_word_from_asterisk_counts_as_failed(recorder):
    fid = await new(recorder)
    sched = scheduler(recorder, FakeAsterisk())
    await sched.poll()
    await settle(sched)
    item = store.get(recorder.engine, fid)
    assert (item.status, item.last_outcome) == ("open", "failed")


async def test_originate_refused_by_ami_is_retried(recorder):
    fid = await new(recorder)
    sched = scheduler(recorder, FakeAsterisk(fail_with=AmiError("Originate failed: nope")))
    assert await sched.poll() == []
    item = store.get(recorder.engine, fid)
    assert (item.status, item.last_outcome, item.attempts) == ("open", "failed", 1)
    assert not sched.live


async def test_a_number_that_cannot_be_unsealed_goes_to_staff(recorder):
    fid = await new(recorder)

    def broken(_blob, _context):
        raise ValueError("key gone")
    sched = FollowupScheduler(recorder.engine, settings(), FakeAsterisk(), broken, clock=Clock())
    assert await sched.poll() == []
    item = store.get(recorder.engine, fid)
    assert (item.status, item.last_outcome) == ("failed", "number_unreadable")


@pytest.mark.parametrize("now", [
    dt.datetime(2026, 9, 29, 0, 59, tzinfo=dt.UTC),  # 08:59 in Shanghai
    dt.datetime(2026, 9, 29, 12, 0, tzinfo=dt.UTC),  # 20:00
    dt.datetime(2026, 10, 3, 2, 0, tzinfo=dt.UTC),  # Saturday
])
async def test_nobody_is_called_outside_the_calling_window(recorder, now):
    await new(recorder, due=now - dt.timedelta(hours=1))
    ast = FakeAsterisk()
    assert await scheduler(recorder, ast, Clock(now)).poll() == []
    assert ast.calls == []


async def test_nobody_is_called_while_ami_is_down_or_the_override_is_on(recorder):
    await new(recorder)
    ast = FakeAsterisk()
    assert await scheduler(recorder, ast, ready=lambda: False).poll() == []
    assert await scheduler(recorder, ast, paused=lambda: True).poll() == []
    assert ast.calls == []


async def test_at_most_max_concurrent_calls_at_once(recorder):
    ids = [await new(recorder, number=f"1380013800{i}", due=T0 - dt.timedelta(minutes=3 - i))
           for i in range(3)]
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    assert await sched.poll() == ids[:2]  # the longest waiting first
    assert await sched.poll() == []
    sched.on_originate_response(None, FakeAsterisk.response(ast.calls[0], False, "5"))
    await asyncio.sleep(0.05)
    assert await sched.poll() == [ids[2]]
    for call in ast.calls[1:]:
        sched.on_originate_response(None, FakeAsterisk.response(call, False, "5"))
    await settle(sched)


async def test_two_schedulers_on_one_database_call_each_patient_once(recorder):
    ids = {await new(recorder, number=f"1390013900{i}") for i in range(4)}
    ast_a, ast_b = FakeAsterisk(), FakeAsterisk()
    a = scheduler(recorder, ast_a, settings=settings(max_concurrent=4))
    b = scheduler(recorder, ast_b, settings=settings(max_concurrent=4))
    placed_a, placed_b = await asyncio.gather(a.poll(), b.poll())
    assert set(placed_a) | set(placed_b) == ids
    assert not set(placed_a) & set(placed_b)
    assert len(ast_a.calls) + len(ast_b.calls) == 4
    for sched, ast in ((a, ast_a), (b, ast_b)):
        for call in ast.calls:
            sched.on_originate_response(None, FakeAsterisk.response(call, False, "3"))
        await settle(sched)


async def test_responses_for_other_calls_are_ignored(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    await sched.poll()
    sched.on_originate_response(None, {"Response": "Failure", "Reason": "5",
                                       "Uniqueid": "someone-else", "Channel": "PJSIP/1001"})
    assert not sched.live[fid].response.done()
    # matched on the channel when Asterisk gives no uniqueid
    sched.on_originate_response(None, {"Response": "Failure", "Reason": "5",
                                       "Uniqueid": "<null>", "Channel": ast.calls[0].dial_string})
    await settle(sched)
    assert store.get(recorder.engine, fid).last_outcome == "busy"


async def test_the_number_is_never_logged(recorder, caplog):
    await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    with caplog.at_level(logging.DEBUG):
        await sched.poll()
        sched.on_originate_response(None, FakeAsterisk.response(ast.calls[0], False, "3"))
        await settle(sched)
    assert "138******00" in caplog.text
    assert NUMBER not in caplog.text


async def test_the_running_loop_places_calls_and_stops_cleanly(recorder):
    fid = await new(recorder)
    ast = FakeAsterisk()
    sched = scheduler(recorder, ast)
    sched.start()
    try:
        for _ in range(100):
            if ast.calls:
                break
            await asyncio.sleep(0.01)
        assert [c.followup_id for c in ast.calls] == [fid]
    finally:
        await sched.stop()
    assert sched._task is None

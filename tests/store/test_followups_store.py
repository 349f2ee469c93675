"""Follow-ups in the database (SQLite and PostgreSQL): due, claimed once even by engines
racing for it, attempts and retries, the staff list."""

import datetime as dt
import threading

import pytest

from ivr.followups import outcomes as o
from ivr.followups import store
from ivr.privacy.records import records_privacy
from ivr.store.models import aware
from ivr.store.recorder import CallRecorder, make_engine

T0 = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)
RETRY = [dt.timedelta(minutes=30), dt.timedelta(hours=2)]


@pytest.fixture
def recorder(db_url, tmp_path):
    rec = CallRecorder(db_url, privacy=records_privacy(tmp_path),
                       recordings_dir=tmp_path / "recordings")
    yield rec
    rec.close()


async def new(rec, number="13800138000", due=T0, deadline=dt.timedelta(days=3), **kw):
    return await rec.create_followup(number=number, kind=kw.pop("kind", "post_surgery"),
                                     flow="followup_call", due_at=due,
                                     deadline_at=due + deadline, **kw)


async def test_due_lists_open_items_whose_time_has_come_oldest_first(recorder):
    late = await new(recorder, due=T0 - dt.timedelta(hours=1))
    now_ = await new(recorder, due=T0)
    await new(recorder, due=T0 + dt.timedelta(seconds=1))  # not yet
    cancelled = await new(recorder, due=T0 - dt.timedelta(hours=2))
    store.cancel(recorder.engine, cancelled, by="nurse.li", now=T0)
    assert [f.id for f in store.due(recorder.engine, T0)] == [late, now_]
    assert [f.id for f in store.due(recorder.engine, T0, limit=1)] == [late]


async def test_claim_wins_once(recorder):
    fid = await new(recorder)
    assert store.claim(recorder.engine, fid, T0) is True
    assert store.claim(recorder.engine, fid, T0) is False
    item = store.get(recorder.engine, fid)
    assert item.status == store.CALLING
    assert aware(item.next_attempt_at) == T0 + store.DEFAULT_LEASE  # the lease
    assert store.due(recorder.engine, T0) == []


async def test_claim_refuses_an_item_not_yet_due(recorder):
    fid = await new(recorder, due=T0 + dt.timedelta(minutes=5))
    assert store.claim(recorder.engine, fid, T0) is False


async def test_two_engines_claiming_at_once_call_the_patient_once(recorder, db_url):
    fid = await new(recorder)
    engines = [make_engine(db_url) for _ in range(6)]
    start = threading.Barrier(len(engines))
    won = []

    def race(engine):
        start.wait()
        won.append(store.claim(engine, fid, T0))

    threads = [threading.Thread(target=race, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 5 + [True]
    for e in engines:
        e.dispose()


async def test_no_answer_retries_after_the_backoff_then_fails(recorder):
    fid = await new(recorder, max_attempts=3)
    db = recorder.engine
    assert store.claim(db, fid, T0)
    first = store.record_attempt(db, fid, o.NO_ANSWER, now=T0, retry_after=RETRY)
    assert (first.status, first.attempts, first.last_outcome) == ("open", 1, "no_answer")
    assert aware(first.next_attempt_at) == T0 + dt.timedelta(minutes=30)
    t1 = T0 + dt.timedelta(minutes=30)
    assert store.claim(db, fid, t1)
    second = store.record_attempt(db, fid, o.BUSY, now=t1, retry_after=RETRY)
    assert aware(second.next_attempt_at) == t1 + dt.timedelta(hours=2)
    t2 = t1 + dt.timedelta(hours=2)
    assert store.claim(db, fid, t2)
    third = store.record_attempt(db, fid, o.NO_ANSWER, now=t2, retry_after=RETRY)
    assert (third.status, third.attempts) == ("failed", 3)
    item = store.get(db, fid)
    assert [a.outcome for a in item.tries] == ["no_answer", "busy", "no_answer"]


def test_the_last_backoff_repeats():
    assert store.retry_delay(5, RETRY) == dt.timedelta(hours=2)
    assert store.retry_delay(1, RETRY) == dt.timedelta(minutes=30)


async def test_patient_well_closes_the_item_and_links_the_call(recorder):
    fid = await new(recorder)
    store.claim(recorder.engine, fid, T0)
    done = store.record_attempt(recorder.engine, fid, o.ANSWERED_OK, "call-1", now=T0)
    assert (done.status, aware(done.closed_at)) == ("done", T0)
    assert store.get(recorder.engine, fid).tries[0].call_id == "call-1"


@pytest.mark.parametrize("outcome", [o.NURSE_UNREACHED, o.EMERGENCY_UNREACHED,
                                     o.OPERATOR_FALLBACK, "something_a_flow_made_up"])
async def test_outcomes_a_person_must_handle_go_to_staff_at_once(recorder, outcome):
    fid = await new(recorder)
    store.claim(recorder.engine, fid, T0)
    item = store.record_attempt(recorder.engine, fid, outcome, now=T0)
    assert (item.status, item.attempts) == ("failed", 1)
    assert [f.id for f in store.overdue(recorder.engine, T0)] == [fid]


async def test_an_outcome_after_staff_closed_it_does_not_reopen_it(recorder):
    fid = await new(recorder)
    store.claim(recorder.engine, fid, T0)
    store.close(recorder.engine, fid, by="nurse.li", note="spoke to the patient", now=T0)
    item = store.record_attempt(recorder.engine, fid, o.NO_ANSWER, now=T0)
    assert item.status == "done" and item.last_outcome == "no_answer"


async def test_a_good_outcome_still_closes_an_item_waiting_for_staff(recorder):
    fid = await new(recorder)
    store.record_attempt(recorder.engine, fid, o.OPERATOR_FALLBACK, now=T0)
    assert store.record_attempt(recorder.engine, fid, o.NO_ANSWER, now=T0).status == "failed"
    assert store.record_attempt(recorder.engine, fid, o.ANSWERED_OK, now=T0).status == "done"


async def test_an_expired_lease_counts_as_a_lost_attempt(recorder):
    fid = await new(recorder)
    other = await new(recorder)
    lease = dt.timedelta(minutes=10)
    assert store.claim(recorder.engine, fid, T0, lease)
    assert store.claim(recorder.engine, other, T0, lease)
    assert store.expire_leases(recorder.engine, T0 + dt.timedelta(minutes=9)) == []
    later = T0 + dt.timedelta(minutes=10)
    assert store.expire_leases(recorder.engine, later, RETRY, keep={other}) == [fid]
    item = store.get(recorder.engine, fid)
    assert (item.status, item.attempts, item.last_outcome) == ("open", 1, "lost")
    assert aware(item.next_attempt_at) == later + dt.timedelta(minutes=30)
    assert store.get(recorder.engine, other).status == "calling"


async def test_overdue_lists_failed_items_and_unfinished_ones_past_their_deadline(recorder):
    db = recorder.engine
    past = await new(recorder, due=T0 - dt.timedelta(days=4))  # deadline T0 - 1 day
    calling = await new(recorder, due=T0 - dt.timedelta(days=5))
    store.claim(db, calling, T0)
    failed = await new(recorder)
    store.record_attempt(db, failed, o.NURSE_UNREACHED, now=T0)
    await new(recorder)  # open, deadline ahead
    finished = await new(recorder, due=T0 - dt.timedelta(days=9))
    store.close(db, finished, by="nurse.li", now=T0)
    assert {f.id for f in store.overdue(db, T0)} == {past, calling, failed}
    assert len(store.unfinished(db)) == 4


async def test_close_and_cancel_keep_who_and_why(recorder):
    db = recorder.engine
    fid = await new(recorder, reason="knee surgery")
    closed = store.close(db, fid, by="nurse.li", note="patient came to clinic", now=T0)
    assert closed.status == "done" and closed.last_outcome == "closed_by_staff"
    assert closed.reason.splitlines() == [
        "knee surgery", "[closed 2026-09-29 02:00 UTC by nurse.li: patient came to clinic]"]
    with pytest.raises(store.FollowupError, match="already done"):
        store.cancel(db, fid, by="nurse.li")
    other = await new(recorder)
    assert store.cancel(db, other, by="dr.wang", now=T0).status == "cancelled"
    with pytest.raises(store.FollowupError, match="no follow-up"):
        store.close(db, "nope", by="x")


async def test_find_by_the_start_of_the_id(recorder):
    fid = await new(recorder)
    assert store.find(recorder.engine, fid[:8].upper()).id == fid
    with pytest.raises(store.FollowupError, match="at least 4"):
        store.find(recorder.engine, fid[:3])
    with pytest.raises(store.FollowupError, match="no follow-up"):
        store.find(recorder.engine, "ffff-not-there")


async def test_listing_shows_the_masked_number_only(recorder):
    fid = await new(recorder, number="13912345678")
    shown = store.as_dict(store.get(recorder.engine, fid), T0)
    assert shown["number"] == "139******78"
    assert "13912345678" not in repr(shown)
    assert shown["next_attempt_at"] == T0.isoformat() and shown["overdue"] is False

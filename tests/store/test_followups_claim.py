"""Two engines' follow-up schedulers on one database (SQLite and a real PostgreSQL):
racing for the same due list, each patient is called once; a stopped engine's claim
is taken back after its lease; a live engine's claim is not."""

import asyncio
import datetime as dt

import pytest

from ivr.followups import outcomes as o
from ivr.followups import store
from ivr.followups.scheduler import FollowupScheduler, OutboundCall
from ivr.privacy.records import records_privacy
from ivr.settings import FollowupSettings
from ivr.store.recorder import CallRecorder, make_engine

T0 = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Shanghai


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Asterisk:
    """An Originate that never answers by itself: the test says what AMI replied."""

    def __init__(self) -> None:
        self.calls: list[OutboundCall] = []

    async def __call__(self, call: OutboundCall) -> None:
        await asyncio.sleep(0)  # let the other engine's poll run in between
        self.calls.append(call)

    def busy(self, sched: FollowupScheduler) -> None:
        for call in self.calls:
            sched.on_originate_response(None, {
                "Event": "OriginateResponse", "Response": "Failure", "Reason": "5",
                "Uniqueid": call.channel_id, "Channel": call.dial_string})


@pytest.fixture
def recorder(db_url, tmp_path):
    rec = CallRecorder(db_url, privacy=records_privacy(tmp_path),
                       recordings_dir=tmp_path / "recordings")
    yield rec
    rec.close()


@pytest.fixture
def engines(db_url):
    """Each scheduler on its own connection pool, as two engine processes would be."""
    made = [make_engine(db_url) for _ in range(2)]
    yield made
    for engine in made:
        engine.dispose()


def scheduler(db, rec, asterisk, clock, **over) -> FollowupScheduler:
    values = {"poll_seconds": 0.05, "max_concurrent": 3, "ring_seconds": 0.2,
              "hours": {"mon-fri": ["09:00-20:00"]}, "retry_after": ["30m"],
              "call_lease": "10m", **over}
    sched = FollowupScheduler(db, FollowupSettings(**values), asterisk,
                              rec.privacy.open_number, clock=clock)
    sched.response_margin = 0.1
    sched.answer_grace = 0.2
    return sched


async def new(rec, i: int, due: dt.datetime = T0) -> str:
    return await rec.create_followup(number=f"139{i:08d}", kind="post_surgery",
                                     flow="followup_call", due_at=due,
                                     deadline_at=due + dt.timedelta(days=3))


async def settle(*scheds: FollowupScheduler) -> None:
    for _ in range(200):
        if not any(s.live for s in scheds):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("calls still followed after 4 s")


async def test_racing_schedulers_call_each_patient_once(recorder, engines):
    ids = {await new(recorder, i, T0 - dt.timedelta(minutes=i)) for i in range(24)}
    clock = Clock()
    ast_a, ast_b = Asterisk(), Asterisk()
    # the test answers each round's calls itself (busy): a long ring window, so a busy
    # machine's slow poll never turns a call into "no word from Asterisk"
    a = scheduler(engines[0], recorder, ast_a, clock, ring_seconds=5)
    b = scheduler(engines[1], recorder, ast_b, clock, ring_seconds=5)
    placed_a: list[str] = []
    placed_b: list[str] = []
    for _ in range(20):  # bounded: 24 follow-ups, up to 6 calls per round
        got_a, got_b = await asyncio.gather(a.poll(), b.poll())
        placed_a += got_a
        placed_b += got_b
        ast_a.busy(a)
        ast_b.busy(b)
        await settle(a, b)
        if len(placed_a) + len(placed_b) >= len(ids):
            break
    assert sorted(placed_a + placed_b) == sorted(ids)  # every one, none twice
    assert placed_a and placed_b  # both engines took a share
    for fid in ids:
        item = store.get(recorder.engine, fid)
        assert (item.attempts, item.last_outcome, item.status) == (1, o.BUSY, store.OPEN)
        assert len(item.tries) == 1


async def test_claim_due_hands_each_row_to_one_claimant(recorder, engines):
    ids = {await new(recorder, i) for i in range(10)}
    first, second = await asyncio.gather(
        asyncio.to_thread(store.claim_due, engines[0], T0, 10),
        asyncio.to_thread(store.claim_due, engines[1], T0, 10))
    got = [f.id for f in first] + [f.id for f in second]
    assert sorted(got) == sorted(ids)
    assert all(f.status == store.CALLING for f in [*first, *second])
    assert store.claim_due(engines[0], T0, 10) == []


async def test_a_stopped_engines_call_is_taken_back_after_its_lease(recorder, engines):
    fid = await new(recorder, 1)
    clock = Clock()
    ast_a, ast_b = Asterisk(), Asterisk()
    a = scheduler(engines[0], recorder, ast_a, clock, ring_seconds=30)
    b = scheduler(engines[1], recorder, ast_b, clock)
    assert await a.poll() == [fid]
    await a.stop()  # engine A is gone mid-call: its claim stays in the database
    clock.now = T0 + dt.timedelta(minutes=9)
    assert await b.poll() == []  # still within A's lease
    clock.now = T0 + dt.timedelta(minutes=11)
    assert await b.poll() == []  # taken back as a lost attempt, due again after 30 min
    item = store.get(recorder.engine, fid)
    assert (item.status, item.last_outcome, item.attempts) == (store.OPEN, o.LOST, 1)
    clock.now = T0 + dt.timedelta(minutes=42)
    assert await b.poll() == [fid]  # and B calls the patient
    ast_b.busy(b)
    await settle(b)


async def test_a_live_engine_keeps_its_call_by_renewing_the_lease(recorder, engines):
    fid = await new(recorder, 2)
    clock = Clock()
    ast_a, ast_b = Asterisk(), Asterisk()
    a = scheduler(engines[0], recorder, ast_a, clock, ring_seconds=30)
    b = scheduler(engines[1], recorder, ast_b, clock)
    try:
        assert await a.poll() == [fid]
        for minutes in (6, 12, 18, 24):  # a long conversation, A polling all along
            clock.now = T0 + dt.timedelta(minutes=minutes)
            await a.poll()
            assert await b.poll() == []
        item = store.get(recorder.engine, fid)
        assert (item.status, item.attempts) == (store.CALLING, 0)
        assert ast_b.calls == []
    finally:
        await a.stop()

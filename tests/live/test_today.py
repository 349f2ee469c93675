"""Today's figures from call rows as the recorder writes them (literal rows, SQLite)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from ivr.live.today import day_bounds, today_figures
from ivr.store.database import make_engine, migrate
from ivr.store.models import Call, CallEvent, Drill, QueueResult

TZ = "Asia/Shanghai"
# 2026-12-02 10:00 in Shanghai; that local day runs from 12-01 16:00 to 12-02 16:00 UTC
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    migrate(engine)
    yield engine
    engine.dispose()


def add_call(s, call_id, started, *, queue="cardiology", outcome=None, hold=None,
             events=(), stints=()):
    s.add(Call(id=call_id, asterisk_uniqueid=call_id, flow="main", started_at=started,
               queue=queue, outcome=outcome, hold_seconds=hold,
               ended_at=started + timedelta(minutes=5) if outcome else None))
    for seq, (kind, after) in enumerate(events, 1):
        s.add(CallEvent(call_id=call_id, seq=seq, at=started + timedelta(seconds=after),
                        kind=kind, detail={}))
    for seq, status in enumerate(stints, 100):
        s.add(QueueResult(call_id=call_id, seq=seq, at=started, queue=queue, status=status))


def test_service_level_abandonment_and_longest_wait(db):
    t = NOW - timedelta(hours=1)
    with Session(db) as s, s.begin():
        # answered 12 s after the hand-over: in time (the 30 s in the flow do not count)
        add_call(s, "a1", t, outcome="answered", hold=12,
                 events=[("route", 30), ("ami:AgentConnect", 42)], stints=["ANSWERED"])
        # overflowed (TIMEOUT in cardiology), answered by the operator 50 s after the first
        # hand-over: late, though Asterisk's hold time in the operator queue was 5 s
        add_call(s, "a2", t, outcome="answered", hold=5,
                 events=[("route", 10), ("route", 45), ("ami:AgentConnect", 60)],
                 stints=["TIMEOUT", "ANSWERED"])
        # answered while AMI was away: Asterisk's hold time stands in
        add_call(s, "a3", t, outcome="answered", hold=8)
        # hung up while waiting, 95 s after the hand-over
        add_call(s, "h1", t, outcome="caller_hangup",
                 events=[("route", 5), ("hangup", 100), ("end", 101)])
        add_call(s, "w1", t, events=[("route", 5)])  # waiting now: offered, in neither
        add_call(s, "x1", t, queue="ext:1001", outcome="answered")  # an extension: not queued
        add_call(s, "m1", t, queue=None, outcome="completed")  # the flow served it
        add_call(s, "y1", NOW - timedelta(hours=11), outcome="answered", hold=300)  # yesterday
        add_call(s, "d1", t, outcome="caller_hangup", events=[("route", 5), ("hangup", 400)])
        s.add(Drill(scenario="emergency", passed=False, call_id="d1"))  # an ivr drill call
    f = today_figures(db, timezone=TZ, service_level_seconds=20, now=NOW)
    assert f.day == "2026-12-02"
    assert (f.offered, f.answered, f.answered_in_time, f.abandoned) == (5, 3, 2, 1)
    assert (f.service_level, f.abandonment) == (0.5, 0.25)
    assert f.longest_wait_seconds == 95.0
    assert today_figures(db, timezone=TZ, service_level_seconds=60, now=NOW).answered_in_time \
        == 3


def test_a_quiet_day_has_no_rates(db):
    f = today_figures(db, timezone=TZ, service_level_seconds=20, now=NOW)
    assert (f.offered, f.service_level, f.abandonment, f.longest_wait_seconds) == (
        0, None, None, None)


def test_the_local_day():
    day, since, until = day_bounds(NOW, ZoneInfo(TZ))
    assert (str(day), since, until) == ("2026-12-02", datetime(2026, 12, 1, 16, tzinfo=UTC),
                                       datetime(2026, 12, 2, 16, tzinfo=UTC))

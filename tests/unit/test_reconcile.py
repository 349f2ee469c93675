"""The reconciler: queue_log lines read literally, and records closed on a real SQLite
database only once their channel is gone (twice, ``confirm_seconds`` apart)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.database import make_engine, migrate
from ivr.store.models import Call, CallEvent, QueueResult
from ivr.store.reconcile import (
    RECONCILED,
    Reconciler,
    parse_line,
    read_queue_log,
    verdict,
)

T0 = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
UID = "1796188500.12"
B = int(time.time()) - 100  # the lines' times: just after the calls below started
ANSWERED_BY_OPERATOR = f"""\
{B}|{UID}|NONE|NONE|IVRFALLBACK|SUCCESS
{B}|{UID}|operator|NONE|ENTERQUEUE||13800138000|1
{B + 1}|{UID}|operator|PJSIP/1002|CONNECT|1|1796188500.13|1
{B + 3}|{UID}|operator|PJSIP/1002|COMPLETEAGENT|1|2|1
{B + 3}|{UID}|NONE|NONE|IVRFALLBACKEND||
"""
LAST_RESORT = f"""\
{B}|{UID}|NONE|NONE|IVRFALLBACK|SUCCESS
{B + 9}|{UID}|NONE|PJSIP/1004-0000002a|IVRLASTRESORT|ANSWER|4
{B + 9}|{UID}|NONE|PJSIP/1004-0000002a|IVRFALLBACKEND|ANSWER|4
"""
STARTED = datetime.fromtimestamp(B - 20, UTC)


def lines_of(text):
    return [parse_line(line) for line in text.splitlines()]


def test_a_line_is_read_field_by_field():
    line = parse_line(f"1796188501|{UID}|operator|PJSIP/1002|CONNECT|1|1796188500.13|1\n")
    assert (line.uniqueid, line.queue, line.agent, line.event) == (UID, "operator",
                                                                   "PJSIP/1002", "CONNECT")
    assert line.data == ("1", "1796188500.13", "1")
    assert line.at == datetime.fromtimestamp(1796188501, UTC)
    for junk in ("", "garbage", "17961885|torn", "x|a|b|c|d|e"):
        assert parse_line(junk) is None


def test_answered_in_the_fallback_queue():
    found = verdict(lines_of(ANSWERED_BY_OPERATOR), T0)
    assert (found.outcome, found.agent, found.queue, found.hold_seconds) == (
        "answered", "PJSIP/1002", "operator", 1)
    assert found.ended_at == datetime.fromtimestamp(B + 3, UTC)
    assert [(v.queue, v.status) for v in found.visits] == [("operator", "ANSWERED")]


def test_answered_by_the_last_resort():
    found = verdict(lines_of(LAST_RESORT), T0)
    assert (found.outcome, found.agent, found.queue) == ("answered", "PJSIP/1004",
                                                         "last_resort")


def test_left_waiting_is_abandoned_and_nothing_is_lost_or_hung_up():
    abandoned = verdict(lines_of(f"{B}|{UID}|NONE|NONE|IVRFALLBACK|SUCCESS\n"
                                 f"{B + 30}|{UID}|operator|NONE|ABANDON|1|1|30\n"), T0)
    assert (abandoned.outcome, abandoned.visits[0].status) == ("abandoned", "ABANDONED")
    hung_up = verdict(lines_of(f"{B}|{UID}|NONE|NONE|IVRFALLBACK|SUCCESS\n"), T0)
    assert hung_up.outcome == "caller_hangup"
    later = T0 + timedelta(days=3000)
    nothing = verdict([], later)
    assert (nothing.outcome, nothing.ended_at, nothing.source) == ("lost", later, "none")


def test_only_the_asked_calls_are_read(tmp_path):
    log = tmp_path / "queue_log"
    log.write_text(ANSWERED_BY_OPERATOR + "1796188600|other.1|pharmacy|NONE|ENTERQUEUE||\n"
                   "torn line without a newline|")
    found = read_queue_log(log, {UID})
    assert set(found) == {UID} and len(found[UID]) == 5
    assert read_queue_log(tmp_path / "missing", {UID}) == {}


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    migrate(engine)
    now = STARTED
    with Session(engine) as s, s.begin():
        for call_id, uniqueid in (("lost", UID), ("live", "1796188600.1"),
                                  ("done", "1796188600.2")):
            s.add(Call(id=call_id, asterisk_uniqueid=uniqueid, started_at=now,
                       ended_at=now if call_id == "done" else None,
                       outcome="routed" if call_id == "lost" else None))
        s.add(CallEvent(call_id="lost", seq=1, at=now, kind="start"))
    return engine


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_lost_call_is_closed_only_after_its_channel_stays_gone(db, tmp_path):
    log = tmp_path / "queue_log"
    log.write_text(ANSWERED_BY_OPERATOR)
    live = {"1796188600.1"}
    clock = Clock()

    async def channels():
        return set(live)

    rec = Reconciler(db, log, channels, confirm_seconds=5.0, clock=clock)
    assert asyncio.run(rec.run_once()) == []  # gone once: not yet
    clock.now = 4.0
    assert asyncio.run(rec.run_once()) == []
    clock.now = 5.0
    assert asyncio.run(rec.run_once()) == ["lost"]  # the live call stays open
    with Session(db) as s:
        lost = s.get(Call, "lost")
        assert (lost.outcome, lost.agent, lost.queue, lost.hold_seconds) == (
            "answered", "PJSIP/1002", "operator", 1)
        assert lost.ended_at is not None
        assert s.get(Call, "live").ended_at is None
        kinds = list(s.scalars(select(CallEvent.kind).where(CallEvent.call_id == "lost")
                               .order_by(CallEvent.seq)))
        assert kinds == ["start", RECONCILED]
        visits = list(s.scalars(select(QueueResult).where(QueueResult.call_id == "lost")))
        assert [(v.queue, v.status, v.agent) for v in visits] == [
            ("operator", "ANSWERED", "PJSIP/1002")]
    clock.now = 20.0
    assert asyncio.run(rec.run_once()) == []  # closed once, never again


def test_nothing_is_decided_while_asterisk_cannot_say_which_channels_live(db, tmp_path):
    async def unknown():
        return None

    clock = Clock()
    rec = Reconciler(db, tmp_path / "queue_log", unknown, confirm_seconds=0, clock=clock)
    assert asyncio.run(rec.run_once()) == []
    with Session(db) as s:
        assert s.get(Call, "lost").ended_at is None


def test_a_record_its_engine_closed_meanwhile_is_left_alone(db, tmp_path):
    async def channels():
        return set()

    clock = Clock()
    rec = Reconciler(db, tmp_path / "queue_log", channels, confirm_seconds=1, clock=clock)
    asyncio.run(rec.run_once())
    with Session(db) as s, s.begin():  # the owning engine closes it itself
        call = s.get(Call, "lost")
        call.ended_at, call.outcome = datetime.now(UTC), "goodbye"
    clock.now = 2.0
    assert "lost" not in asyncio.run(rec.run_once())
    with Session(db) as s:
        assert s.get(Call, "lost").outcome == "goodbye"


def test_a_member_named_in_queue_log_is_recorded_by_its_interface(db, tmp_path):
    """queue_log's CONNECT names the member ('Agent 1002'); the record keeps the
    interface, as the engine's own AgentConnect does."""
    log = tmp_path / "queue_log"
    log.write_text(ANSWERED_BY_OPERATOR.replace("PJSIP/1002", "Agent 1002"))

    async def channels():
        return {"1796188600.1"}

    async def interface(queue, name):
        return {("operator", "Agent 1002"): "PJSIP/1002"}.get((queue, name))

    clock = Clock()
    rec = Reconciler(db, log, channels, interface, confirm_seconds=0, clock=clock)
    assert asyncio.run(rec.run_once()) == ["lost"]
    with Session(db) as s:
        assert s.get(Call, "lost").agent == "PJSIP/1002"


def test_a_record_its_engine_handed_to_the_fallback_is_amended_with_who_answered(tmp_path):
    """The engine found every queue empty and let the dialplan take over (outcome
    'routed'); the last resort answered: the record says so once the call is over."""
    engine = make_engine(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    migrate(engine)
    now = STARTED
    with Session(engine) as s, s.begin():
        s.add(Call(id="handed", asterisk_uniqueid=UID, started_at=now, ended_at=now,
                   outcome="routed", queue="emergency"))
        s.add(Call(id="plain", asterisk_uniqueid="1796188600.3", started_at=now,
                   ended_at=now, outcome="routed"))
    log = tmp_path / "queue_log"
    log.write_text(LAST_RESORT)

    async def channels():
        return set()

    clock = Clock()
    rec = Reconciler(engine, log, channels, confirm_seconds=0, clock=clock)
    assert asyncio.run(rec.run_once()) == ["handed"]
    # 'plain' had no fallback: looked at once, not again each pass (lines written now,
    # after its channel is gone, cannot be about it)
    log.write_text(LAST_RESORT.replace(UID, "1796188600.3"))
    clock.now = 10.0
    assert asyncio.run(rec.run_once()) == []
    with Session(engine) as s:
        handed = s.get(Call, "handed")
        assert (handed.outcome, handed.agent, handed.queue) == ("answered", "PJSIP/1004",
                                                                "last_resort")
        assert s.get(Call, "plain").outcome == "routed"  # no fallback: the record stands


def test_a_long_log_is_read_from_the_calls_start_not_from_its_beginning(tmp_path):
    """queue_log is in time order: a binary search skips the months before the call
    (lines from a minute before its start on are still read)."""
    log = tmp_path / "queue_log"
    old = "".join(f"{1700000000 + i}|{UID}|pharmacy|NONE|ENTERQUEUE||x|1\n"
                  for i in range(0, 200_000, 10))  # an older call with the same id
    log.write_text(old + f"{B - 60}|other.1|NONE|NONE|IVRFALLBACK|SUCCESS\n"
                   + ANSWERED_BY_OPERATOR)
    since = datetime.fromtimestamp(B + 30, UTC)  # started 30 s after its first line
    found = read_queue_log(log, {UID}, since)
    assert [line.event for line in found[UID]] == [
        "IVRFALLBACK", "ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "IVRFALLBACKEND"]
    assert len(read_queue_log(log, {UID})[UID]) == 20_000 + 5  # without: everything


def test_calls_this_engine_is_running_cost_no_question_to_asterisk(db, tmp_path):
    asked = []

    async def channels():
        asked.append(1)
        return set()

    rec = Reconciler(db, tmp_path / "queue_log", channels, confirm_seconds=0,
                     in_progress=lambda: {"lost", "live"}, clock=Clock())
    assert asyncio.run(rec.run_once()) == [] and asked == []

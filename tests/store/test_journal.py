"""The journal: zero records lost when the database is cut mid-call (a real PostgreSQL
server, stopped abruptly), replay that can be repeated, and a torn line that is not fatal."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.store.database import make_engine, migrate
from ivr.store.journal import Journal
from ivr.store.models import Call, CallEvent, FollowUp, utcnow
from ivr.store.recorder import CallRecorder, commit_op


async def test_no_record_is_lost_when_the_database_is_cut_mid_call(pg_cluster, privacy,
                                                                   tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ivr.store")
    database = pg_cluster.create_database()
    url = pg_cluster.url(database)
    journal_path = tmp_path / "journal" / "records.jsonl"
    rec = CallRecorder(url, privacy, journal_path=journal_path)
    try:
        call_id = await rec.start("1700.1", "PJSIP/t-1", "13800138000", "main", "abc")  # 1
        await rec.event(call_id, "step", "welcome", type="say")  # 2
        await rec.event(call_id, "prompt", "ask", text="How can we help?")  # 3
        due = utcnow() + timedelta(days=1)
        followup_id = await rec.create_followup(
            number="13800138000", kind="post_surgery", flow="followup_post_surgery",
            due_at=due, deadline_at=due + timedelta(days=1), call_id=call_id)
        assert not rec.journal.pending()

        pg_cluster.stop("immediate")  # the database dies mid-call
        try:
            await rec.event(call_id, "turn", "ask", text="my wound hurts")  # 4
            await rec.event(call_id, "triage", "ask", urgency=2, department="surgery")  # 5
            assert not rec.history("13800138000").calls  # a read: no answer, no exception
            assert rec.get(call_id) is None
            await rec.event(call_id, "route", "ask", queue="surgery")  # 6
            await rec.update(call_id, outcome="answered", agent="PJSIP/1001")
            await rec.finish(call_id, "caller_hangup")  # + the end event, 7
            journalled = rec.journal.ops()
            assert [op["op"] for op in journalled] == [
                "event", "event", "event", "update", "finish", "event"]
            assert [op["seq"] for op in journalled if op["op"] == "event"] == [4, 5, 6, 7]
            assert stat.S_IMODE(journal_path.stat().st_mode) == 0o600
            assert "unreachable" in caplog.text and str(journal_path) in caplog.text
        finally:
            pg_cluster.start()

        # the next write (another call) replays the backlog first, then goes to the database
        rec.replay_interval = 0
        second = await rec.start("1700.2", "PJSIP/t-2", "13900139000", "main", "abc")
        await rec.flush()  # written behind the call: wait until it is
        assert not rec.journal.pending()
        assert "backlog replayed" in caplog.text and "6 applied, 0 rejected, 0 left" in caplog.text
        assert (await rec.drain()).applied == 0  # nothing left, nothing twice

        engine = make_engine(url)
        with Session(engine) as s:
            seqs = s.execute(select(CallEvent.seq, func.count()).where(
                CallEvent.call_id == call_id).group_by(CallEvent.seq).order_by(CallEvent.seq))
            assert [tuple(row) for row in seqs] == [(n, 1) for n in range(1, 8)]
            call = s.get(Call, call_id)
            assert call.outcome == "answered" and call.agent == "PJSIP/1001"
            assert call.ended_at is not None and call.urgency == 2
            assert s.get(FollowUp, followup_id).call_id == call_id
            assert s.get(Call, second) is not None
        engine.dispose()
    finally:
        rec.close()
        pg_cluster.drop_database(database)


def _call_ops(call_id: str, events: int) -> list[dict]:
    at = "2025-01-01T10:00:00+00:00"
    ops: list[dict] = [{"op": "start", "call_id": call_id, "uniqueid": "1.1",
                        "channel": "PJSIP/x", "caller_hash": "h", "caller_masked": "138******00",
                        "flow": "main", "flow_version": "v", "at": at}]
    ops += [{"op": "event", "call_id": call_id, "seq": n, "kind": "step", "step": f"s{n}",
             "text": "", "detail": {"n": n}, "at": at} for n in range(1, events + 1)]
    ops.append({"op": "finish", "call_id": call_id, "outcome": "goodbye", "fields": {},
                "at": "2025-01-01T10:01:00+00:00"})
    return ops


def _sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    migrate(engine)
    from sqlalchemy.orm import sessionmaker

    return engine, sessionmaker(engine)


def _events(engine, call_id):
    with Session(engine) as s:
        return list(s.scalars(select(CallEvent.seq).where(CallEvent.call_id == call_id)
                              .order_by(CallEvent.seq)))


def test_replaying_twice_changes_nothing(tmp_path):
    """A crash after applying but before the journal was truncated replays it all again."""
    engine, sessions = _sqlite(tmp_path)
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    for op in _call_ops("c1", 5):
        journal.append(op)
    before_truncation = journal.path.read_bytes()

    first = journal.replay(lambda op: commit_op(sessions, op))
    assert (first.applied, first.rejected, first.remaining) == (7, 0, 0)
    assert not journal.pending()
    journal.path.write_bytes(before_truncation)  # as if the crash came just before truncating
    second = journal.replay(lambda op: commit_op(sessions, op))
    assert (second.applied, second.rejected, second.remaining) == (7, 0, 0)

    assert _events(engine, "c1") == [1, 2, 3, 4, 5]
    with Session(engine) as s:
        assert s.get(Call, "c1").outcome == "goodbye"
    engine.dispose()


def test_a_torn_last_line_is_reported_and_skipped(tmp_path, caplog):
    engine, sessions = _sqlite(tmp_path)
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    for op in _call_ops("c1", 3):
        journal.append(op)
    with journal.path.open("ab") as f:  # the engine died while writing a line
        f.write(b'{"op":"event","call_id":"c1","seq":4,"ki')

    result = journal.replay(lambda op: commit_op(sessions, op))

    assert (result.applied, result.rejected, result.remaining) == (5, 1, 0)
    assert "line 6 skipped (torn: the writer died mid-line)" in caplog.text
    assert not journal.pending()
    rejected = journal.rejected_path.read_text()
    assert '"seq\\":4,\\"ki' in rejected and '"line_number": 6' in rejected
    assert stat.S_IMODE(journal.rejected_path.stat().st_mode) == 0o600
    assert _events(engine, "c1") == [1, 2, 3]
    engine.dispose()


def test_a_line_written_after_a_torn_one_is_not_glued_to_it(tmp_path):
    engine, sessions = _sqlite(tmp_path)
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    ops = _call_ops("c1", 2)
    journal.append(ops[0])
    with journal.path.open("ab") as f:
        f.write(b'{"op":"ev')  # torn by a crash; the restarted engine goes on appending
    for op in ops[1:]:
        journal.append(op)

    result = journal.replay(lambda op: commit_op(sessions, op))

    assert (result.applied, result.rejected, result.remaining) == (4, 1, 0)
    assert _events(engine, "c1") == [1, 2]
    engine.dispose()


def test_an_operation_the_database_refuses_is_set_aside(tmp_path):
    engine, sessions = _sqlite(tmp_path)
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    journal.append({"op": "update", "call_id": "nobody", "fields": {"outcome": "x"}})
    for op in _call_ops("c1", 1):
        journal.append(op)

    result = journal.replay(lambda op: commit_op(sessions, op))

    assert (result.applied, result.rejected, result.remaining) == (3, 1, 0)
    assert "LookupError: no call nobody to update" in journal.rejected_path.read_text()
    assert _events(engine, "c1") == [1]
    engine.dispose()


async def test_a_recorder_replays_what_an_earlier_process_left(tmp_path, privacy):
    """An engine restarted after an outage puts the journal into the database at start."""
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    for op in _call_ops("c1", 3):
        journal.append(op)
    rec = CallRecorder(url, privacy, journal_path=journal.path)
    assert not journal.pending()
    assert [e.seq for e in rec.get("c1").events] == [1, 2, 3]
    rec.close()


async def test_the_engine_replays_the_journal_while_the_line_is_quiet(tmp_path, privacy):
    """No call needs to come for a backlog to reach the database."""
    import asyncio

    from ivr.engine import Engine

    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    rec = CallRecorder(url, privacy, journal_path=tmp_path / "journal" / "records.jsonl",
                       replay_interval=0.05)
    for op in _call_ops("c2", 2):  # left while the database was away
        rec.journal.append(op)
    loop = asyncio.ensure_future(Engine._replay_journal(rec))
    try:
        for _ in range(100):
            if not rec.journal.pending():
                break
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
    assert not rec.journal.pending()
    assert [e.seq for e in rec.get("c2").events] == [1, 2]
    rec.close()


def test_a_slow_failed_replay_is_not_retried_on_every_write(tmp_path, privacy, monkeypatch):
    """A replay that failed after a whole connect timeout counts from its end, so the
    next writes of the call go straight to the journal instead of waiting again."""
    import time

    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    rec = CallRecorder(url, privacy, journal_path=tmp_path / "journal" / "records.jsonl",
                       replay_interval=0.2)
    for op in _call_ops("c3", 1):
        rec.journal.append(op)
    tries = []

    def unreachable():
        tries.append(1)
        time.sleep(0.3)  # longer than the interval, as a connect timeout is
        return False
    monkeypatch.setattr(rec, "_ensure_schema", unreachable)
    assert rec.replay_if_due().error == "database unreachable"
    assert rec.replay_if_due() is None and len(tries) == 1
    rec.close()

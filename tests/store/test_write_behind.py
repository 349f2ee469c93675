"""Records written behind the call: batched, in order, read back where needed, and not
lost when the engine is killed with writes still queued (a real child process, kill -9);
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.database import make_engine
from ivr.store.inflight import InflightLog, encode, orphans
from ivr.store.models import Call, CallEvent
from ivr.store.recorder import CallRecorder


def recorder(db_url, privacy, tmp_path):
    return CallRecorder(db_url, privacy, journal_path=tmp_path / "journal" / "records.jsonl")


async def test_many_calls_write_in_few_transactions_in_order(db_url, privacy, tmp_path):
    rec = recorder(db_url, privacy, tmp_path)
    calls = 20

    async def one(n: int) -> str:
        call_id = await rec.start(f"1.{n}", f"Local/{n}", "13800138000", "main", "v")
        for k in range(10):
            await rec.event(call_id, "step", f"s{k}")
            await asyncio.sleep(0)
        await rec.finish(call_id, "goodbye")
        return call_id

    ids = await asyncio.gather(*(one(n) for n in range(calls)))
    ops = calls * (1 + 12 + 1)  # start, start event + 10 steps + end event, finish
    assert rec._writer.batches < ops / 3  # batched: far fewer transactions than writes
    for call_id in ids:
        record = rec.get(call_id)
        assert [e.seq for e in record.events] == list(range(1, 13))
        assert [e.step for e in record.events[1:11]] == [f"s{k}" for k in range(10)]
        assert record.outcome == "goodbye" and record.ended_at is not None
    assert not next(rec.journal.path.parent.glob("*.inflight-*")).stat().st_size
    rec.close()
    assert not list(rec.journal.path.parent.glob("*.inflight-*"))  # closed: removed


async def test_a_read_sees_the_writes_queued_before_it(db_url, privacy, tmp_path):
    """The call does not wait for its writes, but what reads its record does."""
    rec = recorder(db_url, privacy, tmp_path)
    call_id = await rec.start("2.1", "Local/x", "13900139000", "main", "v")
    await rec.event(call_id, "step", "welcome")
    assert [e.kind for e in (await asyncio.to_thread(rec.get, call_id)).events] == [
        "start", "step"]
    assert rec.by_uniqueid("2.1").id == call_id
    rec.close()


CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from ivr.store.recorder import CallRecorder
    from tests.store.conftest import FakePrivacy

    url, journal = sys.argv[1], sys.argv[2]
    rec = CallRecorder(url, FakePrivacy(), journal_path=journal)
    rec._writer._write_many = lambda ops: time.sleep(3600)  # the database never gets them

    async def call():
        call_id = await rec.start("9.1", "Local/k", "13700137000", "main", "v")
        for k in range(30):
            await rec.event(call_id, "step", f"s{k}")
        await rec.update(call_id, outcome="routed", queue="pharmacy")
        print(call_id, flush=True)
        await asyncio.sleep(3600)
    asyncio.run(call())
""")


def test_writes_in_flight_when_the_engine_is_killed_are_put_back(db_url, privacy, tmp_path):
    journal = tmp_path / "journal" / "records.jsonl"
    recorder(db_url, privacy, tmp_path).close()  # the schema
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(journal)],
                             stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        call_id = child.stdout.readline().strip()
        assert call_id, "the child process did not start its call"
        live = CallRecorder(db_url, privacy, journal_path=journal)  # the owner is alive
        assert live.get(call_id) is None
        live.close()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert list(journal.parent.glob("*.inflight-*"))  # left behind by the dead process

    rec = CallRecorder(db_url, privacy, journal_path=journal)  # the restarted engine
    record = rec.get(call_id)
    assert [e.seq for e in record.events] == list(range(1, 32))
    assert record.outcome == "routed" and record.queue == "pharmacy"
    assert not [p for p in journal.parent.glob("*.inflight-*") if "9.1" in p.read_text()]
    rec.close()
    again = CallRecorder(db_url, privacy, journal_path=journal)  # nothing twice
    with Session(make_engine(db_url)) as s:
        assert s.query(CallEvent).filter(CallEvent.call_id == call_id).count() == 31
        assert s.scalar(select(Call.outcome).where(Call.id == call_id)) == "routed"
    again.close()


def test_full_segments_go_once_written_and_a_torn_line_is_skipped(tmp_path):
    journal = tmp_path / "journal" / "records.jsonl"
    log = InflightLog(journal, segment_bytes=200)
    numbers = [log.append(encode({"op": "event", "n": n, "pad": "x" * 40})) for n in range(8)]
    assert numbers == sorted(numbers) and numbers[-1] >= 2
    log.written(numbers[-1])  # everything before the last segment is in the database
    assert len(list(journal.parent.glob("*.inflight-*"))) == 1
    path = next(journal.parent.glob("*.inflight-*"))
    log.abandon()  # the process dies
    with path.open("ab") as f:
        f.write(b'{"op":"ev')
    found = orphans(journal)
    assert len(found) == 1 and found[0].torn == 1
    assert [op["n"] for op in found[0].ops] == [n for n, s in zip(range(8), numbers,
                                                               strict=True)
                                                if s == numbers[-1]]
    found[0].done()
    assert not list(journal.parent.glob("*.inflight-*"))


def test_a_live_log_is_never_taken(tmp_path):
    journal = tmp_path / "journal" / "records.jsonl"
    log = InflightLog(journal)
    log.append(encode({"op": "event"}))
    assert orphans(journal) == []
    log.written(None)
    log.close()


def test_close_waits_for_the_queue(tmp_path, privacy):
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    rec = CallRecorder(url, privacy, journal_path=tmp_path / "journal" / "records.jsonl")
    slow = rec.write_many

    def write_slowly(ops):
        time.sleep(0.2)
        slow(ops)
    rec.write_many = write_slowly
    rec._writer._write_many = write_slowly

    async def call():
        call_id = await rec.start("3.1", "Local/x", "13900139000", "main", "v")
        await rec.event(call_id, "step", "welcome")
        return call_id
    call_id = asyncio.run(call())
    rec.close()
    other = CallRecorder(url, privacy, journal_path=tmp_path / "journal" / "other.jsonl")
    assert [e.kind for e in other.get(call_id).events] == ["start", "step"]
    other.close()

"""What the lost-call reconciler (ivr/store/reconcile.py) costs the engine, on this machine.

    .venv/bin/python benchmarks/reconcile_bench.py [--calls 200000] [--log-mb 50]

The engine runs one pass every 5 s. Figures printed:
- a quiet pass (nothing open): the one indexed query, with ``--calls`` closed records
  in a SQLite database;
- a busy pass: 50 calls in progress on a peer engine (channels live): the queries, one AMI
  answer (simulated here: a set) and nothing else;
- closing lost calls: 20 records lost to a crash, read from a queue_log of
  ``--log-mb`` MB (the streamed scan is the cost), closed in one pass;
- peak memory added by that scan (tracemalloc), which must not grow with the log.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ivr.store.database import make_engine, migrate
from ivr.store.models import Call
from ivr.store.reconcile import Reconciler


def fill(db, calls: int, open_live: int, lost: int) -> tuple[set[str], list[str]]:
    now = datetime.now(UTC)
    rows = [{"id": f"c{i}", "asterisk_uniqueid": f"1796100000.{i}",
             "started_at": now - timedelta(seconds=calls - i), "ended_at": now,
             "outcome": "answered"} for i in range(calls)]
    live = [{"id": f"live{i}", "asterisk_uniqueid": f"1796200000.{i}", "started_at": now,
             "ended_at": None} for i in range(open_live)]
    lost_rows = [{"id": f"lost{i}", "asterisk_uniqueid": f"1796300000.{i}",
                  "started_at": now, "ended_at": None, "outcome": "routed"}
                 for i in range(lost)]
    with Session(db) as s, s.begin():
        for chunk in range(0, len(rows), 10000):
            s.execute(insert(Call), rows[chunk:chunk + 10000])
        if live:
            s.execute(insert(Call), live)
        if lost_rows:
            s.execute(insert(Call), lost_rows)
    return {r["asterisk_uniqueid"] for r in live}, [r["asterisk_uniqueid"] for r in lost_rows]


def write_log(path: Path, megabytes: int, lost: list[str]) -> None:
    line = "1796100000|1796100000.{i}|pharmacy|Agent 1001|CONNECT|3|1796100000.9|2\n"
    with open(path, "w") as out:
        i = 0
        while out.tell() < megabytes * 1_000_000:
            out.write(line.format(i=i))
            i += 1
        for uid in lost:
            out.write(f"1796300001|{uid}|NONE|NONE|IVRFALLBACK|SUCCESS\n"
                      f"1796300002|{uid}|operator|PJSIP/1002|CONNECT|1|x|1\n"
                      f"1796300004|{uid}|operator|PJSIP/1002|COMPLETEAGENT|1|2|1\n")


def timed(rec: Reconciler, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        asyncio.run(rec.run_once())
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--log-mb", type=int, default=50)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reconcile-bench-"))

    quiet = make_engine(f"sqlite:///{work / 'quiet.sqlite3'}")
    migrate(quiet)
    fill(quiet, args.calls, 0, 0)

    async def none_live() -> set[str]:
        return set()

    rec = Reconciler(quiet, work / "queue_log", none_live)
    q = timed(rec, 50)
    print(f"quiet pass, {args.calls:,} closed records: p50 {statistics.median(q):.2f} ms, "
          f"max {max(q):.2f} ms")

    busy = make_engine(f"sqlite:///{work / 'busy.sqlite3'}")
    migrate(busy)
    live, _ = fill(busy, args.calls, 50, 0)

    async def those_live() -> set[str]:
        return live

    rec = Reconciler(busy, work / "queue_log", those_live)
    b = timed(rec, 50)
    print(f"busy pass, 50 calls in progress on a peer engine: p50 {statistics.median(b):.2f} ms, "
          f"max {max(b):.2f} ms")

    lost_db = make_engine(f"sqlite:///{work / 'lost.sqlite3'}")
    migrate(lost_db)
    _, lost = fill(lost_db, args.calls, 0, 20)
    log = work / "queue_log"
    write_log(log, args.log_mb, lost)
    clock = [0.0]
    rec = Reconciler(lost_db, log, none_live, confirm_seconds=0, clock=lambda: clock[0])
    tracemalloc.start()
    start = time.perf_counter()
    closed = asyncio.run(rec.run_once())
    took = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"closing {len(closed)} lost calls from a {log.stat().st_size / 1e6:.0f} MB "
          f"queue_log: {took * 1000:.0f} ms, peak memory {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

"""Call-record writes taken off the call path: queued, then written in batches.

A call's step, prompt or key is one small operation. Written one transaction at a
time, with the call awaiting each, 100 callers queue behind each other's commits
(issue 13: key → next command p95 1.27 s at 100 calls). Here ``put`` appends the
operation to the in-flight log (``ivr.store.inflight``: a crash loses nothing) and to
an in-memory queue, and returns at once; one thread takes everything waiting (up to
``MAX_BATCH``) and hands it to ``write_many`` (one transaction for the lot). The
queue is a single FIFO, so operations keep their order, per call and overall.

Where a later step needs the rows, it waits for them: ``flush`` (async) and
``wait_written`` (from a thread) return once everything put before them is written;
``run`` executes a function on the writer thread after the writes before it (the
journal replay, which must not interleave with writes).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ivr.store.inflight import InflightLog, encode

log = logging.getLogger(__name__)

Op = dict[str, Any]

MAX_BATCH = 500  # operations per transaction: a commit stays short under any backlog


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: Future[Any]


class BatchWriter:
    """One writer thread for ``write_many``; ``log`` (optional) keeps what is queued on
    disk until it is written."""

    def __init__(self, write_many: Callable[[list[Op]], None],
                 log_file: InflightLog | None = None, *, name: str = "call-records") -> None:
        self._write_many = write_many
        self._log = log_file
        self._queue: deque[tuple[Op, int] | _Job] = deque()
        self._cond = threading.Condition()
        self._put = 0  # operations put so far
        self._written = 0  # of them, written (or set aside by write_many)
        self._closing = False
        self.batches = 0  # transactions so far (figures for benchmarks)
        self.failed = 0  # batches whose write raised (logged; see ``write_many``)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put(self, op: Op) -> None:
        """Queue ``op``; once this returns it is in the in-flight log (if any)."""
        line = encode(op) if self._log is not None else b""
        with self._cond:
            if self._closing:
                raise RuntimeError("call records closed")
            segment = self._log.append(line) if self._log is not None else 0
            self._queue.append((op, segment))
            self._put += 1
            self._cond.notify()

    @property
    def backlog(self) -> int:
        """Operations put and not yet written."""
        return self._put - self._written

    def run(self, fn: Callable[[], Any]) -> Future[Any]:
        """``fn()`` on the writer thread, after every operation put before it."""
        future: Future[Any] = Future()
        with self._cond:
            if self._closing:
                raise RuntimeError("call records closed")
            self._queue.append(_Job(fn, future))
            self._cond.notify()
        return future

    async def flush(self) -> None:
        """Return once everything put before this call is written."""
        with self._cond:
            if self._written >= self._put:
                return
        await asyncio.wrap_future(self.run(lambda: None))

    def wait_written(self, timeout: float | None = 10.0) -> bool:
        """Block (a worker thread, never the writer) until everything put before this
        call is written; False if ``timeout`` passed first."""
        if threading.current_thread() is self._thread:
            return True
        with self._cond:
            target = self._put
            return self._cond.wait_for(lambda: self._written >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write what is queued, then stop the thread and remove the in-flight log."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._log is not None:
            if self._thread.is_alive() or self.backlog:
                self._log.abandon()  # left for the next process to replay
            else:
                self._log.close()

    def _take(self) -> list[tuple[Op, int]] | _Job | None:
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closing)
            if not self._queue:
                return None
            if isinstance(self._queue[0], _Job):
                return self._queue.popleft()  # type: ignore[return-value]
            batch: list[tuple[Op, int]] = []
            while self._queue and len(batch) < MAX_BATCH and not isinstance(self._queue[0],
                                                                              _Job):
                batch.append(self._queue.popleft())  # type: ignore[arg-type]
            return batch

    def _loop(self) -> None:
        while (item := self._take()) is not None:
            if isinstance(item, _Job):
                try:
                    item.future.set_result(item.fn())
                except Exception as exc:
                    item.future.set_exception(exc)
                continue
            try:
                self._write_many([op for op, _segment in item])
            except Exception:
                self.failed += 1
                log.exception("call records: %d operation(s) not written", len(item))
            self.batches += 1
            with self._cond:
                self._written += len(item)
                if self._log is not None:
                    if self._queue:  # segments before the next queued operation's are done
                        head = next((x for x in self._queue if not isinstance(x, _Job)), None)
                        self._log.written(head[1] if head is not None else None)
                    else:
                        self._log.written(None)
                self._cond.notify_all()

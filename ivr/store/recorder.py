"""Writes call records as the call happens, off the event loop.

SQLAlchemy sessions are synchronous; the recorder runs them on one dedicated
thread so a slow disk never stalls audio or AGI, and writes stay in order.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.pool import StaticPool

from ivr.store.models import Base, Call, CallEvent, utcnow


def make_engine(url: str) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        # one shared in-memory database across threads (simulations, tests)
        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers (reports) never block the line
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    Base.metadata.create_all(engine)
    return engine


def mask_number(number: str) -> str:
    """Keep the first 3 and last 2 digits: enough for staff to recognise, not to dial.

    >>> mask_number("13800138000")
    '138******00'
    """
    digits = re.sub(r"\D", "", number or "")
    if len(digits) < 6:
        return "*" * len(digits) if digits else "unknown"
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


# (asterisk uniqueid, call id, kind, step, detail): live traces, e.g. the demo's output
EventListener = Callable[[str, str, str, str, dict[str, Any]], None]


class CallRecorder:
    def __init__(self, url: str) -> None:
        self.listeners: list[EventListener] = []
        self._uniqueid: dict[str, str] = {}
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-records")
        self._seq: dict[str, int] = {}

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- writes ----------------------------------------------------------------
    async def start(self, uniqueid: str, channel: str, caller: str, flow: str,
                    flow_version: str) -> str:
        call_id = str(uuid.uuid4())
        self._seq[call_id] = 0
        self._uniqueid[call_id] = uniqueid

        def write() -> None:
            with self.sessions.begin() as s:
                s.add(Call(id=call_id, asterisk_uniqueid=uniqueid, channel=channel,
                           caller_masked=mask_number(caller), flow=flow,
                           flow_version=flow_version))
        await self._run(write)
        await self.event(call_id, "start", channel=channel)
        return call_id

    async def event(self, call_id: str, kind: str, step: str = "", text: str = "",
                    **detail: Any) -> None:
        seq = self._seq.get(call_id, 0) + 1
        self._seq[call_id] = seq

        def write() -> None:
            with self.sessions.begin() as s:
                s.add(CallEvent(call_id=call_id, seq=seq, kind=kind, step=step, text=text,
                                detail=detail))
        await self._run(write)
        uniqueid = self._uniqueid.get(call_id, "")
        for listener in self.listeners:
            listener(uniqueid, call_id, kind, step, {"text": text, **detail} if text else detail)

    async def update(self, call_id: str, **fields: Any) -> None:
        def write() -> None:
            with self.sessions.begin() as s:
                call = s.get(Call, call_id)
                for key, value in fields.items():
                    setattr(call, key, value)
        await self._run(write)

    async def finish(self, call_id: str, outcome: str, **fields: Any) -> None:
        """Close the record. Keeps an outcome already set (e.g. 'answered')."""
        def write() -> None:
            with self.sessions.begin() as s:
                call = s.get(Call, call_id)
                if call.ended_at is None:
                    call.ended_at = utcnow()
                call.outcome = call.outcome or outcome
                for key, value in fields.items():
                    setattr(call, key, value)
        await self._run(write)
        record = await self._run(self.get, call_id)
        await self.event(call_id, "end", outcome=record.outcome if record else outcome,
                         seconds=record.duration_seconds if record else None)
        self._seq.pop(call_id, None)
        self._uniqueid.pop(call_id, None)

    # --- reads -----------------------------------------------------------------
    def get(self, call_id: str) -> Call | None:
        with Session(self.engine) as s:
            return s.scalar(select(Call).where(Call.id == call_id)
                            .options(selectinload(Call.events)))

    def by_uniqueid(self, uniqueid: str) -> Call | None:
        with Session(self.engine) as s:
            return s.scalar(select(Call).where(Call.asterisk_uniqueid == uniqueid)
                            .options(selectinload(Call.events)))

    def recent_calls(self, caller: str, hours: int = 24) -> int:
        """How many calls this number made in the last ``hours`` (repeat callers)."""
        from datetime import timedelta

        from sqlalchemy import func

        since = utcnow() - timedelta(hours=hours)
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(Call).where(
                Call.caller_masked == mask_number(caller), Call.started_at >= since)) or 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()

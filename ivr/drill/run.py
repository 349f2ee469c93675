"""Place drill calls through the live line and watch them (AMI and the call records).

A drill call is a Local channel whose far side (``[ivr-drill-caller]``,
asterisk_conf/extensions_drill.conf) plays the caller, originated into
``hospital-inbound``: the same entry, engine, flow, red-flag screen, queues and agents'
phones as a patient's call. It carries ``__IVR_DRILL`` (the agent's phone gets an
``X-IVR-Drill`` header) and a caller-ID name starting "DRILL". Once a person answers,
the drill lets them talk for ``talk`` seconds and hangs up, so a drill never holds a
nurse for long; a drill nobody answers is hung up at its timeout (and fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from ivr.drill.scenarios import Scenario
from ivr.drill.sound import make_sound
from ivr.drill.steps import AmiSeen, DrillResult, RecordSeen, judge
from ivr.store.models import Call, utcnow
from ivr.telephony.ami import AmiClient
from ivr.telephony.errors import AmiError

log = logging.getLogger(__name__)

CALLER_CONTEXT = "ivr-drill-caller"
WATCHED = ("Newchannel", "QueueCallerJoin", "QueueCallerAbandon", "AgentConnect", "Hangup",
           "OriginateResponse")
RECORD_WAIT = 30.0  # s after the hang-up for the engine to close the record


class Watch:
    """AMI events of the drill calls' channels, by uniqueid (registered once)."""

    def __init__(self, ami: AmiClient) -> None:
        self._calls: dict[str, tuple[float, list[AmiSeen], asyncio.Event]] = {}
        for name in WATCHED:
            ami.on(name, self._on_event)

    def follow(self, uniqueid: str) -> tuple[list[AmiSeen], asyncio.Event]:
        seen: list[AmiSeen] = []
        changed = asyncio.Event()
        self._calls[uniqueid] = (time.monotonic(), seen, changed)
        return seen, changed

    def forget(self, uniqueid: str) -> None:
        self._calls.pop(uniqueid, None)

    def _on_event(self, _manager: Any, event: Any) -> None:
        call = self._calls.get(event.get("Uniqueid", ""))
        if call is None:
            return
        t0, seen, changed = call
        seen.append(AmiSeen(round(time.monotonic() - t0, 1), dict(event)))
        changed.set()


def _over(seen: list[AmiSeen]) -> bool:
    """A person answered, or the call is gone (hung up, or never placed)."""
    return any(a.name in ("AgentConnect", "Hangup") or (
        a.name == "OriginateResponse" and a.event.get("Response") == "Failure")
        for a in seen)


async def _until(seen: list[AmiSeen], changed: asyncio.Event, deadline: float) -> None:
    while not _over(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)


def _record(db: Engine, uniqueid: str) -> Call | None:
    with Session(db, expire_on_commit=False) as s:
        return s.scalar(select(Call).where(Call.asterisk_uniqueid == uniqueid)
                        .options(selectinload(Call.events)))


async def _closed_record(db: Engine, uniqueid: str, wait: float) -> RecordSeen | None:
    """The call's record once the engine closed it (or as it stands after ``wait``)."""
    deadline = time.monotonic() + wait
    row = None
    while time.monotonic() < deadline:
        row = await asyncio.to_thread(_record, db, uniqueid)
        if row is not None and row.ended_at is not None:
            break
        await asyncio.sleep(0.5)
    if row is None:
        return None
    return RecordSeen(row.id, row.outcome if row.ended_at is not None else "still open",
                      [(e.kind, e.at, dict(e.detail or {})) for e in row.events])


async def run_drill(ami: AmiClient, watch: Watch, db: Engine, sounds: Path,
                    scenario: Scenario, *, timeout: float, talk: float) -> DrillResult:
    """One drill call, from placing it to its verdict."""
    sound = await asyncio.to_thread(make_sound, sounds, scenario.sound, scenario.words)
    # shaped like Asterisk's own (name-epoch.sequence): FastAGI refuses any other
    uniqueid = f"drill-{int(time.time())}.{uuid.uuid4().int % 10**12}"
    seen, changed = watch.follow(uniqueid)
    placed: datetime = utcnow()
    deadline = time.monotonic() + timeout
    try:
        await ami.originate(
            channel=f"Local/{scenario.key}-{sound}@{CALLER_CONTEXT}",
            context="hospital-inbound", exten="s",
            caller_id=f'"{scenario.caller_name}" <{scenario.number}>',
            channel_id=uniqueid, timeout_ms=15000,
            variables={"__IVR_DRILL": scenario.name})
        await _until(seen, changed, deadline)
        if any(a.name == "AgentConnect" for a in seen):
            await asyncio.sleep(talk)  # the person hears the caller, then the drill ends
        await _hang_up(ami, seen)
        record = await _closed_record(db, uniqueid, RECORD_WAIT)
    finally:
        watch.forget(uniqueid)
    return judge(scenario, placed, list(seen), record)


async def _hang_up(ami: AmiClient, seen: list[AmiSeen]) -> None:
    channel = next((a.event.get("Channel") for a in seen
                    if a.name in ("Newchannel", "QueueCallerJoin", "AgentConnect")
                    and a.event.get("Channel")), None)
    if channel is None or any(a.name == "Hangup" for a in seen):
        return
    try:
        await ami.action({"Action": "Hangup", "Channel": channel})
    except AmiError as exc:  # gone meanwhile (the agent put the phone down)
        log.debug("drill hang-up of %s: %s", channel, exc)

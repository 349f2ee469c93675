"""Closing the records of calls an engine lost (a crash, ``kill -9``, a power cut).

A dead engine leaves its calls' records open: no end time, outcome empty or
``routed``. Asterisk meanwhile put the caller through its own fallback
(``[ivr-fallback]``) and knows what became of them; its ``queue_log`` holds it,
one line per thing that happened, keyed by the channel's uniqueid::

    1796188500|sim-1a2b3c4d5e6f|NONE|NONE|IVRFALLBACK|SUCCESS
    1796188500|sim-1a2b3c4d5e6f|operator|NONE|ENTERQUEUE||13800138000|1
    1796188501|sim-1a2b3c4d5e6f|operator|PJSIP/1002|CONNECT|1|1796188500.12|1
    1796188503|sim-1a2b3c4d5e6f|operator|PJSIP/1002|COMPLETEAGENT|1|2|1
    1796188503|sim-1a2b3c4d5e6f|NONE|NONE|IVRFALLBACKEND||

Who owns a call: with several engines on one database (issue 13.6) a record without
an end may belong to a live peer. The rule here needs no engine ids or heartbeats:
**a record is closed only once its Asterisk channel is gone** (not in AMI
CoreShowChannels), seen gone twice at least ``confirm_seconds`` apart. A live engine
closes its own record within moments of the hangup, so it always wins; a call still
waiting in the fallback queue has a live channel and stays open until it ends. The
cost per run is two indexed queries (calls started in the last ``window``, not ended;
calls handed to the fallback in the last ``amend_window``) and, only when one of them
is not this engine's own call in progress, one AMI action (CoreShowChannels); a read
of queue_log (from the calls' start on) only once a channel is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store.models import Call, CallEvent, QueueResult, aware, utcnow

log = logging.getLogger(__name__)

RECONCILED = "reconciled"  # the event kind written when a record is closed here
# outcomes of records an engine closed while handing the caller to the dialplan's
# fallback (it gave up, or failed): what became of the caller there is amended later
HANDED_OVER = ("routed", "error", "fallback")
# queue_log events that end a caller's stay in a queue, and the QUEUESTATUS they mean
_LEFT = {"ABANDON": "ABANDONED", "EXITEMPTY": "LEAVEEMPTY", "EXITWITHTIMEOUT": "TIMEOUT",
         "EXITWITHKEY": "EXITWITHKEY"}
_COMPLETE = {"COMPLETECALLER", "COMPLETEAGENT"}
_NONE = {"", "NONE"}


@dataclass(frozen=True)
class QueueLogLine:
    """``epoch|uniqueid|queue|agent|event|data...`` (Asterisk's queue_log file format)."""

    at: datetime
    uniqueid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ()


def parse_line(line: str) -> QueueLogLine | None:
    """One queue_log line, or None for anything else (a torn last line, junk)."""
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5 or not parts[0].isdigit():
        return None
    return QueueLogLine(datetime.fromtimestamp(int(parts[0]), UTC), parts[1], parts[2],
                        parts[3], parts[4], tuple(parts[5:]))


def _epoch_at(log: BinaryIO, offset: int) -> int | None:
    """The time of the first whole line after ``offset`` (None at the end)."""
    log.seek(offset)
    if offset:
        log.readline()  # the rest of a line cut by the seek
    for _ in range(16):  # skip a few torn or foreign lines
        line = log.readline()
        if not line:
            return None
        head = line.split(b"|", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def _seek_to(log: BinaryIO, since: int) -> None:
    """Position ``log`` at a line no later than the first one at ``since`` or after:
    queue_log is written in time order, so a binary search skips the old part."""
    low, high = 0, log.seek(0, 2)
    while high - low > 64 * 1024:
        mid = (low + high) // 2
        at = _epoch_at(log, mid)
        if at is None or at >= since:
            high = mid
        else:
            low = mid
    log.seek(low)
    if low:
        log.readline()


def read_queue_log(path: Path, uniqueids: set[str],
                   since: datetime | None = None) -> dict[str, list[QueueLogLine]]:
    """The lines of ``uniqueids`` in ``path``, from ``since`` on (a minute's slack);
    streamed, so memory is bounded by the matches, not the file."""
    found: dict[str, list[QueueLogLine]] = {}
    if not uniqueids:
        return found
    wanted = {uid.encode() for uid in uniqueids}
    start = int(since.timestamp()) - 60 if since is not None else 0
    try:
        with open(path, "rb") as lines:
            if start:
                _seek_to(lines, start)
            for raw in lines:
                parts = raw.split(b"|", 2)
                if len(parts) > 2 and parts[1] in wanted:
                    parsed = parse_line(raw.decode("utf-8", errors="replace"))
                    if parsed is not None and parsed.at.timestamp() >= start:
                        found.setdefault(parsed.uniqueid, []).append(parsed)
    except FileNotFoundError:
        log.warning("no queue_log at %s: lost calls are closed without Asterisk's word", path)
    return found


@dataclass(frozen=True)
class Visit:
    """A stay in a queue (or at the last resort) after the engine lost the call."""

    queue: str
    status: str  # ANSWERED | ABANDONED | LEAVEEMPTY | TIMEOUT | NOANSWER ...
    agent: str | None = None
    hold_seconds: int | None = None


@dataclass(frozen=True)
class Verdict:
    """What became of a lost call, as Asterisk tells it."""

    outcome: str  # answered | abandoned | caller_hangup | lost
    ended_at: datetime
    agent: str | None = None
    queue: str | None = None
    hold_seconds: int | None = None
    visits: tuple[Visit, ...] = ()
    source: str = "queue_log"


def _peer(name: str) -> str:
    """``PJSIP/1004-0000002a`` (a dialled channel) -> ``PJSIP/1004`` (the interface)."""
    head, sep, tail = name.rpartition("-")
    return head if sep and head and all(c in "0123456789abcdef" for c in tail) else name


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def verdict(lines: Iterable[QueueLogLine], last_known: datetime) -> Verdict:
    """The true outcome from one call's queue_log lines (pure; ``last_known``: the latest
    moment the record itself knows of, the end time when the log says nothing)."""
    visits: list[Visit] = []
    outcome, agent, queue, hold = "", None, None, None
    ended = last_known
    fallback = False
    for line in lines:
        ended = max(ended, line.at)
        if line.event == "IVRFALLBACK":
            fallback = True
        elif line.event == "CONNECT":
            hold = _int(line.data[0]) if line.data else None
            agent, queue, outcome = line.agent, line.queue, "answered"
            visits.append(Visit(line.queue, "ANSWERED", line.agent, hold))
        elif line.event in _LEFT:
            visits.append(Visit(line.queue, _LEFT[line.event],
                                hold_seconds=_int(line.data[2]) if len(line.data) > 2
                                else None))
            outcome = outcome or "abandoned"
        elif line.event in ("IVRLASTRESORT", "IVRFALLBACKEND") and line.data:
            if line.data[0] == "ANSWER" and line.agent not in _NONE and not agent:
                agent, queue, outcome = _peer(line.agent), "last_resort", "answered"
                visits.append(Visit("last_resort", "ANSWERED", agent))
            elif line.event == "IVRLASTRESORT" and line.data[0] not in _NONE:
                visits.append(Visit("last_resort", line.data[0]))
    if not outcome:
        outcome = "caller_hangup" if fallback else "lost"
    return Verdict(outcome, ended, agent, queue, hold, tuple(visits),
                   "queue_log" if fallback or visits else "none")


LiveChannels = Callable[[], Awaitable[set[str] | None]]
# (queue, member name) -> the member's interface (queue_log names members by name)
MemberInterface = Callable[[str, str], Awaitable[str | None]]


def ami_live_channels(ami: object) -> LiveChannels:
    """The uniqueids of every channel Asterisk has now (None while AMI is away)."""
    async def channels() -> set[str] | None:
        logged_in = getattr(ami, "logged_in", None)
        if logged_in is not None and not logged_in.is_set():
            return None
        try:
            events = await ami.action({"Action": "CoreShowChannels"},  # type: ignore[attr-defined]
                                      as_list=True)
        except Exception:  # AMI gone mid-action: decide nothing this round
            log.debug("CoreShowChannels failed", exc_info=True)
            return None
        return {e.get("Uniqueid", "") for e in events if e.get("Event") == "CoreShowChannel"}
    return channels


def ami_member_interface(ami: object) -> MemberInterface:
    """queue_log's CONNECT lines name the member (``Agent 1002``); the records hold the
    interface (``PJSIP/1002``), as AMI's AgentConnect gives it: ask the queue."""
    async def interface(queue: str, name: str) -> str | None:
        try:
            members = await ami.queue_members(queue)  # type: ignore[attr-defined]
        except Exception:
            log.debug("QueueStatus %s failed", queue, exc_info=True)
            return None
        for member in members:
            if member.get("Name") == name or member.get("MemberName") == name:
                return str(member.get("Location") or member.get("Interface") or "") or None
        return None
    return interface


@dataclass
class Reconciler:
    """Finds records no engine will close and closes them with Asterisk's account."""

    db: Engine
    queue_log: Path
    live_channels: LiveChannels
    member_interface: MemberInterface | None = None
    # call ids this process is running now: live by definition, no need to ask Asterisk
    in_progress: Callable[[], Collection[str]] = frozenset
    confirm_seconds: float = 5.0  # a channel must stay gone this long before we close
    window: timedelta = timedelta(days=1)  # periodic runs look at calls started since
    clock: Callable[[], float] = time.monotonic
    amend_window: timedelta = timedelta(hours=1)  # handed-over records looked at since
    _gone_since: dict[str, float] = field(default_factory=dict)
    _checked: dict[str, float] = field(default_factory=dict)  # handed over, no fallback
    _full_scan_done: bool = False

    def open_calls(self, everything: bool = False) -> list[tuple[str, str, datetime]]:
        """(call id, uniqueid, start) of records without an end (recent ones, unless
        ``everything``: the first run after a start also looks further back)."""
        query = (select(Call.id, Call.asterisk_uniqueid, Call.started_at)
                 .where(Call.ended_at.is_(None)))
        if not everything:
            query = query.where(Call.started_at >= utcnow() - self.window)
        with Session(self.db) as s:
            return [(row[0], row[1], aware(row[2]) or utcnow()) for row in s.execute(query)]

    def handed_over_calls(self) -> list[tuple[str, str]]:
        """(call id, uniqueid) of records an engine closed as it handed the caller to
        the dialplan (outcome in HANDED_OVER), recent, not amended yet."""
        amended = select(CallEvent.id).where(CallEvent.call_id == Call.id,
                                             CallEvent.kind == RECONCILED).exists()
        query = (select(Call.id, Call.asterisk_uniqueid, Call.started_at)
                 .where(Call.started_at >= utcnow() - self.amend_window,
                        Call.ended_at.is_not(None), Call.outcome.in_(HANDED_OVER), ~amended))
        with Session(self.db) as s:
            return [(row[0], row[1], aware(row[2]) or utcnow()) for row in s.execute(query)
                    if row[0] not in self._checked]

    def _candidates(self) -> dict[str, tuple[str, bool, datetime]]:
        """call id -> (uniqueid, amend, start): open records, then handed-over ones."""
        found = {cid: (uid, False, at)
                 for cid, uid, at in self.open_calls(not self._full_scan_done)}
        for cid, uid, at in self.handed_over_calls():
            found.setdefault(cid, (uid, True, at))
        return found

    async def run_once(self) -> list[str]:
        """One pass; returns the ids of the records closed or amended."""
        candidates = await asyncio.to_thread(self._candidates)
        mine = self.in_progress()
        for call_id in [cid for cid in candidates if cid in mine]:
            del candidates[call_id]
        horizon = self.clock() - self.amend_window.total_seconds()
        for stale in [cid for cid, at in self._checked.items() if at < horizon]:
            del self._checked[stale]
        if not candidates:
            self._gone_since.clear()
            self._full_scan_done = True
            return []
        live = await self.live_channels()
        if live is None:  # cannot tell which calls are over: decide nothing
            return []
        self._full_scan_done = True
        now = self.clock()
        ready: dict[str, tuple[str, bool, datetime]] = {}
        for call_id, (uniqueid, amend, started) in candidates.items():
            if uniqueid in live:
                self._gone_since.pop(call_id, None)
                continue
            first = self._gone_since.setdefault(call_id, now)
            if now - first >= self.confirm_seconds:
                ready[call_id] = (uniqueid, amend, started)
        for stale in set(self._gone_since) - set(candidates):  # closed by their engine
            del self._gone_since[stale]
        if not ready:
            return []
        lines = await asyncio.to_thread(read_queue_log, self.queue_log,
                                        {uid for uid, _, _ in ready.values()},
                                        min(at for _, _, at in ready.values()))
        closed = []
        for call_id, (uniqueid, amend, _started) in ready.items():
            self._gone_since.pop(call_id, None)
            mine = await self._with_interfaces(lines.get(uniqueid, []))
            if amend and not any(line.event == "IVRFALLBACK" for line in mine):
                self._checked[call_id] = now  # the engine's record is the whole story
                continue
            if await asyncio.to_thread(self._close, call_id, mine, amend):
                closed.append(call_id)
        return closed

    async def _with_interfaces(self, lines: list[QueueLogLine]) -> list[QueueLogLine]:
        """CONNECT lines with the member's interface in place of its name, where known."""
        if self.member_interface is None:
            return lines
        out = []
        for line in lines:
            if line.event == "CONNECT" and "/" not in line.agent:
                found = await self.member_interface(line.queue, line.agent)
                line = replace(line, agent=found) if found else line
            out.append(line)
        return out

    def _close(self, call_id: str, lines: list[QueueLogLine], amend: bool = False) -> bool:
        """Close one record (only if still open: a racing reconciler or engine wins), or
        with ``amend`` correct one its engine closed as it handed the caller over."""
        with Session(self.db) as s, s.begin():
            call = s.get(Call, call_id)
            if call is None or (call.ended_at is not None) != amend:
                return False
            last_at = s.scalar(select(func.max(CallEvent.at))
                               .where(CallEvent.call_id == call_id))
            # the latest moment the record knows of: the end when queue_log says nothing
            known = max((t for t in (aware(last_at), aware(call.ended_at),
                                     aware(call.started_at)) if t is not None),
                        default=utcnow())
            found = verdict(lines, known)
            fields: dict[str, object] = {"ended_at": found.ended_at, "outcome": found.outcome}
            if found.agent:
                fields.update(agent=found.agent, hold_seconds=found.hold_seconds or 0)
            if found.queue:
                fields["queue"] = found.queue
            still = (Call.ended_at.is_not(None) & Call.outcome.in_(HANDED_OVER) if amend
                     else Call.ended_at.is_(None))
            done = s.execute(update(Call).where(Call.id == call_id, still).values(**fields))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return False
            seq = (s.scalar(select(func.max(CallEvent.seq))
                            .where(CallEvent.call_id == call_id)) or 0) + 1
            s.add(CallEvent(call_id=call_id, seq=seq, at=found.ended_at, kind=RECONCILED,
                            detail={"outcome": found.outcome, "agent": found.agent,
                                    "queue": found.queue, "source": found.source,
                                    "visits": [vars(v) for v in found.visits]}))
            for i, visit in enumerate(found.visits, start=1):
                s.add(QueueResult(call_id=call_id, seq=seq * 100 + i, at=found.ended_at,
                                  queue=visit.queue, status=visit.status, agent=visit.agent,
                                  hold_seconds=visit.hold_seconds))
        log.info("%s call %s: %s%s (from %s)", "amended handed-over" if amend else
                 "closed lost", call_id, found.outcome,
                 f" by {found.agent}" if found.agent else "", found.source)
        return True

    async def run_forever(self, interval: float = 5.0) -> None:
        """Run every ``interval`` seconds until cancelled; a failed pass is logged."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("reconciling lost calls failed; trying again later")
            await asyncio.sleep(interval)

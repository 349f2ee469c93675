"""The live board: every call on the line and every agent's phone, as it happens.

Two sources feed it, because neither knows everything:
- the recorder's listeners (``CallRecorder.listeners``): this engine's calls as typed,
  masked events (``ivr.events``): who called (masked), the flow, what was said, the
  triage decision, where the call was routed and with which priority;
- AMI queue events (class ``agent``, see asterisk_conf/manager.conf): who waits in which
  queue, whose phone rings, who talks to whom, and each member's device and pause
  state. They cover every engine's callers, so a caller another engine handed to a
  queue still shows (with what Asterisk knows: queue, masked number, priority).

A board started mid-shift asks Asterisk once (``sync``: AMI QueueStatus) for the
members and the callers already waiting. The console, the wallboard and whoever else
reads it get ``snapshot()`` and ``subscribe()`` (updates, for server-sent events).
Everything in it is already masked: numbers by the recorder's privacy, or ``mask``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ivr import events as ev
from ivr.live.members import (
    AgentState,
    extension_of,
    member_interface,
    member_name,
    member_state,
)

log = logging.getLogger(__name__)

# AMI events the board follows (all in the manager's "agent" read class)
CALLER_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon")
AGENT_CALL_EVENTS = ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer",
                     "AgentDump")
MEMBER_EVENTS = ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberRemoved",
                 "QueueMemberPause")
AMI_EVENTS = CALLER_EVENTS + AGENT_CALL_EVENTS + MEMBER_EVENTS

TRANSCRIPT_LIMIT = 200  # lines kept per call: a long call must not grow without end
KEEP_ENDED = timedelta(minutes=10)  # an ended call stays for the agent's wrap-up
SUBSCRIBER_BACKLOG = 256  # updates queued per reader; beyond, it is told to resync


class CallState(StrEnum):
    IN_FLOW = "in_flow"  # with the engine: menus, questions
    WAITING = "waiting"  # in a queue, nobody's phone ringing for them
    RINGING = "ringing"  # in a queue, an agent's phone rings
    TALKING = "talking"  # with an agent
    ENDED = "ended"


WAITING_STATES = frozenset({CallState.WAITING, CallState.RINGING})


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class LiveCall:
    """One call as the board knows it. ``call_id`` is None for a caller only AMI told
    us about (another engine's, or waiting before this board started)."""

    uniqueid: str
    call_id: str | None = None
    channel: str = ""
    caller_masked: str = ""
    language: str = ""
    flow: str = ""
    started_at: datetime = field(default_factory=_now)
    state: CallState = CallState.IN_FLOW
    queue: str | None = None
    priority: int | None = None
    urgency: int | None = None  # the most urgent level triage heard (1 is the top)
    department: str | None = None
    summary: str = ""
    reasons: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    crisis: bool = False
    red_flag: bool = False
    transcript: list[dict[str, Any]] = field(default_factory=list)
    waiting_since: datetime | None = None
    position: int | None = None
    agent_extension: str | None = None
    agent_channel: str | None = None
    voice_cue: dict[str, Any] | None = None
    conference: dict[str, Any] | None = None
    ended_at: datetime | None = None
    outcome: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("started_at", "waiting_since", "ended_at"):
            out[key] = _iso(getattr(self, key))
        out["state"] = str(self.state)
        return out

    def wait_seconds(self, now: datetime) -> float | None:
        if self.waiting_since is None or self.state not in WAITING_STATES:
            return None
        return max(0.0, (now - self.waiting_since).total_seconds())


@dataclass
class LiveAgent:
    """A queue member's phone: its state across all its queues."""

    extension: str
    interface: str
    name: str = ""
    state: AgentState = AgentState.UNAVAILABLE
    pause_reason: str = ""
    queues: set[str] = field(default_factory=set)
    calls_taken: int = 0
    caller_uniqueid: str | None = None  # who they ring for or talk to
    since: datetime = field(default_factory=_now)

    def as_dict(self) -> dict[str, Any]:
        return {"extension": self.extension, "interface": self.interface, "name": self.name,
                "state": str(self.state), "pause_reason": self.pause_reason,
                "queues": sorted(self.queues), "calls_taken": self.calls_taken,
                "caller_uniqueid": self.caller_uniqueid, "since": _iso(self.since)}


def _detail(event: ev.Event) -> dict[str, Any]:
    """An event's stored detail: the same for a typed event and an ``Other`` (a kind
    typed after this module was written reads the same keys)."""
    return event.stored().detail


class LiveBoard:
    """``mask(number)``: the display form of a number AMI gives in clear (the
    recorder's ``privacy.display_number``); ``clock``: now, as an aware datetime."""

    def __init__(self, mask: Callable[[str], str], *,
                 clock: Callable[[], datetime] = _now,
                 keep_ended: timedelta = KEEP_ENDED) -> None:
        self._mask = mask
        self._clock = clock
        self._keep_ended = keep_ended
        self._calls: dict[str, LiveCall] = {}  # by Asterisk uniqueid
        self._by_call_id: dict[str, str] = {}  # call id -> uniqueid
        self._agents: dict[str, LiveAgent] = {}  # by interface
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    # --- wiring ----------------------------------------------------------------
    def attach_recorder(self, recorder: Any) -> None:
        """Listen to a ``CallRecorder``: the engine's own calls."""
        recorder.listeners.append(self.on_event)

    def attach_ami(self, ami: Any) -> None:
        """Listen to an ``AmiClient``: queues and members (then ``follow`` it)."""
        for name in AMI_EVENTS:
            ami.on(name, self.on_ami)

    async def sync(self, ami: Any, timeout: float = 10.0) -> None:
        """What Asterisk has now (AMI QueueStatus): members and waiting callers, for a
        board started mid-shift or after a lost AMI connection."""
        events = await ami.action({"Action": "QueueStatus"}, as_list=True, timeout=timeout)
        self.load_status([dict(e) for e in events])

    async def follow(self, ami: Any, poll: float = 1.0) -> None:
        """Sync at each AMI login (the first, and after every reconnect: events missed
        while the connection was down are not replayed). Runs until cancelled."""
        while True:
            await ami.logged_in.wait()
            try:
                await self.sync(ami)
            except Exception:  # Asterisk busy or gone again: the next login syncs
                log.warning("live board: queue status not read", exc_info=True)
            # the client has an event for the login only, not for its loss
            while ami.logged_in.is_set():  # noqa: ASYNC110
                await asyncio.sleep(poll)

    def load_status(self, events: list[Mapping[str, Any]]) -> None:
        """The event list of a QueueStatus action (QueueParams, QueueMember, QueueEntry,
        QueueStatusComplete), replacing the members and the waiting callers known."""
        now = self._clock()
        seen_members: dict[str, set[str]] = {}
        seen_callers: set[str] = set()
        for e in events:
            name = e.get("Event")
            if name == "QueueMember":
                agent = self._member(e)
                seen_members.setdefault(agent.interface, set()).add(str(e.get("Queue", "")))
            elif name == "QueueEntry":
                uniqueid = str(e.get("Uniqueid", ""))
                if not uniqueid:
                    continue
                seen_callers.add(uniqueid)
                call = self._call_for_ami(e)
                wait = _int(e.get("Wait")) or 0
                if call.state not in WAITING_STATES:
                    call.state = CallState.WAITING
                    call.waiting_since = now - timedelta(seconds=wait)
                call.queue = str(e.get("Queue") or call.queue or "")
                call.position = _int(e.get("Position"))
                prio = _int(e.get("Priority"))
                if prio is not None:
                    call.priority = prio
        for interface, agent in list(self._agents.items()):
            if interface not in seen_members:
                del self._agents[interface]
            else:
                agent.queues = seen_members[interface]
        for call in self._calls.values():  # left while we were not listening
            if call.state in WAITING_STATES and call.uniqueid not in seen_callers:
                call.state = CallState.IN_FLOW
                call.waiting_since = call.position = None
        self._publish({"kind": "resync"})

    # --- the engine's call events (recorder listener) ----------------------------
    def on_event(self, uniqueid: str, call_id: str, event: ev.Event) -> None:
        """A recorder listener: ``event`` as stored (masked)."""
        try:
            self._on_event(uniqueid, call_id, event)
        except Exception:  # the board must never break the call that feeds it
            log.exception("live board: event %s of call %s not taken", event.kind, call_id)

    def _on_event(self, uniqueid: str, call_id: str, event: ev.Event) -> None:
        now = self._clock()
        key = self._by_call_id.get(call_id) or uniqueid or call_id
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = LiveCall(uniqueid=uniqueid or call_id, started_at=now)
        call.call_id = call_id
        self._by_call_id[call_id] = key
        match event:
            case ev.Start():
                call.channel = event.channel or call.channel
                d = _detail(event)
                call.caller_masked = str(d.get("caller_masked") or call.caller_masked)
                call.flow = str(d.get("flow") or call.flow)
                call.language = str(d.get("language") or call.language)
            case ev.Step(flow=flow) if flow and not call.flow:
                call.flow = flow
            case ev.Prompt():
                call.language = event.lang or call.language
                if event.text:
                    self._say(call, "line", event.text, now)
            case ev.Turn():
                if event.text:
                    self._say(call, "caller", event.text, now)
            case ev.Input():
                if event.said:
                    self._say(call, "caller", event.said, now)
                elif event.dtmf:
                    self._say(call, "caller", f"[pressed {event.dtmf}]", now)
            case ev.Triage():
                self._triage(call, event)
            case ev.RedFlag():
                call.red_flag = True
                call.crisis = call.crisis or event.lane == "crisis"
                call.reasons = _merge(call.reasons, event.reasons)
                if event.lane == "emergency":  # doubt escalates: the top level
                    call.urgency = 1
            case ev.Route():
                call.queue = event.queue or (f"ext:{event.extension}" if event.extension
                                             else call.queue)
                if event.priority is not None:
                    call.priority = event.priority
                call.summary = event.summary or call.summary
                if event.escalation or not call.department:
                    call.department = event.queue or call.department
            case ev.QueueResult():
                if event.status != "ANSWERED" and call.state != CallState.ENDED:
                    call.state = CallState.IN_FLOW  # the engine tries the next queue
                    call.waiting_since = call.position = None
            case ev.Hangup():
                call.outcome = call.outcome or "caller_hangup"
            case ev.End():
                self._end(call, event.outcome, now)
            case _ if event.kind == "voice_cue":
                d = _detail(event)
                call.voice_cue = {"score": d.get("score"), "baseline": d.get("baseline"),
                                  "rising": bool(d.get("rising")), "at": _iso(now)}
            case _ if event.kind == "conference":
                call.conference = {**_detail(event), "at": _iso(now)}
            case _:
                return  # nothing the board shows changed
        self._changed(call)

    def _triage(self, call: LiveCall, event: ev.Triage) -> None:
        if event.urgency is not None:
            call.urgency = (event.urgency if call.urgency is None
                            else min(call.urgency, event.urgency))
        call.department = event.department or call.department
        call.reasons = _merge(call.reasons, event.reasons)
        call.symptoms = _merge(call.symptoms, event.symptoms)
        call.crisis = call.crisis or event.crisis
        if event.lang:
            call.language = event.lang

    @staticmethod
    def _say(call: LiveCall, who: str, text: str, now: datetime) -> None:
        call.transcript.append({"at": _iso(now), "who": who, "text": text})
        del call.transcript[:-TRANSCRIPT_LIMIT]

    def _end(self, call: LiveCall, outcome: str, now: datetime) -> None:
        call.state = CallState.ENDED
        call.ended_at = now
        call.outcome = outcome or call.outcome
        call.waiting_since = call.position = None
        for agent in self._agents.values():
            if agent.caller_uniqueid == call.uniqueid:
                agent.caller_uniqueid = None

    # --- AMI -------------------------------------------------------------------
    def on_ami(self, _manager: Any, event: Mapping[str, Any]) -> None:
        """An AMI callback (``AmiClient.on``) for the events in ``AMI_EVENTS``."""
        try:
            self.take_ami(event)
        except Exception:
            log.exception("live board: AMI %s not taken", event.get("Event"))

    def take_ami(self, event: Mapping[str, Any]) -> None:
        name = str(event.get("Event", ""))
        now = self._clock()
        if name in MEMBER_EVENTS:
            self._member_event(name, event)
        elif name in CALLER_EVENTS:
            self._caller_event(name, event, now)
        elif name in AGENT_CALL_EVENTS:
            self._agent_call_event(name, event, now)

    def _member(self, e: Mapping[str, Any]) -> LiveAgent:
        interface = member_interface(e)
        agent = self._agents.get(interface)
        if agent is None:
            agent = self._agents[interface] = LiveAgent(extension_of(interface), interface)
        state = member_state(e)
        if state != agent.state:
            agent.state, agent.since = state, self._clock()
        agent.name = member_name(e) or agent.name
        agent.pause_reason = str(e.get("PausedReason") or "") if state == AgentState.PAUSED \
            else ""
        agent.calls_taken = _int(e.get("CallsTaken")) or agent.calls_taken
        if e.get("Queue"):
            agent.queues.add(str(e["Queue"]))
        return agent

    def _member_event(self, name: str, e: Mapping[str, Any]) -> None:
        interface = member_interface(e)
        if not interface:
            return
        if name == "QueueMemberRemoved":
            agent = self._agents.get(interface)
            if agent is not None:
                agent.queues.discard(str(e.get("Queue", "")))
                if not agent.queues:
                    del self._agents[interface]
                self._publish({"kind": "agent", "agent": agent.as_dict(),
                               "removed": not agent.queues})
            return
        agent = self._member(e)
        self._publish({"kind": "agent", "agent": agent.as_dict()})

    def _call_for_ami(self, e: Mapping[str, Any]) -> LiveCall:
        uniqueid = str(e.get("Uniqueid", ""))
        call = self._calls.get(uniqueid)
        if call is None:
            number = str(e.get("CallerIDNum") or "")
            call = self._calls[uniqueid] = LiveCall(
                uniqueid=uniqueid, channel=str(e.get("Channel") or ""),
                caller_masked=self._mask(number) if number and number != "<unknown>" else "",
                started_at=self._clock())
        return call

    def _caller_event(self, name: str, e: Mapping[str, Any], now: datetime) -> None:
        if not e.get("Uniqueid"):
            return
        call = self._call_for_ami(e)
        if name == "QueueCallerJoin":
            call.state = CallState.WAITING
            call.waiting_since = now
            call.queue = str(e.get("Queue") or call.queue or "")
            call.position = _int(e.get("Position"))
            # No Priority from this event: it is the channel's dialplan priority (the
            # Queue() line), not the queue's; the engine's Route event and QueueEntry
            # (QueueStatus) carry the queue priority.
        elif name == "QueueCallerAbandon":
            call.outcome = "abandoned"
            if call.call_id is None:  # no engine here will tell us its end
                self._end(call, "abandoned", now)
            else:
                call.state = CallState.IN_FLOW
                call.waiting_since = call.position = None
        elif call.state in WAITING_STATES:  # Leave: answered, timed out, queue emptied
            call.state = CallState.IN_FLOW
            call.waiting_since = call.position = None
        self._changed(call)

    def _agent_call_event(self, name: str, e: Mapping[str, Any], now: datetime) -> None:
        interface = member_interface(e)
        agent = self._agents.get(interface) if interface else None
        uniqueid = str(e.get("Uniqueid", ""))
        call = self._calls.get(uniqueid) if uniqueid else None
        ext = extension_of(interface) if interface else None
        if name == "AgentCalled":
            if call is not None and call.state in WAITING_STATES:
                call.state, call.agent_extension = CallState.RINGING, ext
            if agent is not None:
                self._agent_state(agent, AgentState.RINGING, uniqueid)
        elif name == "AgentConnect":
            if call is not None:
                call.state, call.agent_extension = CallState.TALKING, ext
                call.agent_channel = str(e.get("DestChannel") or "") or None
                call.waiting_since = call.position = None
            if agent is not None:
                self._agent_state(agent, AgentState.IN_CALL, uniqueid)
        elif name in ("AgentRingNoAnswer", "AgentDump"):
            if call is not None and call.state == CallState.RINGING \
                    and call.agent_extension == ext:
                call.state, call.agent_extension = CallState.WAITING, None
            if agent is not None and agent.state == AgentState.RINGING:
                self._agent_state(agent, AgentState.REGISTERED, None)
        elif name == "AgentComplete":
            if call is not None and call.call_id is None:  # another engine's: done here
                self._end(call, "answered", now)
            elif call is not None and call.state == CallState.TALKING:
                call.state = CallState.IN_FLOW  # back with the engine, which ends it
            if agent is not None and agent.state == AgentState.IN_CALL:
                self._agent_state(agent, AgentState.REGISTERED, None)
        if call is not None:
            self._changed(call)

    def _agent_state(self, agent: LiveAgent, state: AgentState,
                     caller: str | None) -> None:
        """What the agent's call events say until the member status confirms it; a
        paused agent stays paused (a ring for them is the last one before the pause)."""
        if agent.state != AgentState.PAUSED and agent.state != state:
            agent.state, agent.since = state, self._clock()
        agent.caller_uniqueid = caller
        self._publish({"kind": "agent", "agent": agent.as_dict()})

    # --- reading -----------------------------------------------------------------
    def now(self) -> datetime:
        """The board's clock: what its waits are counted against."""
        return self._clock()

    def calls(self) -> list[LiveCall]:
        """Calls in progress and those ended in the last ``keep_ended``, oldest first."""
        self._prune()
        return sorted(self._calls.values(), key=lambda c: c.started_at)

    def call(self, call_id: str) -> LiveCall | None:
        key = self._by_call_id.get(call_id)
        return self._calls.get(key) if key else None

    def call_by_uniqueid(self, uniqueid: str) -> LiveCall | None:
        return self._calls.get(uniqueid)

    def call_for_agent(self, extension: str) -> LiveCall | None:
        """The call ringing on or talking to ``extension`` (the latest, if several)."""
        mine = [c for c in self._calls.values() if c.agent_extension == extension
                and c.state in (CallState.RINGING, CallState.TALKING)]
        return max(mine, key=lambda c: c.started_at) if mine else None

    def waiting(self, queue: str | None = None) -> list[LiveCall]:
        """Callers in queues, in the order Asterisk serves them: highest priority first,
        then the longest wait."""
        far = datetime.max.replace(tzinfo=UTC)
        found = [c for c in self._calls.values() if c.state in WAITING_STATES
                 and (queue is None or c.queue == queue)]
        return sorted(found, key=lambda c: (-(c.priority or 0), c.waiting_since or far))

    def agents(self) -> list[LiveAgent]:
        return sorted(self._agents.values(), key=lambda a: a.extension)

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-able; ``now`` is the board's clock (waits are counted from it)."""
        now = self._clock()
        return {"now": _iso(now),
                "calls": [c.as_dict() for c in self.calls()],
                "waiting": [{**c.as_dict(), "wait_seconds": c.wait_seconds(now)}
                            for c in self.waiting()],
                "agents": [a.as_dict() for a in self.agents()]}

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Updates as they happen: ``{"kind": "call", "call": {...}}``, ``{"kind":
        "agent", ...}``, or ``{"kind": "resync"}`` (read ``snapshot()`` again: after a
        sync, or when this reader fell ``SUBSCRIBER_BACKLOG`` updates behind)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    # --- inside ------------------------------------------------------------------
    def _changed(self, call: LiveCall) -> None:
        self._publish({"kind": "call", "call": call.as_dict()})

    def _publish(self, update: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:  # a slow reader: drop its backlog, tell it to resync
                while not queue.empty():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait({"kind": "resync"})

    def _prune(self) -> None:
        cutoff = self._clock() - self._keep_ended
        for key, call in list(self._calls.items()):
            # a caller only AMI told us about, out of the queues and silent since: gone
            lost = (call.call_id is None and call.state == CallState.IN_FLOW
                    and call.started_at < cutoff)
            if lost or (call.ended_at is not None and call.ended_at < cutoff):
                del self._calls[key]
                if call.call_id:
                    self._by_call_id.pop(call.call_id, None)


def _merge(old: list[str], new: list[str] | None) -> list[str]:
    """``old`` then what ``new`` adds, each once (reasons heard at several steps)."""
    return old + [x for x in (new or []) if x not in old]

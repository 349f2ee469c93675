"""The engine's view of emergency rooms: each UserEvent IVRConference the dialplan raises
(extensions_emergency.conf) becomes a ``Conference`` event on the call, and a call whose
caller went into a room keeps its record open until the caller leaves it.

The room is named after the call (its call id), so the event needs no lookup. When the
caller is redirected into a room, the engine's AGI session sees a hang-up; the call is
not over, so :meth:`EmergencyRooms.handed_off` tells ``run_call`` to wait (no "caller hung
up" event) until the room reports the caller gone, or AMI no longer knows the channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ivr import events as ev
from ivr.telephony import variables as v

log = logging.getLogger(__name__)

# states after which the caller is no longer in the room (the dialplan took them on)
CALLER_OUT = frozenset({"ended", "caller_left", "fallback"})
GRACE = 1.0  # s for the 'requested' event to arrive after the AGI saw the redirect
LIVENESS_POLL = 5.0  # s between checks that the caller's channel still exists
MAX_WAIT = 4 * 3600.0  # s: a record is closed at the latest this long after the hand-off


def conference_event(event: dict[str, Any]) -> ev.Conference | None:
    """The Conference event for a UserEvent (None for other user events).

    >>> conference_event({"UserEvent": "IVRConference", "Room": "c1", "State": "team_joined",
    ...                   "Member": "PJSIP/1002-0001"}).member
    'PJSIP/1002-0001'
    """
    if event.get("UserEvent") != v.CONFERENCE_EVENT or not event.get("Room"):
        return None

    def opt(key: str) -> str | None:
        return event.get(key) or None
    return ev.Conference(state=str(event.get("State", "")), room=str(event["Room"]),
                         by=opt("By"), mode=opt("Mode"), agent=opt("Agent"),
                         member=opt("Member"))


@dataclass
class _Room:
    caller_channel: str = ""
    out: asyncio.Event = field(default_factory=asyncio.Event)


Record = Callable[[str, ev.Event], Awaitable[None]]
Move = Callable[[str, str, str], Awaitable[None]]
ChannelAlive = Callable[[str], Awaitable[bool]]


class EmergencyRooms:
    """Fed by AMI (``on_user_event``); ``record(call_id, event)`` writes on the call."""

    def __init__(self, record: Record, alive: ChannelAlive,
                 is_open: Callable[[str], bool], move: Move | None = None) -> None:
        self._record = record
        self._move = move  # (caller, agent, room): the handset's *9 asks the engine to move
        self._alive = alive
        self._is_open = is_open  # the call's record is still open (not closed by the engine)
        self._rooms: dict[str, _Room] = {}
        self._seen = asyncio.Condition()
        self._tasks: set[asyncio.Future[None]] = set()

    def on_user_event(self, _manager: Any, event: Any) -> None:
        conf = conference_event(event)
        if conf is None:
            return
        if conf.state not in CALLER_OUT:
            room = self._rooms.setdefault(conf.room, _Room())
            room.caller_channel = str(event.get("Caller") or room.caller_channel)
        self._spawn(self._write(conf))
        if (conf.state == "requested" and conf.by == "handset" and conf.mode == "conference"
                and self._move is not None and event.get("Caller") and conf.agent):
            self._spawn(self._moved(str(event["Caller"]), conf.agent, conf.room))

    def _spawn(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _moved(self, caller: str, agent: str, room: str) -> None:
        assert self._move is not None
        try:
            await self._move(caller, agent, room)
        except Exception:  # caller and agent stay together in their call: nothing is lost
            log.exception("emergency room %s: could not move caller and agent in", room)

    async def _write(self, conf: ev.Conference) -> None:
        """Record the step, then let a waiting call close (its last step written first)."""
        try:
            if self._is_open(conf.room):  # a closed record takes no more events
                await self._record(conf.room, conf)
        except Exception:  # a record problem must not stop the room (it is dialplan)
            log.exception("emergency room %s: could not record %s", conf.room, conf.state)
        if conf.state in CALLER_OUT and (room := self._rooms.pop(conf.room, None)):
            room.out.set()
        async with self._seen:
            self._seen.notify_all()

    async def was_moved(self, call_id: str) -> bool:
        """After the engine lost the caller's AGI session: was the caller moved into an
        emergency room (its 'requested' step seen, or seen within a second)?"""
        try:
            async with asyncio.timeout(GRACE), self._seen:
                await self._seen.wait_for(lambda: call_id in self._rooms)
        except TimeoutError:
            return False
        return True

    async def handed_off(self, call_id: str) -> None:
        """Return once the caller moved into the room is out of it again."""
        room = self._rooms.get(call_id)
        if room is None:  # in and out already
            return
        deadline = asyncio.get_running_loop().time() + MAX_WAIT
        while asyncio.get_running_loop().time() < deadline:
            try:
                await asyncio.wait_for(room.out.wait(), LIVENESS_POLL)
                return
            except TimeoutError:
                pass
            if room.caller_channel and not await self._alive(room.caller_channel):
                self._rooms.pop(call_id, None)  # gone without a word (AMI was away)
                return

"""A simulated caller who answers the line's questions by keypad, each when it is asked.

``lab.call("press2", ...)`` presses one key every few seconds, whatever is asked. A
caller going through several questions (a menu, a date of birth, the slots offered)
must press each answer when its question comes, as a person listening would. The
engine's record says which question is being asked (the prompt id of its ``prompt``
event); when the script's next question comes, the caller's own leg of the call (the
``;2`` side of the Local channel, running the quiet ``dropN`` scenario) sends the keys
with AMI PlayDTMF, so they reach the engine through Asterisk as a caller's keys do.
A single key the line did not take (pressed before it was listening) is pressed
again while the line still asks that question. Needs the engine in this process (its
recorder's listeners); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ivr import events as ev
from ivr.sim.lab import Lab
from ivr.store.models import Call

STILL_THERE = "still_there"  # said before a question is asked again: not a new question


class CallEnded(AssertionError):
    """The line ended the call before the script was done."""


@dataclass(frozen=True)
class Press:
    """When the line asks ``prompt`` (a prompt id, as the call record names it), press
    ``keys`` one after another, or hang up (``hang_up``). ``before`` is awaited first,
    e.g. an ``asyncio.Barrier``'s ``wait``: callers who press at the same moment."""

    prompt: str
    keys: str = ""
    hang_up: bool = False
    before: Callable[[], Awaitable[object]] | None = None


class KeypadCaller:
    """Places calls that follow a script of :class:`Press` answers; ``close`` when done."""

    def __init__(self, lab: Lab, *, listen_seconds: float = 1.0, again_after: float = 3.0,
                 tries: int = 3, question_timeout: float = 90.0) -> None:
        if lab.process is not None or lab.engine.recorder is None:
            raise ValueError("a keypad caller follows the events of a started in-process engine")
        self.lab = lab
        self.listen_seconds = listen_seconds  # heard the question begin, then press
        self.again_after = again_after  # a single key not taken by then is pressed again
        self.tries = tries
        self.question_timeout = question_timeout  # longest wait for a question or its take
        self._events: dict[str, list[ev.Event]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._watched: set[str] = set()
        self._recorder = lab.engine.recorder
        self._recorder.listeners.append(self._on_event)

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self._recorder.listeners.remove(self._on_event)

    def _on_event(self, uniqueid: str, _call_id: str, event: ev.Event) -> None:
        if isinstance(event, ev.End) and uniqueid not in self._watched:
            self._events.pop(uniqueid, None)  # someone else's call: nothing kept
            return
        self._events.setdefault(uniqueid, []).append(event)
        self._changed.setdefault(uniqueid, asyncio.Event()).set()

    async def call(self, presses: Sequence[Press], caller_number: str, *,
                   name: str = "Patient", timeout: float = 300.0) -> Call:
        """Place the call, answer its questions in order, and return its closed record
        (after the last press the caller stays on the line, quiet, until it ends)."""
        uniqueid = await self.lab.place(f"drop{int(timeout) + 30}", caller_number, name)
        self._watched.add(uniqueid)
        try:
            async with asyncio.timeout(timeout):
                await self._follow(uniqueid, presses)
                return await self.lab.wait(uniqueid, timeout)
        finally:
            self._watched.discard(uniqueid)
            self._events.pop(uniqueid, None)
            self._changed.pop(uniqueid, None)

    async def _follow(self, uniqueid: str, presses: Sequence[Press]) -> None:
        cursor = 0  # events before this index belong to questions already answered
        leg = ""
        for press in presses:
            asked = await self._first(uniqueid, cursor, lambda e, p=press.prompt: _asks(e, p),
                                      self.question_timeout)
            if asked is None:
                raise AssertionError(f"the line did not ask {press.prompt} within "
                                     f"{self.question_timeout:.0f} s: {self._trace(uniqueid)}")
            leg = leg or await self._caller_leg(uniqueid)
            if press.before is not None:
                await press.before()
            await asyncio.sleep(self.listen_seconds)
            if press.hang_up:
                await self.lab.ami.action({"Action": "Hangup", "Channel": leg})
                return
            cursor = await self._press(uniqueid, leg, press, asked)

    async def _press(self, uniqueid: str, leg: str, press: Press, asked: int) -> int:
        """Press until the line takes the keys; the index after its ``input`` event."""
        single = len(press.keys) == 1
        for _ in range(self.tries if single else 1):
            await self._send(leg, press.keys)
            taken = await self._first(uniqueid, asked, lambda e: isinstance(e, ev.Input),
                                      self.again_after if single else self.question_timeout)
            if taken is not None:
                return taken + 1
            moved_on = [e.prompt for e in self._events.get(uniqueid, [])[asked + 1:]
                        if isinstance(e, ev.Prompt) and e.prompt not in (press.prompt,
                                                                          STILL_THERE)]
            if moved_on:
                raise AssertionError(f"{press.prompt}: the line moved on to {moved_on[0]} "
                                     f"without {press.keys!r}: {self._trace(uniqueid)}")
        raise AssertionError(f"{press.prompt}: {press.keys!r} never taken: "
                             f"{self._trace(uniqueid)}")

    async def _send(self, leg: str, keys: str) -> None:
        for key in keys:
            await self.lab.ami.action({"Action": "PlayDTMF", "Channel": leg, "Digit": key,
                                       "Duration": "120"})
            await asyncio.sleep(0.25)

    async def _caller_leg(self, uniqueid: str) -> str:
        """The caller's side of the Local channel whose near side the engine answers."""
        listed = await self.lab.ami.action({"Action": "CoreShowChannels"}, as_list=True)
        for item in listed:
            name = str(item.get("Channel", ""))
            if item.get("Uniqueid") == uniqueid and name.endswith(";1"):
                return name[:-1] + "2"
        raise AssertionError(f"call {uniqueid}: no Local channel in CoreShowChannels")

    async def _first(self, uniqueid: str, start: int, match: Callable[[ev.Event], bool],
                     seconds: float) -> int | None:
        """Index of the first event from ``start`` that matches, waiting at most
        ``seconds``; :class:`CallEnded` when the record closes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        changed = self._changed.setdefault(uniqueid, asyncio.Event())
        while True:
            changed.clear()
            events = self._events.get(uniqueid, [])
            for i in range(start, len(events)):
                if match(events[i]):
                    return i
                if isinstance(events[i], ev.End):
                    raise CallEnded(f"call {uniqueid} ended: {self._trace(uniqueid)}")
            left = deadline - loop.time()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    def _trace(self, uniqueid: str) -> list[str]:
        """The call so far, short: what it asked and what it heard."""
        return [f"{e.kind}:{getattr(e, 'prompt', None) or e.step}"
                for e in self._events.get(uniqueid, []) if e.kind in
                ("prompt", "input", "no_input", "no_match", "route", "booking", "verify", "end")]


def _asks(event: ev.Event, prompt: str) -> bool:
    return isinstance(event, ev.Prompt) and event.prompt == prompt

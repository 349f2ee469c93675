"""Run a flow without Asterisk, on the scripted :class:`FakeChannel`: what the caller
would hear is reported, answers come from a script (or from the terminal)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ivr import events as ev
from ivr.flows.model import FlowSet
from ivr.flows.runner import CallState, FlowRunner
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.telephony.fake import HANGUP, SAY, WAV, FakeChannel
from ivr.triage.decision import Triager
from ivr.triage.engine import RuleTriager


@dataclass(frozen=True)
class CallerTurn:
    kind: str  # "key" | "say" | "wav" | "hangup"
    value: str = ""

    def script(self) -> str:
        """The turn as a :class:`FakeChannel` script entry."""
        return {"key": self.value, "say": SAY + self.value, "wav": WAV + self.value,
                "hangup": HANGUP}[self.kind]


def _simulated_agent(queue: str) -> QueueOutcome:
    return QueueOutcome("ANSWERED", f"simulated agent ({queue})")


def _interactive(ask: Callable[[str], str]) -> Callable[[str], str]:
    """The terminal as the caller: "say ..." speaks, "hangup" hangs up, else keys."""
    def next_entry(prompt: str) -> str:
        answer = ask(prompt).strip()
        if answer.lower() in ("hangup", "/hangup"):
            return HANGUP
        return SAY + answer[4:] if answer.startswith("say ") else answer
    return next_entry


def SimChannel(turns: list[CallerTurn] | None = None,
               ask: Callable[[str], str] | None = None, unanswered: set[str] | None = None,
               recognizer: Any = None, caller_number: str = "13800138000") -> FakeChannel:
    """The simulator's caller: ``turns`` in order, then ``ask`` (interactive) or
    silence. Every queue answers unless listed in ``unanswered``."""
    return FakeChannel(
        keys=[t.script() for t in turns or []], uniqueid="sim-1", caller_number=caller_number,
        queues={q: QueueOutcome("TIMEOUT") for q in unanswered or ()},
        other_queues=_simulated_agent,
        after_script=_interactive(ask) if ask else (lambda _prompt: ""),
        confidence=1.0, speech_audio=False, recognizer=recognizer)


@functools.cache
def shipped_triager() -> RuleTriager:
    """The shipped triage rules, read once per process (``ivr test`` runs many calls)."""
    return RuleTriager()


@dataclass
class Simulation:
    outcome: str
    events: list[ev.Event]
    record: Any


async def simulate(flow_set: FlowSet, flow_name: str, channel: FakeChannel,
                   vars: dict[str, Any] | None = None, at: dt.datetime | None = None,
                   on_event: Callable[[ev.Event], None] | None = None,
                   triager: Triager | None = None,
                   prepare: Callable[[CallRecorder], None] | None = None) -> Simulation:
    """Run ``flow_name`` on ``channel``; events are reported live through ``on_event``.
    ``triager``: the shipped rules unless given. ``prepare`` writes rows on record
    before the call (a test conversation's ``given``) into this call's own database,
    which starts empty and is gone after the call: nothing leaks into another."""
    recorder = CallRecorder("sqlite://")
    if prepare is not None:
        await asyncio.to_thread(prepare, recorder)
    events: list[ev.Event] = []

    def listen(_uid: str, _cid: str, event: ev.Event) -> None:
        events.append(event)
        if on_event:
            on_event(event)

    recorder.listeners.append(listen)
    flow = flow_set.flows[flow_name]
    call_id = await recorder.start(channel.uniqueid, "simulated", channel.caller_number,
                                   flow.name, flow_set.version)
    state = CallState(call_id, flow_set, flow, channel,
                      vars={"lang": flow.language, "caller.number": channel.caller_number,
                            **(vars or {})},
                      now=(lambda: at) if at else lambda: dt.datetime.now(dt.UTC))
    try:
        outcome = await FlowRunner(recorder, triager or shipped_triager()).run(state)
    except CallerHangup:
        outcome = "caller_hangup"
    await recorder.finish(call_id, outcome)
    record = await asyncio.to_thread(recorder.get, call_id)
    recorder.close()
    return Simulation(outcome, events, record)

"""Run a flow without Asterisk: a channel that prints what the caller would hear
and answers from a script (or from the terminal), for engineers and for tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr.flows.model import FlowSet
from ivr.flows.runner import CallState, FlowRunner
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import Heard, QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.triage.engine import RuleTriager


@dataclass(frozen=True)
class CallerTurn:
    kind: str  # "key" | "say" | "wav" | "hangup"
    value: str = ""


@dataclass
class SimChannel:
    """Answers each prompt from ``turns``; when they run out, ``ask`` (interactive)
    or silence. Every queue answers unless listed in ``unanswered``."""

    turns: list[CallerTurn] = field(default_factory=list)
    ask: Callable[[str], str] | None = None
    unanswered: set[str] = field(default_factory=set)
    recognizer: Any = None  # ivr.speech.asr.SpeechRecognizer, for "wav" turns
    caller_number: str = "13800138000"
    uniqueid: str = "sim-1"
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._turns = deque(self.turns)

    def _next(self, prompt: str) -> CallerTurn:
        if self._turns:
            return self._turns.popleft()
        if self.ask is not None:
            answer = self.ask(prompt).strip()
            if answer.lower() in ("hangup", "/hangup"):
                return CallerTurn("hangup")
            if answer.startswith("say "):
                return CallerTurn("say", answer[4:])
            return CallerTurn("key", answer)
        return CallerTurn("key", "")  # script used up: the caller stays silent

    def _turn(self, prompt: str) -> CallerTurn:
        turn = self._next(prompt)
        if turn.kind == "hangup":
            raise CallerHangup("the simulated caller hung up")
        return turn

    async def answer(self) -> None:
        return None

    async def say(self, text: str, lang: str = "en", profile: str = "normal",
                  interrupt: str = "") -> str | None:
        return None

    async def play(self, sound: str, interrupt: str = "") -> str | None:
        return None

    async def collect_digits(self, prompt: str, max_digits: int = 1, timeout: float = 5.0,
                             lang: str = "en", profile: str = "normal") -> str:
        turn = self._turn(prompt)
        return turn.value if turn.kind == "key" else ""

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        turn = self._turn(prompt)
        if turn.kind == "say":
            return Heard(text=turn.value, confidence=1.0)
        if turn.kind == "wav":
            return self._recognize(turn.value, lang, phrases)
        return Heard(dtmf=turn.value)

    def _recognize(self, path: str, lang: str, phrases: list[str] | None) -> Heard:
        """What the recogniser hears in a recording, as a live call would."""
        from pathlib import Path

        from ivr.speech.audio import read_wav, to_telephone

        if self.recognizer is None or lang not in self.recognizer.languages():
            raise RuntimeError(f"no speech recognition model for {lang}: see `ivr models list`")
        samples, rate = read_wav(Path(path))
        session = self.recognizer.session(lang, 8000, phrases)
        session.accept(to_telephone(samples, rate).tobytes())
        t = session.result()
        confidence = 0.0 if phrases and t.in_grammar is False else t.confidence
        return Heard(text=t.text, confidence=confidence)

    async def listen(self, seconds: float) -> bytes:
        return b""

    async def dial(self, extension: str, summary: str = "", call_id: str = "") -> QueueOutcome:
        return await self.transfer_to_queue(f"ext:{extension}")

    async def transfer_to_queue(self, queue: str, priority: int = 0, timeout: int = 0,
                                summary: str = "", call_id: str = "") -> QueueOutcome:
        if queue in self.unanswered:
            return QueueOutcome("TIMEOUT")
        return QueueOutcome("ANSWERED", f"simulated agent ({queue})")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def hangup(self) -> None:
        return None


@dataclass
class Simulation:
    outcome: str
    events: list[dict[str, Any]]
    record: Any


async def simulate(flow_set: FlowSet, flow_name: str, channel: SimChannel,
                   vars: dict[str, Any] | None = None, at: dt.datetime | None = None,
                   on_event: Callable[[dict[str, Any]], None] | None = None) -> Simulation:
    """Run ``flow_name`` on ``channel``; events are reported live through ``on_event``."""
    recorder = CallRecorder("sqlite://")
    events: list[dict[str, Any]] = []

    def listen(_uid: str, _cid: str, kind: str, step: str, detail: dict[str, Any]) -> None:
        event = {"kind": kind, "step": step, **detail}
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
        outcome = await FlowRunner(recorder, RuleTriager()).run(state)
    except CallerHangup:
        outcome = "caller_hangup"
    await recorder.finish(call_id, outcome)
    record = await asyncio.to_thread(recorder.get, call_id)
    recorder.close()
    return Simulation(outcome, events, record)

"""A call as the steps see it: its state, and the few services a step may use.

Steps never touch the recorder's tables or the channel's protocol directly
beyond what :class:`StepContext` offers, so what a step does is recorded the
same way whichever step does it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr import events as ev
from ivr.flows.model import Flow, FlowSet
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import ALL_KEYS, Channel
from ivr.triage.call_voice import CallVoice
from ivr.triage.decision import Triager


@dataclass
class CallState:
    call_id: str
    flow_set: FlowSet
    flow: Flow
    channel: Channel
    vars: dict[str, Any] = field(default_factory=dict)
    pending_digit: str | None = None  # a key pressed during a prompt: the next step's answer
    voice: CallVoice = field(default_factory=CallVoice)  # for acoustic urgency
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    answered: bool = False  # picked up already (ivr.calls answers during set-up)

    @property
    def lang(self) -> str:
        return str(self.vars.get("lang", self.flow.language))

    @property
    def rate(self) -> str:
        return str(self.vars.get("speech_rate", self.flow.spec.defaults.speech_rate))

    def timeout(self, step_timeout: float | None) -> float:
        """The step's timeout, never shorter than what the caller's profile asks for."""
        base = float(step_timeout or self.flow.spec.defaults.timeout)
        return max(base, float(self.vars.get("timeout", 0)))

    def retries(self, step_retries: int | None) -> int:
        if step_retries is not None:
            return step_retries
        return int(self.vars.get("retries", self.flow.spec.defaults.retries))


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]*)\}")


def fill(template: str, vars: dict[str, Any]) -> str:
    """``{var}`` placeholders from call variables; unknown ones become '?'."""
    return _PLACEHOLDER.sub(lambda m: str(vars.get(m.group(1), "?")), template)


def apply_profiles(flow: Flow, vars: dict[str, Any]) -> list[str]:
    """Caller-profile hook: adjust speech rate, timeouts and input mode for this caller."""
    applied = []
    for i, rule in enumerate(flow.spec.profiles):
        if rule.when.passes(vars.get(rule.when.var)):
            for key, value in rule.set.model_dump(exclude_none=True).items():
                vars[key] = value
            applied.append(f"profile {i + 1} ({rule.when.var})")
    return applied


class StepContext:
    """The running call handed to each step's ``run``: ``sid`` is the step running."""

    def __init__(self, state: CallState, recorder: CallRecorder, triager: Triager) -> None:
        self.state = state
        self.recorder = recorder
        self.triager = triager
        self.sid = ""

    @property
    def channel(self) -> Channel:
        return self.state.channel

    @property
    def vars(self) -> dict[str, Any]:
        return self.state.vars

    @property
    def lang(self) -> str:
        return self.state.lang

    async def record(self, event: ev.Event) -> None:
        """Record a fact about the call; only the store turns facts into rows."""
        await self.recorder.record(self.state.call_id, event)

    def text(self, prompt_id: str) -> str:
        return self.state.flow_set.prompt_text(prompt_id, self.lang)

    def has_prompt(self, prompt_id: str) -> bool:
        return prompt_id in self.state.flow_set.prompts.get(self.lang, {})

    async def speak(self, prompt_id: str, interrupt: bool = False) -> str | None:
        """Say a prompt; with ``interrupt``, the key that cut it short."""
        text = self.text(prompt_id)
        await self.record(ev.Prompt(step=self.sid, text=text, prompt=prompt_id, lang=self.lang))
        return await self.channel.say(text, self.lang, self.state.rate,
                                      interrupt=ALL_KEYS if interrupt else "")

    async def say_text(self, text: str) -> None:
        """Say text built at run time (history read-back)."""
        await self.record(ev.Prompt(step=self.sid, text=text, lang=self.lang))
        await self.channel.say(text, self.lang, self.state.rate)

    async def assign(self, values: dict[str, Any]) -> None:
        if values:
            self.vars.update(values)
            await self.record(ev.SetVars(step=self.sid, values=values))

    def emergency_step(self, key: str) -> str | None:
        """The flow's emergency step when ``key`` is its emergency key."""
        spec = self.state.flow.spec
        return spec.emergency_step if spec.emergency_key and key == spec.emergency_key else None

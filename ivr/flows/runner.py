"""Runs a loaded flow on a call, recording each step as it happens.

The law of the engine: a failure never leaves the caller in silence. An error
in a step sends the call to the flow's ``on_error`` queue; a queue nobody
answers sends it to the operator, and then to the emergency team.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ivr.flows.model import Flow, Step
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import ALL_KEYS, Channel, QueueOutcome
from ivr.telephony.errors import CallerHangup

log = logging.getLogger(__name__)


def escalation_chain(queue: str) -> list[str]:
    """Queues to try, in order, when ``queue`` cannot take the caller."""
    if queue == "emergency":
        return ["emergency"]
    if queue in ("operator", "crisis"):
        return [queue, "emergency"]
    return [queue, "operator", "emergency"]

GOODBYE = "Thank you for calling City Hospital. Goodbye."


@dataclass
class CallState:
    call_id: str
    flow: Flow
    channel: Channel
    pending_digit: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


class FlowRunner:
    def __init__(self, recorder: CallRecorder) -> None:
        self.recorder = recorder

    async def run(self, state: CallState) -> str:
        """Run to the end; returns the outcome. CallerHangup propagates to the caller."""
        flow = state.flow
        step: Step | None = flow.steps[flow.start]
        try:
            await state.channel.answer()
            while step is not None:
                await self.recorder.event(state.call_id, "step", step.id, type=step.type)
                step, outcome = await getattr(self, f"_{step.type}")(state, step)
                if outcome:
                    return outcome
            return await self._goodbye(state)
        except CallerHangup:
            raise
        except Exception as exc:
            log.exception("call %s: step failed", state.call_id)
            await self.recorder.event(state.call_id, "error", text=repr(exc)[:500])
            return await self._to_human(state, flow.on_error, priority=5,
                                        summary="The automated line failed during the call")

    # --- steps: each returns (next step, outcome if the call is finished) ----------
    async def _say(self, state: CallState, step: Step) -> tuple[Step | None, str | None]:
        text = str(step.get("text"))
        await self.recorder.event(state.call_id, "prompt", step.id, text=text)
        digit = await state.channel.say(text, state.flow.language, state.flow.speech_rate,
                                        interrupt=ALL_KEYS if step.get("interrupt") else "")
        if digit:  # barge-in: the key answers the next menu
            state.pending_digit = digit
        return self._next(state, step.get("next")), None

    async def _menu(self, state: CallState, step: Step) -> tuple[Step | None, str | None]:
        options: dict[str, str] = {str(k): str(v) for k, v in
                                   dict(step.get("options") or {}).items()}  # type: ignore[arg-type]
        retries = int(step.get("retries", 2))  # type: ignore[arg-type]
        prompt = str(step.get("prompt"))
        for attempt in range(retries + 1):
            barge_in = bool(state.pending_digit)
            if state.pending_digit:
                digits, state.pending_digit = state.pending_digit, None
            else:
                await self.recorder.event(state.call_id, "prompt", step.id, text=prompt,
                                          attempt=attempt + 1)
                digits = await state.channel.collect_digits(
                    prompt, 1, float(step.get("timeout", 5)),  # type: ignore[arg-type]
                    state.flow.language, state.flow.speech_rate)
            if digits in options:
                await self.recorder.event(state.call_id, "input", step.id, dtmf=digits,
                                          barge_in=barge_in)
                await self.recorder.update(state.call_id, choice=digits)
                return self._next(state, options[digits]), None
            kind = "no_input" if not digits else "no_match"
            await self.recorder.event(state.call_id, kind, step.id, dtmf=digits,
                                      attempt=attempt + 1)
            if attempt < retries and step.get(f"{kind}_prompt"):
                sorry = str(step.get(f"{kind}_prompt"))
                await self.recorder.event(state.call_id, "prompt", step.id, text=sorry)
                await state.channel.say(sorry, state.flow.language, state.flow.speech_rate)
        return self._next(state, step.get(f"on_{kind}")), None

    async def _route(self, state: CallState, step: Step) -> tuple[Step | None, str | None]:
        outcome = await self._to_human(state, str(step.get("queue")),
                                       int(step.get("priority", 0)),  # type: ignore[arg-type]
                                       str(step.get("summary", "")))
        return None, outcome

    async def _hangup(self, state: CallState, step: Step) -> tuple[Step | None, str | None]:
        return None, await self._goodbye(state, str(step.get("text", GOODBYE)))

    # --- helpers -----------------------------------------------------------------
    def _next(self, state: CallState, target: object) -> Step | None:
        return state.flow.steps[str(target)] if target else None

    async def _goodbye(self, state: CallState, text: str = GOODBYE) -> str:
        await self.recorder.event(state.call_id, "prompt", "goodbye", text=text)
        await state.channel.say(text, state.flow.language, state.flow.speech_rate)
        await state.channel.hangup()
        return "goodbye"

    async def _to_human(self, state: CallState, queue: str, priority: int, summary: str) -> str:
        """Queue the caller; if the queue cannot take them, escalate until someone does."""
        result: QueueOutcome | None = None
        for attempt, q in enumerate(escalation_chain(queue)):
            await self.recorder.event(state.call_id, "route", q, queue=q, priority=priority,
                                      summary=summary, escalation=attempt > 0)
            await self.recorder.update(state.call_id, queue=q, queue_priority=priority,
                                       department=q, outcome="routed")
            result = await state.channel.transfer_to_queue(
                q, priority, summary=summary, call_id=state.call_id)
            await self.recorder.event(state.call_id, "queue", q, status=result.status,
                                      agent=result.agent)
            if result.answered:
                await self.recorder.update(state.call_id, outcome="answered", agent=result.agent)
                await state.channel.hangup()
                return "answered"
        # Not marked done: the dialplan's own fallback (operator, emergency) takes over.
        return f"unanswered:{result.status if result else 'none'}"

"""Runs a flow on a call, step after step, recording each step as it happens.

Each step type runs itself (``ivr/flows/steps/<type>.py``); the runner only
walks from one step to the next. The law of the engine: a failure never leaves
the caller in silence. An error in a step sends the call to the current flow's
``on_error`` step (checked to be a person); a queue nobody answers escalates to
the operator, then to the emergency team; the flow's emergency key works at
every question.
"""

from __future__ import annotations

import logging

from ivr import events as ev
from ivr.flows.context import CallState, StepContext, apply_profiles, fill
from ivr.flows.people import escalation_chain, to_human, to_people
from ivr.flows.steps.base import type_of
from ivr.flows.steps.route import Step as Route
from ivr.store.recorder import CallRecorder
from ivr.telephony.errors import CallerHangup
from ivr.triage.decision import Triager

__all__ = ["CallState", "FlowRunner", "escalation_chain", "fill"]

log = logging.getLogger(__name__)

MAX_STEPS = 500  # a runaway flow (a caller looping a menu all night) ends with a person


class FlowRunner:
    def __init__(self, recorder: CallRecorder, triager: Triager) -> None:
        self.recorder = recorder
        self.triager = triager

    async def run(self, state: CallState) -> str:
        """Run to the end; returns the outcome. CallerHangup propagates to the caller."""
        ctx = StepContext(state, self.recorder, self.triager)
        step_id: str | None = state.flow.start
        try:
            if not state.answered:
                await state.channel.answer()
                state.answered = True
            applied = apply_profiles(state.flow, state.vars)
            if applied:
                await ctx.record(ev.Profile(applied=applied, speech_rate=state.rate,
                                            timeout=state.timeout(None)))
            for _ in range(MAX_STEPS):
                if step_id is None:
                    break
                step = state.flow.steps[step_id]
                ctx.sid = step_id
                await ctx.record(ev.Step(step=step_id, type=type_of(step),
                                         flow=state.flow.name))
                step_id, outcome = await step.run(ctx)
                if outcome:
                    return outcome
            else:
                raise RuntimeError(f"more than {MAX_STEPS} steps in one call")
            raise RuntimeError(f"flow '{state.flow.name}' stopped without an end step")
        except CallerHangup:
            raise
        except Exception as exc:
            log.exception("call %s: step failed", state.call_id)
            await ctx.record(ev.Error(step=step_id or "", text=repr(exc)[:500]))
            target = state.flow.steps[state.flow.spec.on_error]
            if isinstance(target, Route):
                return await to_people(ctx, target)
            return await to_human(ctx, "operator", 5, "The automated line failed")

    async def emergency_override(self, state: CallState) -> str:
        """The global switch is on: every new call goes straight to the emergency lane."""
        ctx = StepContext(state, self.recorder, self.triager)
        if not state.answered:
            await state.channel.answer()
            state.answered = True
        await ctx.record(ev.Override(text="emergency override active"))
        return await to_human(ctx, "emergency", 10, "Emergency override: all calls")

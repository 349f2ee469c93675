"""``followup``: open a follow-up; the line calls the patient back until it is closed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.context import fill
from ivr.flows.steps.base import ID, Edge, Finding, Result, Scope, StepBase, StepId
from ivr.flows.steps.subflow import flow_exists
from ivr.followups.window import span

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

Duration = Annotated[str, Field(pattern=r"^\d+(\.\d+)?[mhd]$",
                                 description="A span like 30m, 12h or 3d.")]


class Step(StepBase):
    """Open a follow-up: the line calls the patient back (a post-surgery check, a
    medication review, an unresolved complaint) until staff or the patient close it."""

    type: Literal["followup"]
    kind: str = Field(pattern=ID, description="post_surgery, medication, complaint...")
    after: Duration = Field(description="When the first call is due, from now.")
    deadline: Duration = Field("7d", description="Listed for staff if still open by then.")
    flow: str = Field("followup_call", pattern=ID, description="The outbound flow.")
    reason: str = Field("", description="For staff; {var} placeholders are filled.")
    max_attempts: int = Field(3, ge=1, le=10)
    next: StepId
    model_config = ConfigDict(title="FollowUp")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def check(self, scope: Scope) -> list[Finding]:
        return flow_exists(self.flow, scope)

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"follow-up '{self.kind}' in {self.after} → flow {self.flow}"

    async def run(self, ctx: StepContext) -> Result:
        state = ctx.state
        now = state.now()
        followup_id = await ctx.recorder.create_followup(
            number=state.channel.caller_number, kind=self.kind, flow=self.flow,
            due_at=now + span(self.after), deadline_at=now + span(self.deadline),
            reason=fill(self.reason, state.vars), language=state.lang, call_id=state.call_id,
            max_attempts=self.max_attempts)
        state.vars["followup.id"] = followup_id
        await ctx.record(ev.FollowUpBooked(step=ctx.sid, matter=self.kind, after=self.after,
                                           flow=self.flow, followup_id=followup_id))
        return self.next, None

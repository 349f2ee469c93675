"""A step type that is not shipped: counts how often callers pass a point of a flow.
The registry test adds it to prove a new step type is one module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from ivr import events as ev
from ivr.flows.context import StepContext
from ivr.flows.steps.base import ID, Edge, Result, StepBase, StepId


class Step(StepBase):
    """Add one to a call variable and go on."""

    type: Literal["tally"]
    counter: str = Field(pattern=ID)
    next: StepId

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"counts {self.counter}"

    async def run(self, ctx: StepContext) -> Result:
        ctx.vars[self.counter] = int(ctx.vars.get(self.counter, 0)) + 1
        await ctx.record(ev.SetVars(step=ctx.sid, values={self.counter: ctx.vars[self.counter]}))
        return self.next, None

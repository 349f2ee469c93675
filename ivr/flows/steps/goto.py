"""``goto``: continue at another step of the same flow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict

from ivr.flows.steps.base import Edge, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    type: Literal["goto"]
    target: StepId
    model_config = ConfigDict(title="Goto")

    def exits(self) -> list[Edge]:
        return [Edge("goto", self.target, ("target",))]

    async def run(self, ctx: StepContext) -> Result:
        return self.target, None

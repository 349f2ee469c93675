"""``set``: call variables (language, speech rate, anything a later step reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from ivr.flows.steps.base import Edge, Result, StepBase, StepId, truncate

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Set call variables (language, speech rate, anything a later step reads)."""

    type: Literal["set"]
    vars: dict[str, str | int | float | bool] = Field(min_length=1)
    next: StepId
    model_config = ConfigDict(title="SetVars")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return truncate(", ".join(f"{k}={v}" for k, v in self.vars.items()))

    async def run(self, ctx: StepContext) -> Result:
        await ctx.assign(self.vars)
        return self.next, None

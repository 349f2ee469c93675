"""``switch``: branch on one variable's value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from ivr.flows.steps.base import VAR, Edge, Result, StepBase, StepId, keys_as_text

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Branch on one variable's value."""

    type: Literal["switch"]
    var: str = Field(pattern=VAR, description="The variable to look at.")
    cases: dict[str, StepId] = Field(min_length=1)
    default: StepId
    model_config = ConfigDict(title="Switch")
    drawn_as: ClassVar[str] = "decision"

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return keys_as_text(value)

    def exits(self) -> list[Edge]:
        return [*(Edge(f"= {k}", v, ("cases", k)) for k, v in self.cases.items()),
                Edge("default", self.default, ("default",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"on {self.var}"

    async def run(self, ctx: StepContext) -> Result:
        return self.cases.get(str(ctx.vars.get(self.var)), self.default), None

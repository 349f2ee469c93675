"""``branch``: the first matching condition wins; ``else`` is required."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr.flows.conditions import Test
from ivr.flows.steps.base import Edge, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Condition(Test):
    goto: StepId


class Step(StepBase):
    """The first matching condition wins; ``else`` is required, so no caller is stranded."""

    type: Literal["branch"]
    when: list[Condition] = Field(min_length=1)
    else_: StepId = Field(alias="else")
    model_config = ConfigDict(title="Branch")
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        return [*(Edge(c.var, c.goto, ("when", i, "goto")) for i, c in enumerate(self.when)),
                Edge("else", self.else_, ("else",))]

    async def run(self, ctx: StepContext) -> Result:
        for cond in self.when:
            if cond.passes(ctx.vars.get(cond.var)):
                return cond.goto, None
        return self.else_, None

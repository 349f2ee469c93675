"""``say``: speak a prompt (a recorded prompt if present, else TTS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr.flows.listening import pressed
from ivr.flows.steps.base import Edge, PromptId, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Speak a prompt (recorded audio if present, else TTS)."""

    type: Literal["say"]
    prompt: PromptId
    barge_in: bool = Field(False, description="A key pressed during it answers the next menu.")
    next: StepId
    model_config = ConfigDict(title="Say", json_schema_extra={
        "examples": [{"type": "say", "prompt": "welcome", "barge_in": True, "next": "menu"}]})
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt",)

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    async def run(self, ctx: StepContext) -> Result:
        key = await ctx.speak(self.prompt, self.barge_in)
        if key and (diverted := await pressed(ctx, key)):
            return diverted
        return self.next, None

"""``hangup``: an explicit goodbye, the only way a flow ends without a person."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict

from ivr.flows.steps.base import PromptId, Result, StepBase

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """An explicit goodbye: the only way a flow ends without a person."""

    type: Literal["hangup"]
    prompt: PromptId | None = None
    model_config = ConfigDict(title="Hangup")
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt",)

    def ends(self) -> str:
        return "goodbye"

    async def run(self, ctx: StepContext) -> Result:
        if self.prompt:
            await ctx.speak(self.prompt)
        await ctx.channel.hangup()
        return None, "goodbye"

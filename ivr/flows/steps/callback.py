"""``callback``: offer a call-back instead of waiting, and record the request."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.listening import Listen, collect
from ivr.flows.steps.base import ID, Edge, Path, PromptId, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Offer a call-back instead of waiting, and record the request."""

    type: Literal["callback"]
    prompt: PromptId
    queue: str = Field(pattern=ID, description="Who calls back.")
    accept_key: str = Field("1", pattern=r"^[0-9*#]$")
    confirm: PromptId
    accepted: StepId
    declined: StepId
    model_config = ConfigDict(title="Callback")
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "confirm")
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        return [Edge("accepted", self.accepted, ("accepted",)),
                Edge("declined", self.declined, ("declined",))]

    def queues(self) -> list[tuple[str, Path]]:
        return [(self.queue, ("queue",))]

    def answer_keys(self) -> list[tuple[str, Path]]:
        return [(self.accept_key, ("accept_key",))]

    async def run(self, ctx: StepContext) -> Result:
        # heard, not keys only: a caller may answer the offer with what is happening
        got = await collect(ctx, Listen(self.prompt, max_seconds=6),
                            lambda reply: reply.key == self.accept_key)
        if got.diverted:
            return got.diverted
        if not got.value:
            await ctx.record(ev.Callback(step=ctx.sid, accepted=False, dtmf=got.reply.key))
            return self.declined, None
        await ctx.record(ev.Callback(step=ctx.sid, accepted=True, queue=self.queue,
                                     number=ctx.channel.caller_number))
        await ctx.speak(self.confirm)
        return self.accepted, None

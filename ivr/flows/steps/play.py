"""``play``: an Asterisk sound file (a recorded announcement)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.listening import pressed
from ivr.flows.steps.base import Edge, Result, StepBase, StepId
from ivr.telephony.channel import ALL_KEYS

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Play an Asterisk sound file (e.g. a recorded announcement)."""

    type: Literal["play"]
    sound: str = Field(pattern=r"^[A-Za-z0-9_/.-]+$", description="Asterisk sound name, no "
                       "extension.")
    barge_in: bool = False
    next: StepId
    model_config = ConfigDict(title="Play")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"sound {self.sound}"

    async def run(self, ctx: StepContext) -> Result:
        await ctx.record(ev.Prompt(step=ctx.sid, sound=self.sound))
        key = await ctx.channel.play(self.sound, ALL_KEYS if self.barge_in else "")
        if key and (diverted := await pressed(ctx, key)):
            return diverted
        return self.next, None

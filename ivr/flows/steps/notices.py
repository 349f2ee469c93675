"""``notices``: tell the caller first about a change the hospital made to their
appointment (cancelled, moved), then carry on (ivr/notices/). Nothing pending, or the
records out of reach: straight on, nothing said (the call is not held up by it)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.context import fill
from ivr.flows.steps.base import Edge, PromptId, Result, StepBase, StepId
from ivr.notices import Pending, mark_told, pending

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Say pending appointment notices for the calling number, then go on."""

    type: Literal["notices"]
    cancelled: PromptId = Field(description="{when} and {clinic} filled.")
    moved: PromptId = Field(description="{when}, {clinic} and {new_when} filled.")
    max_items: int = Field(3, ge=1, le=5)
    next: StepId
    model_config = ConfigDict(title="Notices")
    prompt_fields: ClassVar[tuple[str, ...]] = ("cancelled", "moved")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return "appointment changes told first"

    async def run(self, ctx: StepContext) -> Result:
        from ivr.schedule.spoken import when

        state = ctx.state
        phone = ctx.recorder.privacy.caller_hash(state.channel.caller_number)
        now = state.now()

        def look() -> list[Pending]:
            with Session(ctx.recorder.engine) as s:
                return pending(s, phone, now, self.max_items)

        def told(items: list[Pending]) -> None:
            with ctx.recorder.sessions.begin() as s:
                mark_told(s, items, phone, state.call_id, now)

        try:
            await ctx.recorder.flush()  # an in-memory database (the simulator) has one connection
            items = await asyncio.to_thread(look)
            if items:
                await asyncio.to_thread(told, items)
        except DBAPIError:
            return self.next, None
        for item in items:
            prompt = self.moved if item.kind == "moved" and item.moved_to else self.cancelled
            await ctx.say_text(fill(ctx.text(prompt), {
                "when": when(item.starts_at, ctx.lang), "clinic": item.clinic,
                "new_when": when(item.moved_to, ctx.lang) if item.moved_to else ""}))
        if items:
            await ctx.record(ev.NoticesTold(step=ctx.sid, told=[
                f"{i.kind}:{i.booking_id}" for i in items]))
        return self.next, None

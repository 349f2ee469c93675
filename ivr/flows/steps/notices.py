"""``notices``: tell the caller first about a change the hospital made to their
appointment (cancelled, moved), then carry on (ivr/notices/). Nothing pending, or the
records out of reach: straight on, nothing said (the call is not held up by it), or
to ``none`` / ``unreadable`` where a flow must know (the outbound call made to tell
it: dialplans/followup_call.yaml). A notice counts as told once it has been said in
full: a caller who hangs up during it hears it again on the next call."""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger(__name__)


class Step(StepBase):
    """Say pending appointment notices for the calling number, then go on."""

    type: Literal["notices"]
    cancelled: PromptId = Field(description="{when} and {clinic} filled.")
    moved: PromptId = Field(description="{when}, {clinic} and {new_when} filled.")
    max_items: int = Field(3, ge=1, le=5)
    next: StepId = Field(description="After the notices (and, without `none` / "
                         "`unreadable`, when there are none or they cannot be read).")
    none: StepId | None = Field(None, description="Nothing to tell (none pending, or told "
                                "on another call already).")
    unreadable: StepId | None = Field(None, description="The records are out of reach: "
                                      "whether there is anything to tell is not known.")
    model_config = ConfigDict(title="Notices")
    prompt_fields: ClassVar[tuple[str, ...]] = ("cancelled", "moved")

    def exits(self) -> list[Edge]:
        edges = [Edge("next", self.next, ("next",))]
        if self.none:
            edges.append(Edge("none pending", self.none, ("none",)))
        if self.unreadable:
            edges.append(Edge("records unreadable", self.unreadable, ("unreadable",)))
        return edges

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
        except DBAPIError:
            return self.unreadable or self.next, None
        if not items:
            return self.none or self.next, None
        for item in items:
            prompt = self.moved if item.kind == "moved" and item.moved_to else self.cancelled
            await ctx.say_text(fill(ctx.text(prompt), {
                "when": when(item.starts_at, ctx.lang), "clinic": item.clinic,
                "new_when": when(item.moved_to, ctx.lang) if item.moved_to else ""}))
        await ctx.record(ev.NoticesTold(step=ctx.sid, told=[
            f"{i.kind}:{i.booking_id}" for i in items]))
        try:
            await ctx.recorder.flush()
            await asyncio.to_thread(told, items)
        except DBAPIError:  # said all the same; heard again on the next call at worst
            log.warning("notices told on call %s but not marked", state.call_id, exc_info=True)
        return self.next, None

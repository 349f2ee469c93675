"""``results_status``: tell a verified caller whether their own tests are ready.

"Your blood test from 28 November is ready", "... is not ready yet", "About your
CT scan from 2 December: the clinic will call you." Status only: the table it
reads (ivr/results/) holds no value or diagnosis, so none can be read out. The
caller is the registry row their ``verify`` step found (``caller.patient``), never
whoever shares the phone. Nothing on record, no registry row, or the database out
of reach: the caller goes to ``person`` (the results desk) after a sentence saying
so. Which statuses were said is recorded (``ivr.events.ResultsRead``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.context import fill
from ivr.flows.steps.base import Edge, PromptId, Result, StepBase, StepId
from ivr.results import spoken_date, test_name
from ivr.results.lookup import Status, statuses

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Read the verified caller's own test statuses (never a value), or hand them on.
    Only reachable through a ``verify`` step's ``verified`` exit (checked: IVR204)."""

    type: Literal["results_status"]
    ready: PromptId = Field(description="{test} from {date} is ready.")
    pending: PromptId = Field(description="{test} from {date} is not ready yet.")
    clinic_will_call: PromptId = Field(description="{test} from {date}: the clinic will call.")
    none: PromptId = Field(description="Said before `person` when nothing is on record.")
    within_days: int = Field(90, ge=1, le=730, description="Tests taken this recently.")
    max_items: int = Field(3, ge=1, le=10)
    timezone: str = "Asia/Shanghai"
    next: StepId = Field(description="After the statuses were read.")
    person: StepId = Field(description="The results desk: nothing on record, or a failure.")
    model_config = ConfigDict(title="Results status", json_schema_extra={
        "examples": [{"type": "results_status", "ready": "results_ready",
                      "pending": "results_pending", "clinic_will_call": "results_clinic",
                      "none": "results_none", "next": "after_status",
                      "person": "to_results_desk"}]})
    prompt_fields: ClassVar[tuple[str, ...]] = ("ready", "pending", "clinic_will_call", "none")
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        return [Edge("read", self.next, ("next",)),
                Edge("nothing on record", self.person, ("person",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"reads up to {self.max_items} test statuses"

    async def run(self, ctx: StepContext) -> Result:
        state = ctx.state
        if not state.vars.get("caller.verified"):  # the validator forbids it; belt and braces
            raise RuntimeError("results_status step reached without verification")
        patient = state.vars.get("caller.patient")
        if not isinstance(patient, int):
            await ctx.record(ev.ResultsRead(step=ctx.sid, outcome="unidentified"))
            await ctx.speak(self.none)
            return self.person, None
        today = state.now().astimezone(ZoneInfo(self.timezone)).date()

        def look() -> list[Status]:
            with Session(ctx.recorder.engine) as s:
                return statuses(s, patient, today, self.within_days, self.max_items)

        try:
            await ctx.recorder.flush()  # an in-memory database (the simulator) has one connection
            found = await asyncio.to_thread(look)
        except DBAPIError:  # out of reach: a person can look it up
            await ctx.record(ev.ResultsRead(step=ctx.sid, outcome="unavailable"))
            await ctx.speak(self.none)
            return self.person, None
        if not found:
            await ctx.record(ev.ResultsRead(step=ctx.sid, outcome="none"))
            await ctx.speak(self.none)
            return self.person, None
        prompts = {"ready": self.ready, "pending": self.pending,
                   "clinic_will_call": self.clinic_will_call}
        for item in found:
            await ctx.say_text(fill(ctx.text(prompts[item.status]), {
                "test": test_name(item.kind, ctx.lang),
                "date": spoken_date(item.taken, ctx.lang, today)}))
        await ctx.record(ev.ResultsRead(step=ctx.sid, read=[i.ref for i in found],
                                        outcome="read"))
        return self.next, None

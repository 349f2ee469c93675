"""``route``: hand the caller to people (a queue, an extension, the emergency lane)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field, model_validator

from ivr.flows.steps.base import ID, Path, Result, StepBase

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

EMERGENCY_QUEUES = frozenset({"emergency", "crisis"})


class Step(StepBase):
    """Hand the caller to people: a department queue, an extension, or the emergency lane."""

    type: Literal["route"]
    queue: str | None = Field(None, pattern=ID)
    extension: str | None = Field(None, pattern=r"^[0-9]{2,6}$")
    emergency: bool = Field(False, description="The emergency lane: top priority, never waits "
                            "behind others.")
    triaged: bool = Field(False, description="The department and priority the last triage "
                          "step decided.")
    priority: int = Field(0, ge=0, le=10)
    summary: str | None = Field(None, description="Shown to the agent; {var} placeholders.")
    model_config = ConfigDict(title="Route")

    @model_validator(mode="after")
    def _one_target(self) -> Step:
        chosen = [self.queue is not None, self.extension is not None, self.emergency,
                  self.triaged]
        if sum(chosen) != 1:
            raise ValueError("a route goes to exactly one of: queue, extension, emergency, "
                             "triaged")
        return self

    def ends(self) -> str:
        return "emergency" if self.emergency or self.queue in EMERGENCY_QUEUES else "human"

    def queues(self) -> list[tuple[str, Path]]:
        return [(self.queue, ("queue",))] if self.queue else []

    def label(self, prompts: Mapping[str, str]) -> str:
        if self.emergency:
            target = "EMERGENCY LANE"
        elif self.queue:
            target = f"queue {self.queue}"
        elif self.extension:
            target = f"extension {self.extension}"
        else:  # a target chosen at run time (e.g. the department triage found)
            target = "queue chosen at run time"
        return f"{target}, priority {self.priority}"

    async def run(self, ctx: StepContext) -> Result:
        from ivr.flows.people import to_people

        return None, await to_people(ctx, self)

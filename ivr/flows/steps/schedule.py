"""``schedule``: opening hours; ``open`` during them, ``closed`` otherwise and on holidays."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from ivr import events as ev
from ivr import hours as opening
from ivr.flows.steps.base import Edge, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Opening hours: ``open`` during them, ``closed`` otherwise and on holidays."""

    type: Literal["schedule"]
    timezone: str = "Asia/Shanghai"
    hours: dict[str, list[str]] = Field(
        description="day or range (mon, mon-fri) -> ['08:00-12:00', ...]")
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD")
    open: StepId
    closed: StepId
    model_config = ConfigDict(title="Schedule")
    drawn_as: ClassVar[str] = "decision"

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if problems := opening.hours_problems(value):
            raise ValueError("; ".join(problems))
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        opening.zone(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _valid_dates(cls, value: list[str]) -> list[str]:
        if problems := opening.holiday_problems(value):
            raise ValueError("; ".join(problems))
        return value

    def exits(self) -> list[Edge]:
        return [Edge("open", self.open, ("open",)), Edge("closed", self.closed, ("closed",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return self.timezone

    @cached_property
    def opening_hours(self) -> opening.OpeningHours:
        return opening.OpeningHours.build(self.timezone, self.hours, self.holidays)

    async def run(self, ctx: StepContext) -> Result:
        local = ctx.state.now().astimezone(opening.zone(self.timezone))
        is_open = self.opening_hours.is_open(local)
        await ctx.record(ev.Schedule(step=ctx.sid, open=is_open, at=local.isoformat()))
        return (self.open if is_open else self.closed), None

"""``schedule``: opening hours; ``open`` during them, ``closed`` otherwise and on holidays."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator

from ivr import events as ev
from ivr.flows.steps.base import Edge, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-((?:[01]\d|2[0-3]):[0-5]\d|24:00)$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_INDEX = {d: i for i, d in enumerate(DAYS)}


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
        problems = []
        for days, ranges in value.items():
            parts = days.split("-")
            if len(parts) > 2 or any(p not in DAYS for p in parts):
                problems.append(f"'{days}' is not a day or range of days "
                                f"({', '.join(DAYS)}, or like mon-fri)")
            elif len(parts) == 2 and DAYS.index(parts[0]) > DAYS.index(parts[1]):
                problems.append(f"'{days}' runs backwards: write each part, e.g. sat and "
                                "sun separately")
            for r in ranges:
                m = TIME_RANGE.match(r)
                if not m:
                    problems.append(f"'{r}' is not a time range like 08:00-17:30")
                elif f"{m.group(1)}:{m.group(2)}" >= m.group(3):
                    problems.append(f"'{r}' ends before it starts")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone like Asia/Shanghai") from None
        return value

    @field_validator("holidays")
    @classmethod
    def _valid_dates(cls, value: list[str]) -> list[str]:
        for d in value:
            try:
                dt.date.fromisoformat(d)
            except ValueError:
                raise ValueError(f"holiday '{d}' is not a date like 2026-10-01") from None
        return value

    def exits(self) -> list[Edge]:
        return [Edge("open", self.open, ("open",)), Edge("closed", self.closed, ("closed",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return self.timezone

    def is_open_at(self, local: dt.datetime) -> bool:
        if local.date().isoformat() in self.holidays:
            return False
        weekday = local.weekday()
        hhmm = local.strftime("%H:%M")
        for days, ranges in self.hours.items():
            first, _, last = days.partition("-")
            if DAY_INDEX[first] <= weekday <= DAY_INDEX[last or first]:
                for r in ranges:
                    start, end = r.split("-")
                    if start <= hhmm < end:
                        return True
        return False

    async def run(self, ctx: StepContext) -> Result:
        local = ctx.state.now().astimezone(ZoneInfo(self.timezone))
        is_open = self.is_open_at(local)
        await ctx.record(ev.Schedule(step=ctx.sid, open=is_open, at=local.isoformat()))
        return (self.open if is_open else self.closed), None

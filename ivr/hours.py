"""Opening hours, one notation for the whole line: a flow's ``schedule`` step (is the
desk open?) and the follow-up calling window (may the line call a patient now, and
if not, when?) read the same ``{"mon-fri": ["08:00-12:00", ...]}`` mapping here.

Ranges are half-open on the local wall clock: ``08:00-12:00`` is open at 08:00:00
and closed at 12:00:00; ``24:00`` may end a range (the whole day: ``00:00-24:00``).
A holiday is closed all day. Across a daylight-saving change, wall-clock hours mean
what they say: on the day the clocks jump from 02:00 to 03:00, a range opening at
02:30 opens at 03:00.

Problems come back as readable sentences, every one at once, so an engineer fixes
a file in one pass; the flow validator prints them under IVR107.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RANGE = re.compile(
    r"^([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")
SEARCH_DAYS = 400  # hours that never open within a year are a configuration error
UTC = dt.UTC

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight
Week = dict[int, list[Minutes]]  # weekday (0 = Monday) -> sorted ranges


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; ValueError with a readable message if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"'{name}' is not a time zone like Asia/Shanghai") from None


def _day_span(spec: str) -> tuple[list[int] | None, str | None]:
    """``mon-fri`` -> weekdays, or None and the problem."""
    parts = spec.strip().lower().split("-")
    if len(parts) > 2 or any(p not in DAYS for p in parts):
        return None, (f"'{spec}' is not a day or range of days "
                      f"({', '.join(DAYS)}, or like mon-fri)")
    lo, hi = DAYS.index(parts[0]), DAYS.index(parts[-1])
    if lo > hi:
        return None, f"'{spec}' runs backwards: write each part, e.g. sat and sun separately"
    return list(range(lo, hi + 1)), None


def _time_range(text: str) -> tuple[Minutes | None, str | None]:
    """``08:00-12:00`` -> minutes, or None and the problem."""
    m = TIME_RANGE.match(str(text).strip())
    if not m:
        return None, f"'{text}' is not a time range like 08:00-17:30"
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4)) if m.group(3) else 24 * 60
    if end <= start:
        return None, f"'{text}' ends before it starts"
    return (start, end), None


def _read_week(hours: Mapping[str, Sequence[str]]) -> tuple[Week, list[str]]:
    week: Week = {d: [] for d in range(7)}
    problems: list[str] = []
    for spec, ranges in hours.items():
        days, problem = _day_span(str(spec))
        if problem:
            problems.append(problem)
        for text in ranges:
            minutes, problem = _time_range(text)
            if minutes is None:
                problems.append(str(problem))
                continue
            for d in days or ():
                week[d].append(minutes)
    return {d: sorted(r) for d, r in week.items()}, problems


def hours_problems(hours: Mapping[str, Sequence[str]]) -> list[str]:
    """Every problem of an hours mapping, in file order; empty when it is valid."""
    return _read_week(hours)[1]


def parse_week(hours: Mapping[str, Sequence[str]]) -> Week:
    """``{"mon-fri": ["09:00-12:00"]}`` -> weekday -> sorted ranges; ValueError naming
    every problem. Days without hours are closed (an empty mapping is never open)."""
    week, problems = _read_week(hours)
    if problems:
        raise ValueError("; ".join(problems))
    return week


def holiday_problems(days: Iterable[str | dt.date]) -> list[str]:
    """Every holiday that is not a date like 2026-10-01; empty when all are."""
    return [f"holiday '{d}' is not a date like 2026-10-01" for d in days if _date(d) is None]


def parse_holidays(days: Iterable[str | dt.date]) -> frozenset[dt.date]:
    """ISO dates (or dates) -> a set; ValueError naming every bad one."""
    days = list(days)
    problems = holiday_problems(days)
    if problems:
        raise ValueError("; ".join(problems))
    return frozenset(d for d in map(_date, days) if d is not None)


def _date(day: str | dt.date) -> dt.date | None:
    if isinstance(day, dt.date) and not isinstance(day, dt.datetime):
        return day
    try:
        return dt.date.fromisoformat(str(day))
    except ValueError:
        return None


@dataclass(frozen=True)
class OpeningHours:
    """A week of opening hours and the holidays, in one time zone."""

    tz: ZoneInfo
    week: Week
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def build(cls, timezone: str, hours: Mapping[str, Sequence[str]],
              holidays: Iterable[str | dt.date] = ()) -> OpeningHours:
        """ValueError naming every problem (zone, days, ranges, holidays) in one message."""
        holidays = list(holidays)
        problems: list[str] = []
        try:
            tz = zone(timezone)
        except ValueError as exc:
            problems.append(str(exc))
        week, hour_problems = _read_week(hours)
        problems += hour_problems
        problems += holiday_problems(holidays)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(tz, week, parse_holidays(holidays))

    def is_open(self, moment: dt.datetime) -> bool:
        """Open at ``moment``: an aware datetime is read on this zone's clock, a naive
        one as local wall time already."""
        local = moment.astimezone(self.tz) if moment.tzinfo is not None else moment
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return any(start <= minute < end for start, end in self.week[local.weekday()])

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` (in UTC) when open then, else the first open instant after it.

        ``moment`` must be aware; ValueError when nothing opens within SEARCH_DAYS."""
        if moment.tzinfo is None:
            raise ValueError("a naive datetime: pass an aware one (UTC)")
        now = moment.astimezone(UTC)
        if self.is_open(now):
            return now
        today = now.astimezone(self.tz).date()
        for offset in range(SEARCH_DAYS):
            day = today + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in self.week[day.weekday()]:
                opens = self._opening(day, start)
                if opens > now:
                    return opens
        raise ValueError(f"nothing opens within {SEARCH_DAYS} days")

    def _opening(self, day: dt.date, minute: int) -> dt.datetime:
        """The first instant whose local wall time on ``day`` is at least ``minute``."""
        wall = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=self.tz)
        first = wall.astimezone(UTC)  # fold=0: the first of two, when the clocks go back
        if _wall(first, self.tz) == _wall(wall):
            return first
        # The wall time does not exist (the clocks jumped over it): find the jump. fold=1
        # reads the wall time with the offset after the change: an instant before the jump.
        lo, hi = wall.replace(fold=1).astimezone(UTC), first
        while hi - lo > dt.timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if _wall(mid, self.tz) >= _wall(wall):
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0)


def _wall(moment: dt.datetime, tz: ZoneInfo | None = None) -> dt.datetime:
    local = moment.astimezone(tz) if tz is not None else moment
    return local.replace(tzinfo=None, fold=0)

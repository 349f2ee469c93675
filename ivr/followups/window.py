"""When the line may call patients: local hours per weekday, no calls on holidays.

The same notation as a flow's ``schedule`` step (``mon-fri: ["09:00-20:00"]``), read
in the hospital's time zone. Ranges are half-open: ``09:00-20:00`` allows 09:00:00
and refuses 20:00:00; ``24:00`` may end a range (the whole day: ``00:00-24:00``).

Everything works on aware datetimes and returns UTC. Wall-clock hours mean what
they say on the local clock, also across a daylight-saving change: on the day the
clocks jump from 02:00 to 03:00, a window opening at 02:30 opens at 03:00.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")
_SEARCH_DAYS = 400  # a window that never opens within a year is a configuration error
UTC = dt.UTC

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight


def _days(spec: str) -> list[int] | None:
    first, _, last = spec.strip().lower().partition("-")
    if first not in DAYS or (last and last not in DAYS):
        return None
    lo, hi = DAYS.index(first), DAYS.index(last or first)
    return list(range(lo, hi + 1)) if lo <= hi else None


def parse_hours(hours: Mapping[str, Sequence[str]]) -> dict[int, list[Minutes]]:
    """``{"mon-fri": ["09:00-12:00", ...]}`` -> weekday (0 = Monday) -> sorted ranges.

    Raises ValueError naming every problem at once."""
    problems: list[str] = []
    table: dict[int, list[Minutes]] = {d: [] for d in range(7)}
    for spec, ranges in hours.items():
        days = _days(spec)
        if days is None:
            problems.append(f"'{spec}' is not a day or range of days ({', '.join(DAYS)}, "
                            "or like mon-fri; sat-sun, not sun-sat)")
        for text in ranges:
            m = _RANGE.match(text.strip())
            if not m:
                problems.append(f"'{text}' is not a time range like 09:00-20:00")
                continue
            start = int(m.group(1)) * 60 + int(m.group(2))
            end = (int(m.group(3)) * 60 + int(m.group(4))) if m.group(3) else 24 * 60
            if end <= start:
                problems.append(f"'{text}' ends before it starts")
                continue
            for d in days or ():
                table[d].append((start, end))
    if problems:
        raise ValueError("; ".join(problems))
    if not any(table.values()):
        raise ValueError("no calling hours at all: the line could never call a patient")
    return {d: sorted(r) for d, r in table.items()}


def parse_holidays(days: Iterable[str | dt.date]) -> frozenset[dt.date]:
    out, problems = set(), []
    for day in days:
        if isinstance(day, dt.date):
            out.add(day)
            continue
        try:
            out.add(dt.date.fromisoformat(day))
        except ValueError:
            problems.append(f"holiday '{day}' is not a date like 2026-10-01")
    if problems:
        raise ValueError("; ".join(problems))
    return frozenset(out)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not a time zone like Asia/Shanghai") from None


@dataclass(frozen=True)
class CallingWindow:
    tz: ZoneInfo
    hours: dict[int, list[Minutes]]
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def build(cls, timezone: str, hours: Mapping[str, Sequence[str]],
              holidays: Iterable[str | dt.date] = ()) -> CallingWindow:
        """Raises ValueError (every problem in one message) on a bad zone, day or range."""
        problems = []
        parsed: list[object] = []
        for parse, arg in ((zone, timezone), (parse_hours, hours), (parse_holidays, holidays)):
            try:
                parsed.append(parse(arg))  # type: ignore[operator]
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        tz, table, days = parsed
        return cls(tz, table, days)  # type: ignore[arg-type]

    def is_allowed(self, now: dt.datetime) -> bool:
        local = _aware(now).astimezone(self.tz)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return any(start <= minute < end for start, end in self.hours[local.weekday()])

    def next_allowed(self, now: dt.datetime) -> dt.datetime:
        """``now`` (in UTC) if calls are allowed now, else the first allowed moment after."""
        now = _aware(now).astimezone(UTC)
        if self.is_allowed(now):
            return now
        today = now.astimezone(self.tz).date()
        for offset in range(_SEARCH_DAYS):
            day = today + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in self.hours[day.weekday()]:
                opens = self._opening(day, start)
                if opens > now:
                    return opens
        raise ValueError(f"no allowed calling time within {_SEARCH_DAYS} days")

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


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def span(text: str) -> dt.timedelta:
    """``"30m"`` -> 30 minutes (s, m, h, d), as flows write durations."""
    m = _SPAN.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a duration like 30m, 2h or 3d")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return dt.timedelta(seconds=float(m.group(1)) * unit)


def _wall(moment: dt.datetime, tz: ZoneInfo | None = None) -> dt.datetime:
    local = moment.astimezone(tz) if tz is not None else moment
    return local.replace(tzinfo=None, fold=0)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (UTC)")
    return moment

"""When the line may call patients: local hours per weekday, no calls on holidays.

The same notation as a flow's ``schedule`` step (``mon-fri: ["09:00-20:00"]``), read
by the same code (:mod:`ivr.hours`) in the hospital's time zone. Ranges are
half-open: ``09:00-20:00`` allows 09:00:00 and refuses 20:00:00; ``24:00`` may end
a range (the whole day: ``00:00-24:00``).

Everything works on aware datetimes and returns UTC. Wall-clock hours mean what
they say on the local clock, also across a daylight-saving change: on the day the
clocks jump from 02:00 to 03:00, a window opening at 02:30 opens at 03:00.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ivr.hours import (
    DAYS,
    SEARCH_DAYS,
    Minutes,
    OpeningHours,
    parse_holidays,
    parse_week,
    zone,
)

__all__ = ["DAYS", "CallingWindow", "parse_holidays", "parse_hours", "span", "zone"]
UTC = dt.UTC
_NEVER = "no calling hours at all: the line could never call a patient"


def parse_hours(hours: Mapping[str, Sequence[str]]) -> dict[int, list[Minutes]]:
    """``{"mon-fri": ["09:00-12:00", ...]}`` -> weekday (0 = Monday) -> sorted ranges.

    Raises ValueError naming every problem at once, and when no day has hours: a
    window that never opens would leave every follow-up waiting forever."""
    week = parse_week(hours)
    if not any(week.values()):
        raise ValueError(_NEVER)
    return week


@dataclass(frozen=True)
class CallingWindow:
    """The follow-up calling window: ``ivr.hours`` opening hours that must open some day."""

    tz: ZoneInfo
    hours: dict[int, list[Minutes]]
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def build(cls, timezone: str, hours: Mapping[str, Sequence[str]],
              holidays: Iterable[str | dt.date] = ()) -> CallingWindow:
        """Raises ValueError (every problem in one message) on a bad zone, day or range."""
        opening = OpeningHours.build(timezone, hours, holidays)
        if not any(opening.week.values()):
            raise ValueError(_NEVER)
        return cls(opening.tz, opening.week, opening.holidays)

    @property
    def _opening(self) -> OpeningHours:
        return OpeningHours(self.tz, self.hours, self.holidays)

    def is_allowed(self, now: dt.datetime) -> bool:
        return self._opening.is_open(_aware(now))

    def next_allowed(self, now: dt.datetime) -> dt.datetime:
        """``now`` (in UTC) if calls are allowed now, else the first allowed moment after."""
        try:
            return self._opening.next_opening(_aware(now))
        except ValueError:
            raise ValueError(f"no allowed calling time within {SEARCH_DAYS} days") from None


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def span(text: str) -> dt.timedelta:
    """``"30m"`` -> 30 minutes (s, m, h, d), as flows write durations."""
    m = _SPAN.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a duration like 30m, 2h or 3d")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return dt.timedelta(seconds=float(m.group(1)) * unit)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (UTC)")
    return moment

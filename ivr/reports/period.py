"""The report's period from what people type: ``7d``, ``24h``, ``2w`` or an ISO date.

Pure: the clock and the time zone are arguments, so tests pin them.

    >>> from datetime import UTC, datetime
    >>> parse_moment("2w", datetime(2026, 11, 26, tzinfo=UTC), ZoneInfo("UTC"), end=False)
    datetime.datetime(2026, 11, 12, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}


class PeriodError(ValueError):
    """Text that is neither a duration nor an ISO date/time."""


def parse_duration(text: str) -> timedelta | None:
    """``7d`` -> 7 days; ``None`` when ``text`` is not a duration (m, h, d or w)."""
    match = _DURATION.match(text)
    if match is None:
        return None
    amount = int(match.group(1))
    if amount <= 0:
        raise PeriodError(f"{text.strip()!r}: a duration must be more than zero")
    return amount * _UNITS[match.group(2).lower()]


def parse_moment(text: str, reference: datetime, tz: tzinfo, *, end: bool) -> datetime:
    """A moment from ``text``: a duration counts back from ``reference``; an ISO date is
    local midnight in ``tz`` (for an end, the midnight after it: ``--until 2026-11-26``
    includes that day); an ISO date-time without an offset is local time in ``tz``."""
    duration = parse_duration(text)
    if duration is not None:
        return reference - duration
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=tz)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise PeriodError(
            f"{raw!r} is neither a duration (7d, 24h, 2w) nor an ISO date "
            "(2026-11-20 or 2026-11-20T08:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``), or a PeriodError."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise PeriodError(f"unknown time zone {name!r} (try Asia/Shanghai or UTC)") from None

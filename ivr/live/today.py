"""Today's queue figures for the wallboard, from the call records (every engine's).

"Today" is the local day in the line's time zone. A call counts once it was handed to
people (routed to a queue: ``Call.queue``, not an extension). Its wait is counted the
way a patient lives it: from the first hand-over to the agent answering
(``ami:AgentConnect``) or to the caller hanging up, across every queue it overflowed
through; Asterisk's own hold time (``Call.hold_seconds``, the answering queue only) is
used when the events are missing (AMI was down).

Drill calls (``ivr drill``) are no patients: left out, as the report leaves them out.

Answered and abandoned follow ``ivr report`` (``ivr.reports.figures``): abandoned is a
caller who hung up while queued (an ABANDONED stint, outcome 'abandoned', or
'caller_hangup' with no stint answered); answered is an agent taking the call.
Service level: answered within ``service_level_seconds`` out of answered + abandoned
(callers still waiting are in neither); an answered call whose wait is unknown counts
as not in time. Abandonment: abandoned out of the same.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.store.models import Call, CallEvent, QueueResult, aware, not_a_drill

WAIT_EVENTS = (ev.Route.kind, ev.AgentConnect.kind, ev.Hangup.kind, ev.End.kind)


@dataclass(frozen=True)
class TodayFigures:
    day: str  # the local date, ISO
    timezone: str
    service_level_seconds: int
    offered: int  # handed to a queue today (still waiting or in a call included)
    answered: int
    answered_in_time: int  # answered within service_level_seconds
    abandoned: int
    service_level: float | None  # None: nobody answered or abandoned yet today
    abandonment: float | None
    longest_wait_seconds: float | None  # of the answered and the abandoned

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_bounds(now: datetime, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local date of ``now`` and its midnights, as UTC."""
    local = now.astimezone(tz).date()
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    end = datetime.combine(local + timedelta(days=1), start.timetz())
    return local, start.astimezone(UTC), end.astimezone(UTC)


def today_figures(engine: Engine, *, timezone: str, service_level_seconds: int,
                  now: datetime | None = None) -> TodayFigures:
    """The figures for the local day of ``now`` (default: now). Blocking: call it in a
    thread from the event loop."""
    tz = ZoneInfo(timezone)
    day, since, until = day_bounds(now or datetime.now(UTC), tz)
    with Session(engine) as s:
        today = (Call.started_at >= since, Call.started_at < until, Call.queue.is_not(None),
                 Call.queue.not_like("ext:%"), not_a_drill())
        calls = s.execute(select(Call.id, Call.outcome, Call.hold_seconds, Call.ended_at)
                          .where(*today)).all()
        stints = s.execute(select(QueueResult.call_id, QueueResult.status)
                           .join(Call, Call.id == QueueResult.call_id).where(*today)).all()
        events = s.execute(select(CallEvent.call_id, CallEvent.kind, CallEvent.at)
                           .join(Call, Call.id == CallEvent.call_id)
                           .where(*today, CallEvent.kind.in_(WAIT_EVENTS))
                           .order_by(CallEvent.call_id, CallEvent.seq)).all()
    statuses: dict[str, set[str]] = defaultdict(set)
    for stint in stints:
        statuses[stint.call_id].add(str(stint.status).upper())
    moments: dict[str, dict[str, datetime]] = defaultdict(dict)
    for e in events:
        moments[e.call_id].setdefault(e.kind, aware(e.at))  # type: ignore[arg-type]
    answered = in_time = abandoned = 0
    waits: list[float] = []
    for call in calls:
        mine, at = statuses.get(call.id, set()), moments.get(call.id, {})
        handed = at.get(ev.Route.kind)
        if (call.outcome == "abandoned" or "ABANDONED" in mine
                or (call.outcome == "caller_hangup" and "ANSWERED" not in mine)):
            abandoned += 1
            gone = at.get(ev.Hangup.kind) or at.get(ev.End.kind) or aware(call.ended_at)
            if handed is not None and gone is not None:
                waits.append(max(0.0, (gone - handed).total_seconds()))
        elif call.outcome == "answered" or "ANSWERED" in mine:
            answered += 1
            connect = at.get(ev.AgentConnect.kind)
            wait = ((connect - handed).total_seconds() if handed and connect
                    else call.hold_seconds)
            if wait is not None:
                waits.append(max(0.0, float(wait)))
                in_time += wait <= service_level_seconds
    ended = answered + abandoned
    return TodayFigures(
        day=day.isoformat(), timezone=timezone, service_level_seconds=service_level_seconds,
        offered=len(calls), answered=answered, answered_in_time=in_time, abandoned=abandoned,
        service_level=round(in_time / ended, 4) if ended else None,
        abandonment=round(abandoned / ended, 4) if ended else None,
        longest_wait_seconds=round(max(waits), 1) if waits else None)

"""The management report's figures, read from the call records for one period.

Every figure is about the calls that *started* in ``[since, until)``; answers,
turns and queue stints belong to their call's period. Hours, weekdays and dates
are local time in the report's time zone (default Asia/Shanghai); the database
keeps UTC. Nothing here carries a caller's identity: counts, rates, percentiles
and theme counts over masked words, never a number, a name or a call id.

The result is a tree of dataclasses; ``Figures.to_dict()`` is what ``ivr report
--json`` prints and what the HTML and the charts are made from.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.reports.containment import Containment, containment
from ivr.reports.labels import department_label, not_symptoms, symptom_label
from ivr.reports.themes import THEMES, count_themes
from ivr.reports.trends import DEFAULT_RULE, Rise, RiseRule, find_rises
from ivr.store.models import (
    Call,
    Drill,
    QueueResult,
    SurveyAnswer,
    TriageDecision,
    Turn,
    aware,
    not_a_drill,
)

DEFAULT_TZ = "Asia/Shanghai"
COMPLAINTS_FLOW = "complaints"
NEGATIVE_AT_MOST = 2  # a survey score this low or lower is negative feedback
URGENCY_KEYS = ("1", "2", "3", "4", "none")
# queue hold histogram: bin edges in seconds (the last bin is open-ended)
HOLD_EDGES = (0, 15, 30, 60, 120, 180, 300, 600)
DAY = timedelta(days=1)


@dataclass
class Period:
    since: str
    until: str
    timezone: str
    generated_at: str
    days: list[str]  # every local date the period touches


@dataclass
class Volume:
    total: int
    inbound: int
    outbound: int
    by_outcome: dict[str, int]
    by_hour: list[int]  # 24, local hour of day
    by_weekday: list[int]  # 7, Monday first
    by_day: list[int]  # aligned with Period.days


@dataclass
class Triage:
    triaged_calls: int  # calls with at least one triage decision
    by_urgency: dict[str, int]  # "1".."4" (the most urgent heard on the call), "none"
    by_department: dict[str, int]  # the call's department, "none" when never set
    department_labels: dict[str, str]


@dataclass
class SymptomRow:
    symptom: str
    label: str
    calls: int
    share: float  # of triaged calls
    by_day: list[int]  # aligned with Period.days
    recent: int  # calls in the trend check's recent window (Trend.recent_days)
    baseline_per_day: float | None  # None: too little history for a verdict


@dataclass
class QueueWait:
    queue: str
    stints: int
    answered: int
    abandoned: int
    abandonment_rate: float | None
    hold_p50: float | None
    hold_p90: float | None


@dataclass
class Waits:
    """Calls that joined a queue (have a queue stint). Abandoned: the caller hung up while
    queued (a stint ABANDONED, or the call ended 'abandoned', or 'caller_hangup' with no
    stint answered); a queue TIMEOUT that overflowed elsewhere is not abandonment."""

    queued_calls: int
    answered: int
    abandoned: int
    abandonment_rate: float | None  # abandoned / queued calls
    hold_p50: float | None  # seconds a call held, all its queue stints together
    hold_p90: float | None
    hold_histogram: list[dict[str, Any]]  # [{"label": "0-15s", "calls": n}, ...]
    by_queue: list[QueueWait]


@dataclass
class SurveyDimension:
    dimension: str
    n: int  # answered
    unanswered: int
    scale: int
    mean: float | None
    distribution: dict[str, int]  # "1".."scale"


@dataclass
class Feedback:
    negative_answers: int  # survey answers scoring <= NEGATIVE_AT_MOST
    negative_by_group: list[dict[str, Any]]  # department, flow, dimension, answers
    texts: dict[str, int]  # comments + complaint transcripts scanned, per language
    themes: list[dict[str, Any]]  # theme, label, label_zh, zh, en, other, total


@dataclass
class Trend:
    """How the rise check was run (``ivr.reports.trends``)."""

    rule: str
    recent_days: int
    baseline_days: int  # of history actually used


@dataclass
class DrillRun:
    """One ``ivr drill`` call (its call is left out of every other figure)."""

    started_at: str  # local time
    scenario: str
    passed: bool
    time_to_human_s: float | None
    failed_steps: list[str]


@dataclass
class Drills:
    runs: list[DrillRun] = field(default_factory=list)
    passed: int = 0
    failed: int = 0
    time_to_human_p50: float | None = None
    time_to_human_max: float | None = None


@dataclass
class Figures:
    period: Period
    volume: Volume
    triage: Triage
    symptoms: list[SymptomRow]
    waits: Waits
    survey: list[SurveyDimension]
    feedback: Feedback
    alerts: list[Rise]
    trend: Trend
    notes: list[str] = field(default_factory=list)
    drills: Drills = field(default_factory=Drills)
    containment: Containment = field(default_factory=Containment)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), interpolated between ranks like numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("report bounds must carry a time zone")
    return moment.astimezone(UTC)


def _local_days(since: datetime, until: datetime, tz: ZoneInfo) -> list[date]:
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _hold_histogram(holds: Iterable[float]) -> list[dict[str, Any]]:
    counts = [0] * len(HOLD_EDGES)
    for hold in holds:
        index = sum(1 for edge in HOLD_EDGES[1:] if hold >= edge)
        counts[index] += 1
    labels = [f"{lo}-{hi}s" for lo, hi in itertools.pairwise(HOLD_EDGES)]
    labels.append(f"{HOLD_EDGES[-1]}s+")
    return [{"label": label, "calls": n} for label, n in zip(labels, counts, strict=True)]


# drill calls (ivr drill) are no patients' calls: left out of every figure but Drills
_NOT_A_DRILL = not_a_drill()


def _drills(s: Session, since: datetime, until: datetime, zone: ZoneInfo) -> Drills:
    rows = s.scalars(select(Drill).where(Drill.started_at >= since, Drill.started_at < until)
                     .order_by(Drill.started_at)).all()
    runs = [DrillRun(started_at=aware(d.started_at).astimezone(zone).replace(microsecond=0)
                     .isoformat(), scenario=d.scenario, passed=d.passed,
                     time_to_human_s=d.time_to_human_s,
                     failed_steps=[str(st.get("step")) for st in d.steps or ()
                                   if not st.get("held")])
            for d in rows]
    times = [r.time_to_human_s for r in runs if r.time_to_human_s is not None]
    return Drills(runs=runs, passed=sum(r.passed for r in runs),
                  failed=sum(not r.passed for r in runs),
                  time_to_human_p50=percentile(times, 50),
                  time_to_human_max=max(times) if times else None)


class _Reader:
    """The rows of one period, read once, in a few plain queries."""

    def __init__(self, s: Session, since: datetime, until: datetime) -> None:
        in_period = (Call.started_at >= since, Call.started_at < until, _NOT_A_DRILL)
        self.calls = s.execute(select(
            Call.id, Call.started_at, Call.direction, Call.outcome, Call.department,
            Call.urgency, Call.hold_seconds, Call.flow, Call.language, Call.queue,
        ).where(*in_period)).all()
        self.triage = s.execute(select(
            TriageDecision.call_id, TriageDecision.symptoms,
        ).join(Call, Call.id == TriageDecision.call_id).where(*in_period)).all()
        self.queue = s.execute(select(
            QueueResult.call_id, QueueResult.seq, QueueResult.queue, QueueResult.status,
            QueueResult.hold_seconds,
        ).join(Call, Call.id == QueueResult.call_id).where(*in_period)
            .order_by(QueueResult.call_id, QueueResult.seq)).all()
        self.survey = s.execute(select(
            SurveyAnswer.call_id, SurveyAnswer.dimension, SurveyAnswer.score,
            SurveyAnswer.scale, SurveyAnswer.comment,
        ).join(Call, Call.id == SurveyAnswer.call_id).where(*in_period)).all()
        self.complaint_words = s.execute(select(
            Turn.transcript, Call.language,
        ).join(Call, Call.id == Turn.call_id)
            .where(*in_period, Call.flow == COMPLAINTS_FLOW, Turn.transcript != "")).all()


def _volume(rows: Sequence[Any], days: list[date], tz: ZoneInfo) -> Volume:
    by_hour, by_weekday = [0] * 24, [0] * 7
    by_day = dict.fromkeys(days, 0)
    for row in rows:
        local = aware(row.started_at).astimezone(tz)
        by_hour[local.hour] += 1
        by_weekday[local.weekday()] += 1
        if local.date() in by_day:
            by_day[local.date()] += 1
    outcomes = Counter(row.outcome or "unknown" for row in rows)
    return Volume(
        total=len(rows),
        inbound=sum(1 for r in rows if r.direction != "outbound"),
        outbound=sum(1 for r in rows if r.direction == "outbound"),
        by_outcome=dict(outcomes.most_common()),
        by_hour=by_hour, by_weekday=by_weekday, by_day=list(by_day.values()),
    )


def _triage(calls: Sequence[Any], decisions: Sequence[Any]) -> Triage:
    urgency = dict.fromkeys(URGENCY_KEYS, 0)
    for row in calls:
        urgency[str(row.urgency) if row.urgency in (1, 2, 3, 4) else "none"] += 1
    departments = Counter(row.department or "none" for row in calls)
    by_department = dict(sorted(departments.items(), key=lambda kv: (-kv[1], kv[0])))
    return Triage(
        triaged_calls=len({d.call_id for d in decisions}),
        by_urgency=urgency, by_department=by_department,
        department_labels={d: department_label(d) for d in by_department},
    )


def _symptoms(ids: Iterable[Any] | None) -> set[str]:
    """The symptoms of one decision: its rule entries less patient groups and requests."""
    skip = not_symptoms()
    return {str(i) for i in ids or () if str(i) not in skip}


def _symptoms_per_call(decisions: Iterable[Any]) -> dict[str, set[str]]:
    """Symptoms heard on each triaged call (a call with none still counts as triaged)."""
    per_call: dict[str, set[str]] = defaultdict(set)
    for d in decisions:
        per_call[d.call_id].update(_symptoms(d.symptoms))
    return per_call


def _waits(calls: Sequence[Any], stints: Sequence[Any]) -> Waits:
    by_call: dict[str, list[Any]] = defaultdict(list)
    for stint in stints:
        by_call[stint.call_id].append(stint)
    queued = [c for c in calls if by_call.get(c.id)]  # a transfer to an extension is not
    abandoned_ids = set()
    answered = 0
    holds = []
    for call in queued:
        mine = by_call.get(call.id, [])
        statuses = {str(s.status).upper() for s in mine}
        if (call.outcome == "abandoned" or "ABANDONED" in statuses
                or (call.outcome == "caller_hangup" and "ANSWERED" not in statuses)):
            abandoned_ids.add(call.id)
        elif "ANSWERED" in statuses or call.outcome == "answered":
            answered += 1
        hold = [s.hold_seconds for s in mine if s.hold_seconds is not None]
        if hold:
            holds.append(float(sum(hold)))
        elif call.hold_seconds is not None:
            holds.append(float(call.hold_seconds))
    per_queue: dict[str, list[tuple[Any, bool]]] = defaultdict(list)
    for call_id, mine in by_call.items():
        for i, stint in enumerate(mine):
            last = i == len(mine) - 1
            gave_up = str(stint.status).upper() == "ABANDONED" or (
                last and call_id in abandoned_ids)
            per_queue[stint.queue].append((stint, gave_up))
    by_queue = []
    for queue, rows in sorted(per_queue.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        queue_holds = [float(s.hold_seconds) for s, _ in rows if s.hold_seconds is not None]
        gave_up = sum(1 for _, g in rows if g)
        by_queue.append(QueueWait(
            queue=queue, stints=len(rows),
            answered=sum(1 for s, _ in rows if str(s.status).upper() == "ANSWERED"),
            abandoned=gave_up, abandonment_rate=_rate(gave_up, len(rows)),
            hold_p50=percentile(queue_holds, 50), hold_p90=percentile(queue_holds, 90)))
    return Waits(
        queued_calls=len(queued), answered=answered, abandoned=len(abandoned_ids),
        abandonment_rate=_rate(len(abandoned_ids), len(queued)),
        hold_p50=percentile(holds, 50), hold_p90=percentile(holds, 90),
        hold_histogram=_hold_histogram(holds), by_queue=by_queue,
    )


def _survey(answers: Sequence[Any]) -> list[SurveyDimension]:
    per_dim: dict[str, list[Any]] = defaultdict(list)
    for a in answers:
        per_dim[a.dimension].append(a)
    out = []
    for dimension in sorted(per_dim):
        rows = per_dim[dimension]
        scale = max((a.scale or 5) for a in rows)
        scores = [a.score for a in rows if a.score is not None]
        dist = {str(k): 0 for k in range(1, scale + 1)}
        for score in scores:
            if str(score) in dist:
                dist[str(score)] += 1
        out.append(SurveyDimension(
            dimension=dimension, n=len(scores), unanswered=len(rows) - len(scores), scale=scale,
            mean=round(sum(scores) / len(scores), 2) if scores else None, distribution=dist))
    return out


def _feedback(calls: Sequence[Any], answers: Sequence[Any],
              complaint_words: Sequence[Any]) -> Feedback:
    call_by_id = {c.id: c for c in calls}
    groups: Counter[tuple[str, str, str]] = Counter()
    for a in answers:
        if a.score is not None and a.score <= NEGATIVE_AT_MOST:
            call = call_by_id.get(a.call_id)
            groups[(call.department or "none" if call else "none",
                    call.flow or "none" if call else "none", a.dimension)] += 1
    texts = [(a.comment, call_by_id[a.call_id].language if a.call_id in call_by_id else "")
             for a in answers if a.comment and a.comment.strip()]
    texts += [(t.transcript, t.language or "") for t in complaint_words]
    counts = count_themes(texts)
    per_lang: Counter[str] = Counter()
    for _text, language in texts:
        lang = language.split("-")[0].lower()
        per_lang[lang if lang in ("zh", "en") else "other"] += 1
    themes = []
    for theme, (label, label_zh, _phrases) in THEMES.items():
        c = counts[theme]
        themes.append({"theme": theme, "label": label, "label_zh": label_zh,
                       "zh": c["zh"], "en": c["en"], "other": c["other"],
                       "total": c["zh"] + c["en"] + c["other"]})
    themes.sort(key=lambda t: (-t["total"], t["theme"]))
    return Feedback(
        negative_answers=sum(groups.values()),
        negative_by_group=[{"department": d, "flow": f, "dimension": dim, "answers": n}
                           for (d, f, dim), n in sorted(groups.items(),
                                                        key=lambda kv: (-kv[1], kv[0]))],
        texts={k: per_lang.get(k, 0) for k in ("zh", "en", "other")},
        themes=themes,
    )


def _daily_blocks(s: Session, until: datetime, rule: RiseRule
                  ) -> tuple[dict[str, list[int]], int]:
    """Calls per symptom in 24-hour blocks back from ``until`` (most recent first) and
    how many baseline blocks the records cover."""
    blocks = rule.recent_days + rule.baseline_days
    start = until - blocks * DAY
    first = aware(s.scalar(select(func.min(Call.started_at))))
    if first is None:
        return {}, 0
    covered = min(blocks, math.ceil((until - max(first, start)) / DAY))
    baseline_days = max(0, covered - rule.recent_days)
    rows = s.execute(select(TriageDecision.call_id, TriageDecision.symptoms, Call.started_at)
                     .join(Call, Call.id == TriageDecision.call_id)
                     .where(Call.started_at >= start, Call.started_at < until,
                            _NOT_A_DRILL)).all()
    seen: set[tuple[str, str]] = set()
    daily: dict[str, list[int]] = defaultdict(lambda: [0] * blocks)
    for row in rows:
        index = int((until - aware(row.started_at)) / DAY)
        for symptom in _symptoms(row.symptoms):
            if (row.call_id, symptom) in seen or not 0 <= index < blocks:
                continue
            seen.add((row.call_id, symptom))
            daily[symptom][index] += 1
    return dict(daily), baseline_days


def compute_figures(engine: Engine, since: datetime, until: datetime, *,
                    tz: str = DEFAULT_TZ, top: int = 10, rule: RiseRule = DEFAULT_RULE,
                    now: datetime | None = None, knowledge: Path | None = None) -> Figures:
    """All the report's figures for calls started in ``[since, until)`` (aware datetimes)."""
    zone = ZoneInfo(tz)
    since, until = _utc(since), _utc(until)
    if since >= until:
        raise ValueError("the period is empty: since must be before until")
    days = _local_days(since, until, zone)
    with Session(engine) as s:
        rows = _Reader(s, since, until)
        daily, baseline_days = _daily_blocks(s, until, rule)
        drills = _drills(s, since, until, zone)
        contained = containment(s, (Call.started_at >= since, Call.started_at < until,
                                    _NOT_A_DRILL), knowledge,
                                (now or datetime.now(UTC)).astimezone(zone).date())

    per_call = _symptoms_per_call(rows.triage)
    totals: Counter[str] = Counter()
    by_day: dict[str, Counter[date]] = defaultdict(Counter)
    started = {c.id: aware(c.started_at).astimezone(zone).date() for c in rows.calls}
    for call_id, symptoms in per_call.items():
        for symptom in symptoms:
            totals[symptom] += 1
            by_day[symptom][started[call_id]] += 1
    triaged = len(per_call)  # the share's denominator: calls the line triaged
    alerts = find_rises(daily, baseline_days, rule)
    ranked = [name for name, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    flagged = {a.symptom for a in alerts}
    symptom_rows = []  # the top ones, and any flagged symptom below them
    for symptom in [n for i, n in enumerate(ranked) if i < top or n in flagged]:
        calls = totals[symptom]
        blocks = daily.get(symptom, [])
        baseline = blocks[rule.recent_days:rule.recent_days + baseline_days]
        symptom_rows.append(SymptomRow(
            symptom=symptom, label=symptom_label(symptom), calls=calls,
            share=round(calls / triaged, 4) if triaged else 0.0,
            by_day=[by_day[symptom][d] for d in days],
            recent=sum(blocks[:rule.recent_days]),
            baseline_per_day=(round(sum(baseline) / baseline_days, 2)
                              if baseline_days >= rule.min_baseline_days else None)))

    notes = []
    if baseline_days < rule.min_baseline_days:
        notes.append(f"only {baseline_days} day(s) of history before the last "
                     f"{rule.recent_days}: no rise can be judged yet")
    generated = (now or datetime.now(UTC)).astimezone(zone).replace(microsecond=0)
    return Figures(
        period=Period(since=since.astimezone(zone).isoformat(),
                      until=until.astimezone(zone).isoformat(), timezone=tz,
                      generated_at=generated.isoformat(),
                      days=[d.isoformat() for d in days]),
        volume=_volume(rows.calls, days, zone),
        triage=_triage(rows.calls, rows.triage),
        symptoms=symptom_rows,
        waits=_waits(rows.calls, rows.queue),
        survey=_survey(rows.survey),
        feedback=_feedback(rows.calls, rows.survey, rows.complaint_words),
        alerts=alerts,
        trend=Trend(rule=rule.describe(), recent_days=rule.recent_days,
                    baseline_days=min(baseline_days, rule.baseline_days)),
        notes=notes,
        drills=drills,
        containment=contained,
    )

"""A caller's recent history, looked up at call start so nobody repeats their story.

The engine reads it before the first prompt: flows greet returning callers and
offer to continue an open matter, the agent who takes the call sees it in the
call summary, and a verified patient can hear it read back by phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.notices import FOLLOWUP_KIND as NOTICE_CALL
from ivr.store.models import Call, FollowUp, Patient, TriageDecision, aware, utcnow

HISTORY_DAYS = 30
OPEN_STATUSES = ("open", "calling")
# Follow-ups the line settles itself: an appointment change is told first on any call
# (ivr/notices/), so it is no matter a flow offers to continue with a person.
TOLD_BY_THE_LINE = frozenset({NOTICE_CALL})


@dataclass(frozen=True)
class PastCall:
    call_id: str
    started_at: datetime
    flow: str
    department: str | None
    urgency: int | None
    outcome: str | None
    symptoms: tuple[str, ...] = ()
    queue: str | None = None

    @property
    def topic(self) -> str:
        """What the call was about, as well as the record says: triage, queue, flow."""
        return self.department or self.queue or self.flow


@dataclass(frozen=True)
class OpenMatter:
    followup_id: str
    kind: str
    due_at: datetime
    status: str


@dataclass
class CallerHistory:
    calls: list[PastCall] = field(default_factory=list)
    open_followups: list[OpenMatter] = field(default_factory=list)
    calls_24h: int = 0
    known_patient: bool = False
    age_group: str | None = None
    calls_30d: int = 0  # all of them; ``calls`` holds the latest few

    def as_vars(self, now: datetime) -> dict[str, Any]:
        """Call variables flows can branch on (``caller.returning`` ...)."""
        matters = [m for m in self.open_followups if m.kind not in TOLD_BY_THE_LINE]
        out: dict[str, Any] = {
            "caller.returning": bool(self.calls),
            "caller.calls_30d": self.calls_30d,
            "caller.repeat_calls_24h": self.calls_24h,
            "caller.open_followups": len(matters),
            "caller.known": self.known_patient,
        }
        if self.calls:
            last = self.calls[0]
            out["caller.last_call_days"] = (now - last.started_at).days
            if last.department or last.queue:
                out["caller.last_department"] = last.department or last.queue
            if last.urgency:
                out["caller.last_urgency"] = last.urgency
        if matters:
            out["caller.open_followup_kind"] = matters[0].kind
        if self.age_group:
            out["caller.age_group"] = self.age_group
        summary = self.summary()
        if summary:
            out["caller.history"] = summary
        return out

    def summary(self) -> str:
        """One line for the agent's screen: what this caller already told us."""
        parts = []
        if self.calls:
            last = self.calls[0]
            what = last.topic
            if last.symptoms:
                what += f" ({', '.join(last.symptoms[:3])})"
            level = f", urgency {last.urgency}" if last.urgency else ""
            parts.append(f"{self.calls_30d} call(s) in {HISTORY_DAYS} d; last "
                         f"{last.started_at:%m-%d} {what}{level}")
        for matter in self.open_followups[:2]:
            parts.append(f"open follow-up {matter.kind} due {matter.due_at:%m-%d}")
        return "; ".join(parts)


def age_group(birth_year: int | None, now: datetime) -> str | None:
    """The triage rules' age groups (infant, child, adult, elderly) from the registry."""
    if birth_year is None:
        return None
    age = now.year - birth_year
    if age < 1:
        return "infant"
    if age < 14:
        return "child"
    return "elderly" if age >= 65 else "adult"


def lookup(s: Session, caller_hash: str, now: datetime | None = None,
           limit: int = 10, exclude_call: str | None = None) -> CallerHistory:
    now = aware(now) or utcnow()
    if not caller_hash:
        return CallerHistory()
    inbound = [Call.caller_hash == caller_hash, Call.direction == "inbound",
               *([Call.id != exclude_call] if exclude_call else [])]

    def count_since(moment: datetime) -> int:
        return s.scalar(select(func.count()).select_from(Call)
                        .where(*inbound, Call.started_at >= moment)) or 0

    since = now - timedelta(days=HISTORY_DAYS)
    rows = list(s.scalars(select(Call).where(*inbound, Call.started_at >= since)
                          .order_by(Call.started_at.desc()).limit(limit)))
    symptoms: dict[str, tuple[str, ...]] = {}
    if rows:
        for call_id, found in s.execute(
                select(TriageDecision.call_id, TriageDecision.symptoms)
                .where(TriageDecision.call_id.in_([c.id for c in rows]))):
            symptoms[call_id] = tuple(dict.fromkeys((*symptoms.get(call_id, ()), *found)))
    calls = [PastCall(c.id, aware(c.started_at) or now, c.flow, c.department, c.urgency,
                      c.outcome, symptoms.get(c.id, ()), c.queue) for c in rows]
    matters = [OpenMatter(f.id, f.kind, aware(f.due_at) or now, f.status)
               for f in s.scalars(select(FollowUp).where(
                   FollowUp.caller_hash == caller_hash, FollowUp.status.in_(OPEN_STATUSES))
                   .order_by(FollowUp.due_at))]
    patient = s.scalar(select(Patient).where(Patient.phone_hash == caller_hash).limit(1))
    return CallerHistory(calls, matters, count_since(now - timedelta(hours=24)),
                         patient is not None,
                         age_group(patient.birth_year if patient else None, now),
                         count_since(since) if len(calls) == limit else len(calls))


def verify(s: Session, caller_hash: str, dob_hash: str) -> bool:
    """Does a patient registered with this phone number have this date of birth?"""
    return s.scalar(select(Patient.id).where(Patient.phone_hash == caller_hash,
                                             Patient.dob_hash == dob_hash).limit(1)) is not None


def patient_id(s: Session, caller_hash: str, dob_hash: str) -> int | None:
    """The registry row with this phone number and date of birth (the verified caller)."""
    return s.scalar(select(Patient.id).where(Patient.phone_hash == caller_hash,
                                             Patient.dob_hash == dob_hash).limit(1))

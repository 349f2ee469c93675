"""Structured rows derived from call events, written in the event's own transaction.

The flow runner only says what happened (``turn``, ``triage``, ``queue``,
``survey``...); this module turns that into the tables staff and reports read
(turns, triage decisions, queue results, survey answers) and the call's own columns
it decides (choice, department, queue, priority, outcome, agent). Keeping it here means
one place knows the mapping, and a replayed event rebuilds exactly the same rows.
Each row is read as its typed event (``ivr.events``), so the keys read here are the
ones producers write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.store.models import (
    Call,
    CallEvent,
    QueueResult,
    SurveyAnswer,
    TriageDecision,
    Turn,
)

Projector = Callable[[Session, CallEvent, Any], None]


def typed(row: CallEvent) -> ev.Event:
    """The typed event a stored row holds."""
    return ev.decode(row.kind, row.step, row.text, row.detail)


def _prompt_before(s: Session, row: CallEvent) -> str:
    """The last thing the line said in this step: the question the caller answered."""
    return s.scalar(select(CallEvent.text).where(
        CallEvent.call_id == row.call_id, CallEvent.kind == ev.Prompt.kind,
        CallEvent.step == row.step, CallEvent.seq < row.seq,
    ).order_by(CallEvent.seq.desc()).limit(1)) or ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _turn(s: Session, row: CallEvent, e: ev.Turn) -> None:
    s.add(Turn(call_id=row.call_id, seq=row.seq, at=row.at, step=row.step,
               prompt_text=_prompt_before(s, row), transcript=e.text,
               confidence=e.confidence, barged_in=bool(e.barged_in),
               speech_ms=_int(e.speech_ms), listen_ms=_int(e.listen_ms)))


def _keys(s: Session, row: CallEvent, e: ev.Input) -> None:
    dtmf = str(e.dtmf or "")
    if dtmf:  # spoken answers are the 'turn' event before this one
        s.add(Turn(call_id=row.call_id, seq=row.seq, at=row.at, step=row.step,
                   prompt_text=_prompt_before(s, row), dtmf=dtmf[:32],
                   barged_in=bool(e.barge_in)))


def _missed(s: Session, row: CallEvent, e: ev.Missed) -> None:
    s.add(Turn(call_id=row.call_id, seq=row.seq, at=row.at, step=row.step,
               prompt_text=_prompt_before(s, row), dtmf=str(e.dtmf or "")[:32],
               outcome=e.kind))


def _triage(s: Session, row: CallEvent, e: ev.Triage) -> None:
    urgency = int(e.urgency)  # type: ignore[arg-type]  # a decision always has one
    s.add(TriageDecision(
        call_id=row.call_id, seq=row.seq, at=row.at, step=row.step,
        language=str(e.lang), text=e.text, urgency=urgency,
        department=str(e.department), queue_priority=int(e.queue_priority or 0),
        crisis=bool(e.crisis), symptoms=list(e.symptoms or []),
        reasons=list(e.reasons or []),
        rules_version="" if e.rules_version is None else str(e.rules_version)))
    call = s.get(Call, row.call_id)
    if call is not None:  # the most urgent level heard on the call is the call's level
        call.urgency = urgency if call.urgency is None else min(call.urgency, urgency)
        call.department = str(e.department) or call.department


def _queue(s: Session, row: CallEvent, e: ev.QueueResult) -> None:
    s.add(QueueResult(call_id=row.call_id, seq=row.seq, at=row.at,
                      queue=str(e.queue or row.step), priority=_int(e.priority) or 0,
                      status=str(e.status or ""), agent=e.agent,
                      hold_seconds=_int(e.hold_seconds)))
    call = s.get(Call, row.call_id)
    if call is not None and e.status == "ANSWERED":
        call.outcome, call.agent = "answered", e.agent


def _route(s: Session, row: CallEvent, e: ev.Route) -> None:
    """Where the call was put through: the queue (``ext:<n>`` for an extension) and its
    priority; an escalation also becomes the call's department (who took it over)."""
    call = s.get(Call, row.call_id)
    if call is None:
        return
    call.queue = f"ext:{e.extension}" if e.extension else (e.queue or row.step)
    if e.priority is not None:
        call.queue_priority = int(e.priority)
    if e.escalation:
        call.department = e.queue
    call.outcome = "routed"


def _set(s: Session, row: CallEvent, e: ev.SetVars) -> None:
    call = s.get(Call, row.call_id)
    if call is None:
        return
    if "choice" in e.values:  # the caller's menu choice
        call.choice = str(e.values["choice"])
    if e.values.get("lang"):  # the language the caller chose: reports and staff see it
        call.language = str(e.values["lang"])


def _survey(s: Session, row: CallEvent, e: ev.Survey) -> None:
    modes = e.modes or {}
    for dimension, score in (e.answers or {}).items():
        s.add(SurveyAnswer(call_id=row.call_id, seq=row.seq, at=row.at, survey=row.step,
                           dimension=str(dimension), score=_int(score),
                           scale=_int((e.scales or {}).get(dimension)) or 5,
                           mode=str(modes.get(dimension, "dtmf"))))


def _agent_connect(s: Session, row: CallEvent, e: ev.AgentConnect) -> None:
    """Asterisk tells us who answered and the hold time only when an agent picks up."""
    last = s.scalar(select(QueueResult).where(QueueResult.call_id == row.call_id)
                    .order_by(QueueResult.seq.desc()).limit(1))
    hold = _int(e.holdtime)
    if last is not None and hold is not None:
        last.hold_seconds = hold
    call = s.get(Call, row.call_id)
    if call is not None:
        call.agent, call.outcome, call.hold_seconds = e.interface, "answered", hold or 0


def _booking(s: Session, row: CallEvent, e: ev.Booking) -> None:
    """An appointment booked, moved or cancelled by phone: the call was about that
    department, so the caller's history (and ``ivr history``) names it."""
    call = s.get(Call, row.call_id)
    if call is not None and e.department and e.outcome in ("booked", "changed", "cancelled"):
        call.department = e.department


PROJECTORS: dict[type[ev.Event], Projector] = {
    ev.Turn: _turn,
    ev.Input: _keys,
    ev.NoInput: _missed,
    ev.NoMatch: _missed,
    ev.Triage: _triage,
    ev.QueueResult: _queue,
    ev.Route: _route,
    ev.SetVars: _set,
    ev.Survey: _survey,
    ev.AgentConnect: _agent_connect,
    ev.Booking: _booking,
}


def project(s: Session, row: CallEvent) -> None:
    """Add the structured rows for ``row`` (already added to ``s``)."""
    e = typed(row)
    projector = PROJECTORS.get(type(e))
    if projector is not None:
        s.flush()  # queries above see this event and the ones before it
        projector(s, row, e)


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)

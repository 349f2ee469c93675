"""Structured rows derived from call events, written in the event's own transaction.

The flow runner only says what happened (``turn``, ``triage``, ``queue``,
``survey``...); this module turns that into the tables staff and reports read
(turns, triage decisions, queue results, survey answers). Keeping it here means
one place knows the mapping, and a replayed event rebuilds exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import (
    Call,
    CallEvent,
    QueueResult,
    SurveyAnswer,
    TriageDecision,
    Turn,
)

Projector = Callable[[Session, CallEvent], None]


def _prompt_before(s: Session, ev: CallEvent) -> str:
    """The last thing the line said in this step: the question the caller answered."""
    return s.scalar(select(CallEvent.text).where(
        CallEvent.call_id == ev.call_id, CallEvent.kind == "prompt",
        CallEvent.step == ev.step, CallEvent.seq < ev.seq,
    ).order_by(CallEvent.seq.desc()).limit(1)) or ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _turn(s: Session, ev: CallEvent) -> None:
    d = ev.detail
    s.add(Turn(call_id=ev.call_id, seq=ev.seq, at=ev.at, step=ev.step,
               prompt_text=_prompt_before(s, ev), transcript=ev.text,
               confidence=d.get("confidence"), barged_in=bool(d.get("barged_in")),
               speech_ms=_int(d.get("speech_ms")), listen_ms=_int(d.get("listen_ms"))))


def _keys(s: Session, ev: CallEvent) -> None:
    dtmf = str(ev.detail.get("dtmf") or "")
    if dtmf:  # spoken answers are the 'turn' event before this one
        s.add(Turn(call_id=ev.call_id, seq=ev.seq, at=ev.at, step=ev.step,
                   prompt_text=_prompt_before(s, ev), dtmf=dtmf[:32],
                   barged_in=bool(ev.detail.get("barge_in"))))


def _missed(s: Session, ev: CallEvent) -> None:
    s.add(Turn(call_id=ev.call_id, seq=ev.seq, at=ev.at, step=ev.step,
               prompt_text=_prompt_before(s, ev), dtmf=str(ev.detail.get("dtmf") or "")[:32],
               outcome=ev.kind))


def _triage(s: Session, ev: CallEvent) -> None:
    d = ev.detail
    s.add(TriageDecision(
        call_id=ev.call_id, seq=ev.seq, at=ev.at, step=ev.step,
        language=str(d.get("lang", "")), text=ev.text, urgency=int(d["urgency"]),
        department=str(d["department"]), queue_priority=int(d.get("queue_priority") or 0),
        crisis=bool(d.get("crisis")), symptoms=list(d.get("symptoms") or []),
        reasons=list(d.get("reasons") or []), rules_version=str(d.get("rules_version", ""))))
    call = s.get(Call, ev.call_id)
    if call is not None:  # the most urgent level heard on the call is the call's level
        urgency = int(d["urgency"])
        call.urgency = urgency if call.urgency is None else min(call.urgency, urgency)


def _queue(s: Session, ev: CallEvent) -> None:
    d = ev.detail
    s.add(QueueResult(call_id=ev.call_id, seq=ev.seq, at=ev.at,
                      queue=str(d.get("queue") or ev.step), priority=_int(d.get("priority")) or 0,
                      status=str(d.get("status") or ""), agent=d.get("agent"),
                      hold_seconds=_int(d.get("hold_seconds"))))


def _survey(s: Session, ev: CallEvent) -> None:
    d = ev.detail
    modes = d.get("modes") or {}
    for dimension, score in (d.get("answers") or {}).items():
        s.add(SurveyAnswer(call_id=ev.call_id, seq=ev.seq, at=ev.at, survey=ev.step,
                           dimension=str(dimension), score=_int(score),
                           scale=_int((d.get("scales") or {}).get(dimension)) or 5,
                           mode=str(modes.get(dimension, "dtmf"))))


def _agent_connect(s: Session, ev: CallEvent) -> None:
    """Asterisk tells us the hold time only when an agent picks up."""
    last = s.scalar(select(QueueResult).where(QueueResult.call_id == ev.call_id)
                    .order_by(QueueResult.seq.desc()).limit(1))
    hold = _int(ev.detail.get("holdtime"))
    if last is not None and hold is not None:
        last.hold_seconds = hold


PROJECTORS: dict[str, Projector] = {
    "turn": _turn,
    "input": _keys,
    "no_input": _missed,
    "no_match": _missed,
    "triage": _triage,
    "queue": _queue,
    "survey": _survey,
    "ami:AgentConnect": _agent_connect,
}


def project(s: Session, ev: CallEvent) -> None:
    """Add the structured rows for ``ev`` (already added to ``s``)."""
    projector = PROJECTORS.get(ev.kind)
    if projector is not None:
        s.flush()  # queries above see this event and the ones before it
        projector(s, ev)


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)

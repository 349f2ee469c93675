"""What the agent console shows of a call: the live board's call (``ivr.live.board``)
turned into the page's JSON, with the caller's words summarised and their history.

Pure functions on the board's ``LiveCall`` (read through ``as_dict``, so any object
with that shape works) and on the database; the routes decide who may see it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store import history
from ivr.store.models import Call
from ivr.web.summary import summarize

VOICE_CUE_TEXT = "caller sounds more distressed"


def call_view(call: Any) -> dict[str, Any]:
    """The page's view of ``call`` (a LiveCall): triage with reasons, transcript, the
    caller's own words in short, the voice cue flag (shown only, never acted on)."""
    d = call.as_dict() if hasattr(call, "as_dict") else dict(call)
    transcript = [{"at": line.get("at"), "who": line.get("who"), "text": line.get("text")}
                  for line in d.get("transcript") or []]
    cue = d.get("voice_cue")
    return {
        "call_id": d.get("call_id"),
        "state": str(d.get("state") or ""),
        "caller": d.get("caller_masked") or "",
        "language": d.get("language") or "",
        "flow": d.get("flow") or "",
        "queue": d.get("queue"),
        "priority": d.get("priority"),
        "started_at": d.get("started_at"),
        "ended_at": d.get("ended_at"),
        "triage": {"urgency": d.get("urgency"), "department": d.get("department"),
                   "reasons": list(d.get("reasons") or []),
                   "symptoms": list(d.get("symptoms") or []),
                   "crisis": bool(d.get("crisis")), "red_flag": bool(d.get("red_flag")),
                   "routing_summary": d.get("summary") or ""},
        "summary": summarize(transcript, [*(d.get("symptoms") or []),
                                          *(d.get("reasons") or [])]),
        "transcript": transcript,
        "voice_cue": ({"text": VOICE_CUE_TEXT, **cue} if cue and cue.get("rising")
                      else None),
        "conference": d.get("conference"),
        "agent_extension": d.get("agent_extension"),
        "has_channels": bool(d.get("channel")) and bool(d.get("agent_channel")),
    }


def caller_history(db: Engine, call_id: str) -> dict[str, Any] | None:
    """The caller's other calls (30 days) and open follow-ups, as ``ivr history`` shows
    them; None while the call's own row is not in the database yet."""
    with Session(db) as s:
        call = s.get(Call, call_id)
        if call is None:
            return None
        found = (history.lookup(s, call.caller_hash, exclude_call=call_id)
                 if call.caller_hash else history.CallerHistory())
    return {
        "summary": found.summary(),
        "calls_30d": found.calls_30d,
        "calls_24h": found.calls_24h,
        "calls": [{"call_id": c.call_id, "started_at": c.started_at.isoformat(),
                   "topic": c.topic, "urgency": c.urgency, "outcome": c.outcome,
                   "symptoms": list(c.symptoms)} for c in found.calls[:5]],
        "open_followups": [{"id": m.followup_id, "kind": m.kind,
                            "due_at": m.due_at.isoformat(), "status": m.status}
                           for m in found.open_followups],
    }

"""Agents' wrap-up dispositions next to what the engine decided, for `ivr triage review`.

Each disposition says what a call was really about; the triage decision of that
call holds the (masked) words the engine decided on. Together they are the
labelled cases the rules learn from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store.models import Disposition, TriageDecision
from ivr.triage.eval import Case


def disposition_cases(engine: Engine, since: datetime) -> list[Case]:
    """One case per disposition with an urgency, on a call the engine triaged (the
    first decision of the call: what the caller said before any person spoke)."""
    cases = []
    with Session(engine) as s:
        rows = s.execute(
            select(Disposition, TriageDecision)
            .join(TriageDecision, TriageDecision.call_id == Disposition.call_id)
            .where(Disposition.at >= since, Disposition.urgency.is_not(None),
                   TriageDecision.text != "")
            .order_by(Disposition.id, TriageDecision.seq))
        seen: set[int] = set()
        for disp, decision in rows:
            if disp.id in seen:
                continue
            seen.add(disp.id)
            cases.append(Case(decision.text, decision.language or "zh", int(disp.urgency),
                              disp.department, (), {}, disp.id))
    return cases

"""How many calls the line resolved itself (issue 15's measure): from the events of the
self-service steps (``answer``: ivr.events.Answer, ``book``: Booking, ``results_status``:
ResultsRead, ``notices``: NoticesTold) and the calls' routes.

The line *served* a call when it did the caller's business itself: an entry spoken, a
booking made, moved, cancelled (or kept after all) by phone, a results status read. A
served call is *resolved* (contained) when it went to no person afterwards (no route
event later in the call). For the knowledge base alone: calls that heard an entry and
those contained, answers followed by a request for a person, questions no entry
answered (or the caller said was not what they asked), and the entries that cannot be
spoken today (expired or withdrawn: those callers go to a person). Each served call is
counted under the flow whose step served it first.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import Call, CallEvent


@dataclass
class EntryUse:
    entry: str  # id@version
    spoken: int = 0
    contained: int = 0
    asked_person: int = 0


@dataclass
class FlowUse:
    flow: str
    answered: int = 0  # calls where an entry was spoken
    contained: int = 0
    served: int = 0  # calls this flow's self-service steps served first (any kind)
    resolved: int = 0  # ... and that then went to no person


# What counts as the line doing the caller's business: event kind -> outcomes.
SERVED = {"answer": {"spoken"}, "booking": {"booked", "changed", "cancelled", "kept"},
          "results_status": {"read"}}


@dataclass
class Containment:
    answered_calls: int = 0
    contained_calls: int = 0
    share: float | None = None  # contained / answered
    asked_person: int = 0  # answers followed by a request for a person
    no_entry: int = 0  # questions nothing answered (or not what the caller asked)
    by_flow: list[FlowUse] = field(default_factory=list)
    by_entry: list[EntryUse] = field(default_factory=list)
    unspeakable_entries: list[str] = field(default_factory=list)  # expired or withdrawn
    served_calls: int = 0  # calls served by any self-service step
    resolved_calls: int = 0  # ... that went to no person afterwards
    resolved_share: float | None = None
    bookings: dict[str, int] = field(default_factory=dict)  # by phone: booked, changed...
    results_told: int = 0  # calls that heard a results status
    notices_told: int = 0  # calls told of a change to their appointment first


def containment(s: Session, in_period: Iterable[Any], knowledge: Path | None = None,
                today: dt.date | None = None) -> Containment:
    """Figures for the calls ``in_period`` selects (the report's period, drills left out)."""
    kinds = ("step", "route", "notices", *SERVED)
    rows = s.execute(select(CallEvent.call_id, CallEvent.seq, CallEvent.kind, CallEvent.detail,
                            Call.flow)
                     .join(Call, Call.id == CallEvent.call_id)
                     .where(*in_period, CallEvent.kind.in_(kinds))
                     .order_by(CallEvent.call_id, CallEvent.seq)).all()
    per_call: dict[str, list[Any]] = defaultdict(list)
    flows: dict[str, str] = {}
    for row in rows:
        per_call[row.call_id].append(row)
        flows[row.call_id] = row.flow or ""
    out = Containment()
    entries: dict[str, EntryUse] = {}
    by_flow: dict[str, FlowUse] = {}
    outcomes: Counter[str] = Counter()
    bookings: Counter[str] = Counter()
    for call_id, events in per_call.items():
        _self_service(out, by_flow, bookings, flows[call_id], events)
        spoken_at = [(e.seq, (e.detail or {}).get("entry", "")) for e in events
                     if e.kind == "answer" and (e.detail or {}).get("outcome") == "spoken"]
        for e in events:
            if e.kind == "answer":
                outcomes[str((e.detail or {}).get("outcome", ""))] += 1
                if (e.detail or {}).get("outcome") == "asked_person":
                    ref = str((e.detail or {}).get("entry", ""))
                    entries.setdefault(ref, EntryUse(ref)).asked_person += 1
        if not spoken_at:
            continue
        first = spoken_at[0][0]
        routed_after = any(e.kind == "route" and e.seq > first for e in events)
        flow = by_flow.setdefault(flows[call_id], FlowUse(flows[call_id]))
        flow.answered += 1
        out.answered_calls += 1
        if not routed_after:
            flow.contained += 1
            out.contained_calls += 1
        for _seq, ref in spoken_at:
            use = entries.setdefault(ref, EntryUse(ref))
            use.spoken += 1
            use.contained += 0 if routed_after else 1
    out.share = (round(out.contained_calls / out.answered_calls, 3)
                 if out.answered_calls else None)
    out.asked_person = outcomes["asked_person"]
    out.no_entry = outcomes["no_entry"] + outcomes["not_confirmed"]
    out.resolved_share = (round(out.resolved_calls / out.served_calls, 3)
                          if out.served_calls else None)
    out.bookings = {k: bookings[k] for k in ("booked", "changed", "cancelled") if bookings[k]}
    out.by_flow = sorted(by_flow.values(), key=lambda f: (-f.served, -f.answered, f.flow))
    out.by_entry = sorted(entries.values(), key=lambda e: (-e.spoken, e.entry))
    if knowledge is not None:
        from ivr.kb.entries import load

        kb = load(knowledge, today)
        usable = {ident for ident, e in kb.entries.items() if e.speakable(today or dt.date.today())}
        out.unspeakable_entries = sorted(
            {Path(f.file).stem for f in kb.findings if f.code in ("KBA011",)}
            | {ident for ident in kb.entries if ident not in usable})
    return out


def _self_service(out: Containment, by_flow: dict[str, FlowUse], bookings: Counter[str],
                  call_flow: str, events: list[Any]) -> None:
    """One call's self-service: served (and by which flow), resolved, what was done."""
    flow, served_at, served_by = call_flow, None, call_flow
    for e in events:
        detail = e.detail or {}
        if e.kind == "step":
            flow = str(detail.get("flow") or flow)
        elif e.kind in SERVED and detail.get("outcome") in SERVED[e.kind]:
            if served_at is None:
                served_at, served_by = e.seq, flow
            if e.kind == "booking" and detail.get("outcome") != "kept":
                bookings[str(detail["outcome"])] += 1
        if e.kind == "results_status" and detail.get("outcome") == "read":
            out.results_told += 1
        elif e.kind == "notices":
            out.notices_told += 1
    if served_at is None:
        return
    use = by_flow.setdefault(served_by, FlowUse(served_by))
    use.served += 1
    out.served_calls += 1
    if not any(e.kind == "route" and e.seq > served_at for e in events):
        use.resolved += 1
        out.resolved_calls += 1

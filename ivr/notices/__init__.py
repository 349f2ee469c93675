"""Notices pushed to the line (issue 15.5): a change the hospital made to a patient's
appointment is told at the start of their next call, before the menu.

The schedule's own tables are the source, read only: a booking that staff cancelled
(a cancelled clinic) or moved (``bookings.ended_by`` ``staff:...``), for a time still
ahead, booked from the number now calling. A change the caller made themselves by
phone is not news to them. The ``notices`` table records which were told, so each is
heard once. The notice says only the time, the clinic and what changed: what an SMS
to that number would say.

When staff make the change, :mod:`ivr.notices.calls` can also open an outbound
follow-up call (kind ``appointment_change``) that tells it the same way, for a booking
that kept its number (sealed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ivr.store.models import Booking, Clinic, FollowUp, Notice, Slot, aware

FOLLOWUP_KIND = "appointment_change"  # the outbound call that tells it (ivr.notices.calls)


@dataclass(frozen=True)
class Pending:
    booking_id: int
    kind: str  # cancelled | moved
    clinic: str
    starts_at: dt.datetime
    moved_to: dt.datetime | None = None


def pending(s: Session, phone_hash: str, now: dt.datetime, limit: int = 3) -> list[Pending]:
    """Staff changes to this phone's future appointments not yet told, soonest first."""
    if not phone_hash:  # a withheld number is not one person
        return []
    return _pending(s, [Booking.patient_hash == phone_hash], now, limit)


def notice_for(s: Session, booking_id: int, now: dt.datetime) -> Pending | None:
    """The notice a booking's change is, while it is one (changed by staff, ahead, untold)."""
    found = _pending(s, [Booking.id == booking_id], now, 1)
    return found[0] if found else None


def _pending(s: Session, where: list[object], now: dt.datetime, limit: int) -> list[Pending]:
    new_booking, new_slot = aliased(Booking), aliased(Slot)
    told = select(Notice.booking_id)
    rows = s.execute(
        select(Booking.id, Booking.status, Slot.starts_at, new_slot.starts_at, Slot.clinic_id)
        .join(Slot, Slot.id == Booking.slot_id)
        .outerjoin(new_booking, new_booking.id == Booking.moved_to)
        .outerjoin(new_slot, new_slot.id == new_booking.slot_id)
        .where(*where, Booking.status.in_(("cancelled", "moved")),  # type: ignore[arg-type]
               Booking.ended_by.like("staff:%"), Slot.starts_at > now,
               Booking.id.not_in(told))
        .order_by(Slot.starts_at).limit(limit)).all()
    names = {cid: name for cid, name in s.execute(select(Clinic.id, Clinic.name))}
    return [Pending(bid, status, names.get(clinic, ""), aware(start),  # type: ignore[arg-type]
                    aware(moved) if status == "moved" else None)
            for bid, status, start, moved, clinic in rows]


def mark_told(s: Session, items: list[Pending], phone_hash: str, call_id: str,
              now: dt.datetime) -> None:
    """Note what this call told. Once nothing is left to tell the phone, the outbound
    calls opened to tell it (:mod:`ivr.notices.calls`) and not yet placed are done:
    the patient heard it on this call."""
    for item in items:
        s.add(Notice(booking_id=item.booking_id, phone_hash=phone_hash, kind=item.kind,
                     heard_at=now, call_id=call_id))
    s.flush()
    if not items or pending(s, phone_hash, now, 1):
        return
    for call in s.scalars(select(FollowUp).where(
            FollowUp.caller_hash == phone_hash, FollowUp.kind == FOLLOWUP_KIND,
            FollowUp.status == "open")):
        line = f"[closed {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC: told on call {call_id}]"
        call.status, call.closed_at, call.last_outcome = "done", now, "told_on_call"
        call.reason = f"{call.reason}\n{line}".strip()

"""Notices pushed to the line (issue 15.5): a change the hospital made to a patient's
appointment is told at the start of their next call, before the menu.

The schedule's own tables are the source, read only: a booking that staff cancelled
(a cancelled clinic) or moved (``bookings.ended_by`` ``staff:...``), for a time still
ahead, booked from the number now calling. A change the caller made themselves by
phone is not news to them. The ``notices`` table records which were told, so each is
heard once. The notice says only the time, the clinic and what changed: what an SMS
to that number would say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ivr.store.models import Booking, Clinic, Notice, Slot, aware


@dataclass(frozen=True)
class Pending:
    booking_id: int
    kind: str  # cancelled | moved
    clinic: str
    starts_at: dt.datetime
    moved_to: dt.datetime | None = None


def pending(s: Session, phone_hash: str, now: dt.datetime, limit: int = 3) -> list[Pending]:
    """Staff changes to this phone's future appointments not yet told, soonest first."""
    new_booking, new_slot = aliased(Booking), aliased(Slot)
    told = select(Notice.booking_id)
    rows = s.execute(
        select(Booking.id, Booking.status, Slot.starts_at, new_slot.starts_at, Slot.clinic_id)
        .join(Slot, Slot.id == Booking.slot_id)
        .outerjoin(new_booking, new_booking.id == Booking.moved_to)
        .outerjoin(new_slot, new_slot.id == new_booking.slot_id)
        .where(Booking.patient_hash == phone_hash, Booking.status.in_(("cancelled", "moved")),
               Booking.ended_by.like("staff:%"), Slot.starts_at > now,
               Booking.id.not_in(told))
        .order_by(Slot.starts_at).limit(limit)).all()
    names = {cid: name for cid, name in s.execute(select(Clinic.id, Clinic.name))}
    return [Pending(bid, status, names.get(clinic, ""), aware(start),  # type: ignore[arg-type]
                    aware(moved) if status == "moved" else None)
            for bid, status, start, moved, clinic in rows]


def mark_told(s: Session, items: list[Pending], phone_hash: str, call_id: str,
              now: dt.datetime) -> None:
    for item in items:
        s.add(Notice(booking_id=item.booking_id, phone_hash=phone_hash, kind=item.kind,
                     heard_at=now, call_id=call_id))

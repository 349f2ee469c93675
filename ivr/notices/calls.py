"""An outbound call to tell a patient about a change the hospital made (issue 15.5).

When staff cancel or move a booking (``ivr schedule cancel|move``), the patient need
not wait for their next call: :func:`call_about` opens a follow-up (kind
``appointment_change``, flow ``followup_call``) that the engine's scheduler places in
the calling hours, as any other follow-up. The call says the change through the
same ``notices`` step as an inbound call, so whichever call comes first tells it, once
(a call in between closes the follow-up: :func:`ivr.notices.mark_told`).

A call needs the number the booking was made from, kept sealed (``bookings.
number_sealed``, bound to the phone's hash: :func:`ivr.schedule.number_context`).
Bookings without one (made before it was kept, or by staff) get no call: the
patient hears the change on their next call. The call speaks the language the
call that booked it spoke, else the flow's default. The follow-up's reason, which the
person who may take the call reads, says only what changed, where and when.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.notices import FOLLOWUP_KIND, Pending, notice_for
from ivr.schedule import number_context
from ivr.schedule.spoken import ZONE
from ivr.store.models import Booking, Call, FollowUp, Slot, utcnow
from ivr.store.recorder import CallRecorder

FLOW = "followup_call"
DEADLINE = dt.timedelta(days=2)  # then staff see it overdue, if the appointment is later
WHY = {"cancelled": "appointment cancelled by the clinic",
       "moved": "appointment moved by the clinic"}
MAX_MOVES = 20  # how far back a chain of moves is followed for the booking call's language


@dataclass(frozen=True)
class Outcome:
    """What :func:`call_about` did: ``opened`` (``followup_id``), ``already_open`` (an
    open call will tell this too: its id), ``no_number``, ``unreadable`` (the sealed
    number does not open) or ``nothing_to_tell`` (not a pending change by staff)."""

    result: str
    masked: str = ""
    followup_id: str | None = None
    language: str = ""
    due_at: dt.datetime | None = None


@dataclass(frozen=True)
class _Found:
    notice: Pending | None
    masked: str = ""
    number: str = ""
    unreadable: bool = False
    open_call: str | None = None
    language: str = ""
    reason: str = ""


async def call_about(recorder: CallRecorder, booking_id: int, by: str,
                     now: dt.datetime | None = None) -> Outcome:
    """Open the outbound call that tells booking ``booking_id``'s change (made by staff
    user ``by``, e.g. ``staff:admin.wang``), unless there is nothing to tell, no number
    to call, or a call not yet placed will tell it already."""
    now = (now or utcnow()).astimezone(dt.UTC)
    found = await asyncio.to_thread(_look, recorder, booking_id, now)
    if found.notice is None:
        return Outcome("nothing_to_tell", found.masked)
    if found.open_call:
        return Outcome("already_open", found.masked, found.open_call)
    if found.unreadable:
        return Outcome("unreadable", found.masked)
    if not found.number:
        return Outcome("no_number", found.masked)
    followup_id = await recorder.create_followup(
        number=found.number, kind=FOLLOWUP_KIND, flow=FLOW, due_at=now,
        deadline_at=min(found.notice.starts_at, now + DEADLINE), reason=found.reason,
        language=found.language, created_by=by)
    return Outcome("opened", found.masked, followup_id, found.language, now)


def _look(recorder: CallRecorder, booking_id: int, now: dt.datetime) -> _Found:
    privacy = recorder.privacy
    with Session(recorder.engine) as s:
        booking = s.get(Booking, booking_id)
        if booking is None:
            return _Found(None)
        notice = notice_for(s, booking_id, now)
        masked = booking.patient_masked
        if notice is None:
            return _Found(None, masked)
        open_call = s.scalar(select(FollowUp.id).where(
            FollowUp.caller_hash == booking.patient_hash, FollowUp.kind == FOLLOWUP_KIND,
            FollowUp.status == "open").limit(1))
        if open_call or booking.number_sealed is None:
            return _Found(notice, masked, open_call=open_call)
        try:
            number = privacy.open_number(booking.number_sealed,
                                         number_context(booking.patient_hash))
        except Exception:  # a key rotated away, a damaged or moved row: no call
            return _Found(notice, masked, unreadable=True)
        department = s.scalar(select(Slot.department).where(Slot.id == booking.slot_id))
        start = notice.starts_at.astimezone(ZONE)
        reason = (f"{WHY[notice.kind]}: {department} {notice.clinic} {start:%Y-%m-%d %H:%M}"
                  + (f", now {notice.moved_to.astimezone(ZONE):%Y-%m-%d %H:%M}"
                     if notice.moved_to else "") + f" (booking {booking_id})")
        return _Found(notice, masked, number, language=_language(s, booking), reason=reason)


def _language(s: Session, booking: Booking) -> str:
    """The language of the call that made the booking (through earlier moves): the call
    row keeps the one the caller chose (ivr.store.projections)."""
    for _ in range(MAX_MOVES):
        if booking.call_id:
            return s.scalar(select(Call.language).where(Call.id == booking.call_id)) or ""
        earlier = s.scalar(select(Booking).where(Booking.moved_to == booking.id))
        if earlier is None:
            return ""
        booking = earlier
    return ""

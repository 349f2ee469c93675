"""Appointment self-service behind one small interface (issue 15.3).

A :class:`Schedule` answers the four things the phone line and the desk need: the
next free slots of a department, book one, move a booking to another slot, cancel
it, and a patient's own bookings. The embedded default keeps them in the records
database's own tables (:class:`ivr.schedule.tables.TableSchedule`); another backend
(a hospital's FHIR server, say) implements the same protocol. Every method may raise
:class:`ScheduleError`: the caller then goes to the appointments desk, never to
silence. A slot taken by someone else first is :class:`SlotTaken`, which the line
answers with the next free time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class ScheduleError(Exception):
    """The schedule could not do it (backend down, unknown booking...): a person takes over."""


class SlotTaken(ScheduleError):
    """Someone else booked that slot first (or it has passed)."""


class NoSuchBooking(ScheduleError):
    """No active booking with that id (cancelled already, or never made)."""


@dataclass(frozen=True)
class PatientRef:
    """Who a booking is for, as the records know them: the keyed hash of the phone they
    call from (what the caller's history is keyed by), the masked number for staff
    lists, the registry row when verification found one (a family's phone), and the
    number itself sealed (AES-GCM under :func:`number_context`), opened only to call
    them about a change the hospital made (ivr/notices/)."""

    phone_hash: str
    masked: str = ""
    registry_id: int | None = None
    number_sealed: bytes | None = None


def number_context(phone_hash: str) -> str:
    """What a booking's sealed number is bound to: the phone's keyed hash, not the
    booking id, so a move carries the same sealed bytes to the new booking (unknown
    before its INSERT) while a blob copied to another phone's booking does not open."""
    return f"booking:{phone_hash}"


@dataclass(frozen=True)
class Slot:
    id: int
    department: str
    clinic: str
    clinician: str
    starts_at: dt.datetime  # aware, UTC
    minutes: int


@dataclass(frozen=True)
class Booking:
    id: int
    slot: Slot
    status: str  # booked | cancelled | moved
    patient_masked: str
    booked_by: str
    booked_at: dt.datetime
    call_id: str | None = None


class Schedule(Protocol):
    """What the line and ``ivr schedule`` use; ``by`` says who acts ("phone", a staff
    user) and ``call_id`` which call did it, for the record."""

    def free_slots(self, department: str, after: dt.datetime, limit: int = 3) -> list[Slot]:
        """The earliest slots of ``department`` starting after ``after`` that nobody holds."""
        ...

    def book(self, slot_id: int, patient: PatientRef, by: str,
             call_id: str | None = None, now: dt.datetime | None = None) -> Booking:
        """Book the slot; :class:`SlotTaken` when someone else has it."""
        ...

    def change(self, booking_id: int, slot_id: int, by: str,
               call_id: str | None = None, now: dt.datetime | None = None) -> Booking:
        """Move a booking to another slot in one step: the old one is kept if the new
        slot is taken (:class:`SlotTaken`)."""
        ...

    def cancel(self, booking_id: int, by: str, now: dt.datetime | None = None) -> Booking:
        """Cancel an active booking (:class:`NoSuchBooking` otherwise); the slot is free."""
        ...

    def bookings_for(self, patient: PatientRef, after: dt.datetime) -> list[Booking]:
        """The patient's active bookings starting after ``after``, earliest first."""
        ...


__all__ = ["Booking", "NoSuchBooking", "PatientRef", "Schedule", "ScheduleError", "Slot",
           "SlotTaken", "number_context"]

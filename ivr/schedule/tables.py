"""The embedded schedule: clinics, clinicians, slots and bookings in the records
database (models in ``ivr.store.models``, migration 0005).

Double booking is refused by the database, not by a check-then-write here: a booking
is an INSERT under the unique index over a slot's active bookings, so of two callers
(two threads, two engines on one PostgreSQL) who press "1" for the same time at once,
exactly one commits and the other's INSERT fails with an integrity error, which
becomes :class:`SlotTaken` (the line then offers the next free time). The write is the
transaction's first statement, so SQLite takes its write lock at once (waiting out
the busy timeout) instead of failing an upgrade from a read snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from ivr.schedule import Booking, NoSuchBooking, PatientRef, ScheduleError, Slot, SlotTaken
from ivr.store import models as m
from ivr.store.models import aware, utcnow

T = TypeVar("T")
ACTIVE = "booked"


class TableSchedule:
    """:class:`ivr.schedule.Schedule` on the project's own tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    # --- reads ----------------------------------------------------------------------
    def _read(self, fn: Callable[[Session], T]) -> T:
        try:
            with Session(self.engine) as s:
                return fn(s)
        except DBAPIError as exc:
            raise ScheduleError(f"schedule unreadable: {_reason(exc)}") from exc

    def free_slots(self, department: str, after: dt.datetime, limit: int = 3) -> list[Slot]:
        def query(s: Session) -> list[Slot]:
            held = aliased(m.Booking)
            rows = s.execute(_slot_columns().outerjoin(
                held, and_(held.slot_id == m.Slot.id, held.status == ACTIVE))
                .where(m.Slot.department == department, m.Slot.starts_at > _utc(after),
                       held.id.is_(None))
                .order_by(m.Slot.starts_at, m.Slot.id).limit(limit))
            return [_slot(*row) for row in rows]
        return self._read(query)

    def slot(self, slot_id: int) -> Slot | None:
        def query(s: Session) -> Slot | None:
            row = s.execute(_slot_columns().where(m.Slot.id == slot_id)).first()
            return _slot(*row) if row else None
        return self._read(query)

    def bookings_for(self, patient: PatientRef, after: dt.datetime) -> list[Booking]:
        def query(s: Session) -> list[Booking]:
            where = [m.Booking.patient_hash == patient.phone_hash, m.Booking.status == ACTIVE,
                     m.Slot.starts_at > _utc(after)]
            if patient.registry_id is not None:  # a family's phone: this patient's own
                where.append((m.Booking.patient_id == patient.registry_id)
                             | m.Booking.patient_id.is_(None))
            return self._bookings(s, where)
        return self._read(query)

    def booking(self, booking_id: int) -> Booking | None:
        found = self._read(lambda s: self._bookings(s, [m.Booking.id == booking_id]))
        return found[0] if found else None

    def listing(self, department: str | None = None, day: dt.date | None = None,
                zone: dt.tzinfo = dt.UTC) -> list[tuple[Slot, Booking | None]]:
        """Every slot (of a department, of a local day) with its active booking, if any:
        what ``ivr schedule list`` shows."""
        def query(s: Session) -> list[tuple[Slot, Booking | None]]:
            stmt = _slot_columns()
            if department:
                stmt = stmt.where(m.Slot.department == department)
            if day is not None:
                start = _utc(dt.datetime.combine(day, dt.time(), zone))
                stmt = stmt.where(m.Slot.starts_at >= start,
                                  m.Slot.starts_at < start + dt.timedelta(days=1))
            slots = [_slot(*row) for row in s.execute(stmt.order_by(m.Slot.starts_at,
                                                                     m.Slot.id))]
            held = {b.slot.id: b for b in self._bookings(s, [
                m.Booking.status == ACTIVE, m.Booking.slot_id.in_([x.id for x in slots])])}
            return [(x, held.get(x.id)) for x in slots]
        return self._read(query)

    @staticmethod
    def _bookings(s: Session, where: list[object]) -> list[Booking]:
        rows = s.execute(select(m.Booking, *_slot_columns().selected_columns)
                         .join(m.Slot, m.Slot.id == m.Booking.slot_id)
                         .join(m.Clinic, m.Clinic.id == m.Slot.clinic_id)
                         .join(m.Clinician, m.Clinician.id == m.Slot.clinician_id)
                         .where(*where).order_by(m.Slot.starts_at))  # type: ignore[arg-type]
        return [_booking(row[0], _slot(*row[1:])) for row in rows]

    # --- writes ---------------------------------------------------------------------
    def _write(self, fn: Callable[[Session], T]) -> T:
        try:
            with self.sessions.begin() as s:
                return fn(s)
        except IntegrityError as exc:
            raise SlotTaken("that slot was booked by someone else first") from exc
        except DBAPIError as exc:
            raise ScheduleError(f"schedule not written: {_reason(exc)}") from exc

    def _bookable(self, slot_id: int, now: dt.datetime) -> Slot:
        slot = self.slot(slot_id)
        if slot is None:
            raise ScheduleError(f"no slot {slot_id}")
        if slot.starts_at <= now:
            raise SlotTaken(f"slot {slot_id} has begun")
        return slot

    def book(self, slot_id: int, patient: PatientRef, by: str,
             call_id: str | None = None, now: dt.datetime | None = None) -> Booking:
        now = _utc(now or utcnow())
        slot = self._bookable(slot_id, now)

        def insert(s: Session) -> m.Booking:
            row = m.Booking(slot_id=slot_id, patient_hash=patient.phone_hash,
                            patient_masked=patient.masked, patient_id=patient.registry_id,
                            number_sealed=patient.number_sealed,
                            status=ACTIVE, booked_at=now, booked_by=by, call_id=call_id)
            s.add(row)
            s.flush()  # the INSERT first: the unique index decides, the lock is taken
            return row
        return _booking(self._write(insert), slot)

    def change(self, booking_id: int, slot_id: int, by: str,
               call_id: str | None = None, now: dt.datetime | None = None) -> Booking:
        now = _utc(now or utcnow())
        slot = self._bookable(slot_id, now)

        def move(s: Session) -> m.Booking:
            old = _active(s, booking_id)
            new = m.Booking(slot_id=slot_id, patient_hash=old.patient_hash,
                            patient_masked=old.patient_masked, patient_id=old.patient_id,
                            number_sealed=old.number_sealed,  # bound to the phone: still opens
                            status=ACTIVE, booked_at=now, booked_by=by, call_id=call_id)
            s.add(new)
            s.flush()  # taken: the whole move rolls back, the old booking stands
            old.status, old.ended_at, old.ended_by, old.moved_to = "moved", now, by, new.id
            return new
        return _booking(self._write(move), slot)

    def cancel(self, booking_id: int, by: str, now: dt.datetime | None = None) -> Booking:
        now = _utc(now or utcnow())

        def end(s: Session) -> m.Booking:
            row = _active(s, booking_id)
            row.status, row.ended_at, row.ended_by = "cancelled", now, by
            return row
        row = self._write(end)
        slot = self.slot(row.slot_id)
        assert slot is not None  # slots are never deleted while booked
        return _booking(row, slot)


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite keeps datetimes without their offset: every one goes in as UTC."""
    return (aware(moment) or moment).astimezone(dt.UTC)


def _active(s: Session, booking_id: int) -> m.Booking:
    row = s.scalar(select(m.Booking).where(m.Booking.id == booking_id,
                                           m.Booking.status == ACTIVE).with_for_update())
    if row is None:
        raise NoSuchBooking(f"no active booking {booking_id}")
    return row


def _slot_columns():  # type: ignore[no-untyped-def]
    return (select(m.Slot.id, m.Slot.department, m.Clinic.name, m.Clinician.name,
                   m.Slot.starts_at, m.Slot.minutes)
            .join(m.Clinic, m.Clinic.id == m.Slot.clinic_id)
            .join(m.Clinician, m.Clinician.id == m.Slot.clinician_id))


def _slot(ident: int, department: str, clinic: str, clinician: str,
          starts_at: dt.datetime, minutes: int) -> Slot:
    return Slot(ident, department, clinic, clinician, aware(starts_at) or starts_at, minutes)


def _booking(row: m.Booking, slot: Slot) -> Booking:
    return Booking(row.id, slot, row.status, row.patient_masked, row.booked_by,
                   aware(row.booked_at) or row.booked_at, row.call_id)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""The embedded schedule (ivr/schedule/) on SQLite and a real PostgreSQL server: free
slots, booking, moving, cancelling, and no double booking when many callers press the
same key at the same moment (threads on engines of their own, released together)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ivr.schedule import NoSuchBooking, PatientRef, SlotTaken
from ivr.schedule.importing import add_slots, read_rows
from ivr.schedule.tables import TableSchedule
from ivr.store.database import make_engine, migrate

pytestmark = pytest.mark.timeout(120)

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
CSV = """clinic,department,clinician,start,minutes
Digestive Clinic,gastroenterology,Dr Wang,2026-12-03 09:00,20
Digestive Clinic,gastroenterology,Dr Wang,2026-12-03 09:20,20
Digestive Clinic,gastroenterology,Dr Li,2026-12-03 08:40,20
Digestive Clinic,gastroenterology,Dr Li,2026-12-01 08:40,20
Heart Clinic,cardiology,Dr Zhao,2026-12-04 14:00,30
"""
ALICE = PatientRef("hash-alice", "138******01")
BOB = PatientRef("hash-bob", "139******02")


@pytest.fixture
def schedule(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    rows, problems = read_rows(CSV)
    assert problems == []
    assert add_slots(engine, rows, "test.csv") == (5, 0)
    yield TableSchedule(engine)
    engine.dispose()


def test_free_slots_are_the_earliest_future_unbooked_ones(schedule):
    free = schedule.free_slots("gastroenterology", NOW, limit=3)
    assert [(s.clinician, s.starts_at.hour, s.starts_at.minute) for s in free] == [
        ("Dr Li", 0, 40), ("Dr Wang", 1, 0), ("Dr Wang", 1, 20)]  # UTC; the past one left out
    assert free[0].clinic == "Digestive Clinic" and free[0].minutes == 20
    schedule.book(free[0].id, ALICE, "phone", call_id="call-1", now=NOW)
    assert [s.id for s in schedule.free_slots("gastroenterology", NOW)] == [
        free[1].id, free[2].id]
    assert schedule.free_slots("dermatology", NOW) == []


def test_import_twice_adds_nothing(schedule):
    rows, _ = read_rows(CSV)
    assert add_slots(schedule.engine, rows) == (0, 5)


def test_a_booked_slot_cannot_be_booked_again_and_cancel_frees_it(schedule):
    slot = schedule.free_slots("cardiology", NOW)[0]
    booking = schedule.book(slot.id, ALICE, "phone", call_id="c1", now=NOW)
    assert booking.status == "booked" and booking.slot == slot
    with pytest.raises(SlotTaken):
        schedule.book(slot.id, BOB, "phone", now=NOW)
    assert [b.id for b in schedule.bookings_for(ALICE, NOW)] == [booking.id]
    assert schedule.bookings_for(BOB, NOW) == []
    cancelled = schedule.cancel(booking.id, "staff:nurse", now=NOW)
    assert cancelled.status == "cancelled"
    with pytest.raises(NoSuchBooking):
        schedule.cancel(booking.id, "staff:nurse", now=NOW)
    assert schedule.bookings_for(ALICE, NOW) == []
    again = schedule.book(slot.id, BOB, "phone", now=NOW)  # free again
    assert schedule.listing("cardiology")[0][1] == again


def test_change_moves_the_booking_or_keeps_it_when_the_new_slot_is_taken(schedule):
    first, second, third = schedule.free_slots("gastroenterology", NOW)
    mine = schedule.book(first.id, ALICE, "phone", now=NOW)
    schedule.book(third.id, BOB, "phone", now=NOW)
    with pytest.raises(SlotTaken):
        schedule.change(mine.id, third.id, "phone", now=NOW)
    assert [b.slot.id for b in schedule.bookings_for(ALICE, NOW)] == [first.id]
    moved = schedule.change(mine.id, second.id, "phone", call_id="c2", now=NOW)
    assert [b.id for b in schedule.bookings_for(ALICE, NOW)] == [moved.id]
    assert schedule.booking(mine.id).status == "moved"
    assert first.id in [s.id for s in schedule.free_slots("gastroenterology", NOW)]


def test_a_slot_that_has_begun_is_not_booked(schedule):
    slot = schedule.free_slots("cardiology", NOW)[0]
    with pytest.raises(SlotTaken):
        schedule.book(slot.id, ALICE, "phone", now=slot.starts_at)


def test_many_callers_at_once_exactly_one_gets_the_slot(schedule, db_url):
    """Eight callers, each on an engine of its own (as on eight engine processes),
    released by one barrier onto the same slot: one booking, seven SlotTaken."""
    slot = schedule.free_slots("cardiology", NOW)[0]
    callers = 8
    engines = [make_engine(db_url) for _ in range(callers)]
    barrier = threading.Barrier(callers, timeout=30)

    def caller(i: int) -> str:
        mine = TableSchedule(engines[i])
        mine.slot(slot.id)  # connected before the race
        barrier.wait()
        try:
            mine.book(slot.id, PatientRef(f"hash-{i}", f"1380000000{i}"), "phone", now=NOW)
        except SlotTaken:
            return "taken"
        return "booked"

    try:
        with ThreadPoolExecutor(callers) as pool:
            results = list(pool.map(caller, range(callers), timeout=60))
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(results) == ["booked"] + ["taken"] * (callers - 1)
    held = [b for _s, b in schedule.listing("cardiology") if b is not None]
    assert len(held) == 1


def test_many_callers_moving_to_one_slot_at_once(schedule, db_url):
    """The same race through change(): one moves, the others keep their old booking."""
    target = schedule.free_slots("cardiology", NOW)[0]
    own = schedule.free_slots("gastroenterology", NOW)
    bookings = [schedule.book(s.id, PatientRef(f"h{i}"), "phone", now=NOW)
                for i, s in enumerate(own)]
    engines = [make_engine(db_url) for _ in bookings]
    barrier = threading.Barrier(len(bookings), timeout=30)

    def mover(i: int) -> str:
        mine = TableSchedule(engines[i])
        mine.slot(target.id)
        barrier.wait()
        try:
            mine.change(bookings[i].id, target.id, "phone", now=NOW)
        except SlotTaken:
            return "kept"
        return "moved"

    try:
        with ThreadPoolExecutor(len(bookings)) as pool:
            results = list(pool.map(mover, range(len(bookings)), timeout=60))
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(results) == ["kept"] * (len(bookings) - 1) + ["moved"]
    active = [b for i in range(len(bookings))
              for b in schedule.bookings_for(PatientRef(f"h{i}"), NOW)]
    assert len(active) == len(bookings)  # nobody lost their appointment
    assert sum(b.slot.id == target.id for b in active) == 1

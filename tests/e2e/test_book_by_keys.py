"""Booking an appointment by keys, end to end (issue 15): a registered caller rings the
hospital line on a real Asterisk 22, reaches appointments from the main menu, keys in
their date of birth, picks the first free slot offered, hears it confirmed and hangs
up; the booking is in the records database. A second registered caller is offered
and books another time: the first is no longer free. Two callers pressing 1 at the
same moment for the one free slot: one books it, the other hears it was just taken
and reaches the booking desk (a person: the agent's pyVoIP handset answers).

Real: Asterisk (hospital-inbound, FastAGI, AudioSocket, queues, PJSIP), the engine
with the shipped main and appointments flows and prompts, the records database
(SQLite file), the schedule tables (slots written by the code of ``ivr schedule
import``, patients by the recorder's ``add_patient``, as ``ivr patients add``). The
callers are Local channels whose own leg sends each key (AMI PlayDTMF) when the line
asks its question (ivr/sim/keypad.py). Changed for the test: the booking desk's hours
(in this lab's copy of appointments.yaml) are open around the clock, so the booking
path runs whenever the test does.

Own lab: instance "book", AMI 24038, SIP 24060, RTP 24200-24399, FastAGI 24573,
AudioSocket 24575, handset SIP 24160 (RTP 24400+).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import time

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.schedule import Slot
from ivr.schedule.importing import COLUMNS, add_slots, read_rows
from ivr.schedule.spoken import ZONE, when
from ivr.schedule.tables import TableSchedule
from ivr.sim.keypad import KeypadCaller, Press
from ivr.sim.lab import AgentSpec
from ivr.store import models as m
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

AGENTS = [AgentSpec("1001", ["appointments", "operator", "emergency"], talk_seconds=3.0)]
# the registry: phone -> date of birth (callers 1 and 2 book cardiology; 3 and 4 race)
PATIENTS = {"13800138601": "19520714", "13800138602": "19611103",
            "13800138603": "19700222", "13800138604": "19881230"}
CARDIOLOGY, GENERAL = "2", "3"  # keys of the appointments_department menu
CALL_SECONDS = 240


def desk_always_open(flow: str) -> str:
    """appointments.yaml with the desk open at every hour of every day."""
    flow, hours = re.subn(r'hours:\n\s+mon-fri: \["08:00-17:30"\]\n\s+sat: \["08:00-12:00"\]',
                          'hours: {mon-sun: ["00:00-24:00"]}', flow)
    flow, holidays = re.subn(r"holidays: \[.*?\]", "holidays: []", flow, flags=re.S)
    assert (hours, holidays) == (1, 1), "appointments.yaml desk_hours changed shape"
    return flow


@pytest.fixture(scope="module")
def book_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("book")
    settings = lab_settings(work, "book", ami=24038, sip=24060, rtp=range(24200, 24400),
                            agi=24573, audiosocket=24575)
    flow = work / "dialplans" / "appointments.yaml"
    flow.write_text(desk_always_open(flow.read_text(encoding="utf-8")), encoding="utf-8")
    return settings


def slot_csv(today: dt.date) -> str:
    """Three cardiology slots (callers 1 and 2) and one general medicine slot (the race),
    in the hospital's local time, as a clinic's CSV for ``ivr schedule import``."""
    d1, d2, d3 = (today + dt.timedelta(days=n) for n in (1, 2, 3))
    rows = [("Heart Clinic", "cardiology", "Dr Chen", f"{d1} 09:00", 20),
            ("Heart Clinic", "cardiology", "Dr Chen", f"{d1} 09:30", 20),
            ("Heart Clinic", "cardiology", "Dr Zhao", f"{d2} 14:00", 30),
            ("Family Clinic", "general_medicine", "Dr Sun", f"{d3} 10:00", 15)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def seed(lab) -> None:
    recorder = lab.engine.recorder
    for number, dob in PATIENTS.items():
        recorder.add_patient(number, dob)
    rows, problems = read_rows(slot_csv(dt.datetime.now(ZONE).date()), "slots.csv")
    assert not problems, problems
    assert add_slots(recorder.engine, rows, "slots.csv") == (4, 0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(book_settings):
    async with running_lab(book_settings, AGENTS, handset_sip=24160,
                           handset_rtp=24400) as running:
        await asyncio.to_thread(seed, running)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def caller(lab):
    keypad = KeypadCaller(lab)
    yield keypad
    keypad.close()


def to_booking(number: str, department_key: str, *, then: list[Press],
               before_choosing=None) -> list[Press]:
    """Keys from the main line to the first slot offered: English, not an emergency,
    appointments, book, the date of birth, the department, the first time."""
    return [Press("choose_language", "2"), Press("emergency_screen", "1"),
            Press("main_menu", "1"), Press("appointments_menu", "1"),
            Press("appointments_dob", PATIENTS[number]),
            Press("appointments_department", department_key),
            Press("book_choose", "1", before=before_choosing), *then]


def schedule(lab) -> TableSchedule:
    return TableSchedule(lab.engine.recorder.engine)


def slots_of(lab, department: str) -> list[Slot]:
    return [slot for slot, _b in schedule(lab).listing(department)]


def bookings(lab) -> list[m.Booking]:
    with Session(lab.engine.recorder.engine) as s:
        return list(s.scalars(select(m.Booking).order_by(m.Booking.id)))


def active_per_slot(lab) -> dict[int, int]:
    with Session(lab.engine.recorder.engine) as s:
        return dict(s.execute(select(m.Booking.slot_id, func.count())
                              .where(m.Booking.status == "booked")
                              .group_by(m.Booking.slot_id)).all())


def decoded(record) -> list[ev.Event]:
    return [ev.decode(e.kind, e.step, e.text, e.detail) for e in record.events]


def assert_complete(record) -> None:
    """Opened and closed, every event in order with no gap."""
    assert record.ended_at is not None and record.outcome
    kinds = [e.kind for e in record.events]
    assert kinds[0] == "start" and kinds[-1] == "end", kinds
    assert [e.seq for e in record.events] == list(range(1, len(kinds) + 1))


def assert_keys_taken(record, hung_up_at: str = "") -> None:
    """Every key answered the question it was pressed for: no question went unanswered
    (but the one the caller hung up on)."""
    missed = [(e.step, e.detail) for e in record.events
              if e.kind in ("no_input", "no_match") and e.step != hung_up_at]
    assert not missed, (missed, [(e.kind, e.step, e.detail.get("prompt") or e.detail.get(
        "dtmf")) for e in record.events])


def said(record, prompt: str) -> list[str]:
    return [e.text for e in decoded(record) if isinstance(e, ev.Prompt) and e.prompt == prompt]


def booking_events(record) -> list[ev.Booking]:
    return [e for e in decoded(record) if isinstance(e, ev.Booking)]


def assert_booked(lab, record, number: str, slot: Slot) -> None:
    """The call's book step booked ``slot`` for ``number``, by phone, under its call id."""
    privacy = lab.engine.recorder.privacy
    assert [(b.outcome, b.slot_id) for b in booking_events(record)] == [("booked", slot.id)]
    assert any(e.kind == "step" and e.step.endswith("book_slot") for e in record.events)
    assert [e.verified for e in decoded(record) if isinstance(e, ev.Verify)] == [True]
    assert when(slot.starts_at, "en-US") in said(record, "book_confirmed")[0]
    (row,) = [b for b in bookings(lab) if b.slot_id == slot.id and b.status == "booked"]
    assert (row.booked_by, row.call_id) == ("phone", record.id)
    assert row.patient_hash == privacy.caller_hash(number)
    listed = dict(schedule(lab).listing(slot.department))[slot]
    assert listed is not None and listed.call_id == record.id
    assert listed.patient_masked == privacy.display_number(number)


async def test_two_callers_book_by_keys_each_a_different_slot(lab, caller):
    first, second, third = slots_of(lab, "cardiology")
    number = "13800138601"
    started = time.monotonic()
    one = await caller.call(to_booking(number, CARDIOLOGY, then=[
        Press("appointments_after", hang_up=True)]), number, timeout=CALL_SECONDS)
    print(f"caller 1: {time.monotonic() - started:.1f} s, outcome {one.outcome}")
    assert_complete(one)
    offered = said(one, "book_choose")[0]
    assert all(when(s.starts_at, "en-US") in offered for s in (first, second, third)), offered
    assert_booked(lab, one, number, first)
    assert_keys_taken(one, hung_up_at="after_booking")
    assert one.outcome == "caller_hangup"

    number = "13800138602"
    started = time.monotonic()
    two = await caller.call(to_booking(number, CARDIOLOGY, then=[
        Press("appointments_after", "1")]), number, timeout=CALL_SECONDS)
    print(f"caller 2: {time.monotonic() - started:.1f} s, outcome {two.outcome}")
    assert_complete(two)
    offered = said(two, "book_choose")[0]
    assert when(first.starts_at, "en-US") not in offered, offered  # booked: not offered
    assert offered.index(when(second.starts_at, "en-US")) < offered.index(
        when(third.starts_at, "en-US"))
    assert_booked(lab, two, number, second)
    assert_keys_taken(two)
    assert two.outcome == "goodbye"
    assert active_per_slot(lab) == {first.id: 1, second.id: 1}


async def test_two_callers_at_once_for_the_last_slot_one_books_the_other_a_person(
        lab, caller):
    (last,) = slots_of(lab, "general_medicine")
    together = asyncio.Barrier(2)

    async def press_together() -> None:
        await asyncio.wait_for(together.wait(), 60)  # both were offered the one slot

    numbers = ("13800138603", "13800138604")
    started = time.monotonic()
    records = await asyncio.gather(*(
        caller.call(to_booking(n, GENERAL, then=[], before_choosing=press_together), n,
                    timeout=CALL_SECONDS) for n in numbers))
    print(f"race: {time.monotonic() - started:.1f} s, outcomes "
          f"{[r.outcome for r in records]}")
    for record in records:
        assert_complete(record)
        assert when(last.starts_at, "en-US") in said(record, "book_choose")[0]
    outcomes = [[b.outcome for b in booking_events(r)] for r in records]
    print("booking outcomes:", outcomes)
    winner = next(i for i, o in enumerate(outcomes) if o == ["booked"])
    loser = records[1 - winner]
    assert_booked(lab, records[winner], numbers[winner], last)
    # the loser: just taken, nothing else free, the booking desk answers (never silence)
    assert outcomes[1 - winner] in (["taken", "none_free"], ["error"]), outcomes
    if outcomes[1 - winner][0] == "taken":
        assert said(loser, "book_taken") == [] and said(loser, "book_none_free")
    routes = [e for e in decoded(loser) if isinstance(e, ev.Route)]
    assert routes and routes[-1].queue == "appointments"
    assert (loser.outcome, loser.agent) == ("answered", "PJSIP/1001")
    assert active_per_slot(lab)[last.id] == 1

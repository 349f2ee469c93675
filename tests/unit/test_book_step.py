"""The ``book`` step on the shipped appointments flow (the flow runner on its own in-memory
records and the simulator's FakeChannel): a slot taken by another caller between the offer
and the key, the schedule unreachable, a preparation entry that may not be spoken today;
and the booking in the caller's history and the schedule's list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr import events as ev
from ivr.flows.context import CallState
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import FlowRunner
from ivr.flows.simulator import CallerTurn, SimChannel, shipped_triager
from ivr.schedule import PatientRef, ScheduleError
from ivr.schedule import given as slots_given
from ivr.schedule.tables import TableSchedule
from ivr.store.recorder import CallRecorder

ROOT = Path(__file__).parents[2]
AT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SLOTS = [{"clinic": "Digestive Clinic", "department": "gastroenterology",
          "clinician": "Dr Wang", "start": f"2026-11-26 09:{m}", "minutes": 20}
         for m in ("00", "20")]
BOOK_FIRST = ["1", "19480315", "1", "1"]  # book, date of birth, gastroenterology, slot 1


@pytest.fixture(scope="module")
def flows():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


def keys(*pressed):
    return SimChannel([CallerTurn("key", k) for k in pressed])


@dataclass
class Done:
    outcome: str
    events: list[ev.Event]
    record: object
    past: object  # the caller's history after the call
    held: list  # (slot, booking) as `ivr schedule list` shows them


async def run(flows, channel, plug=None, lang="en-US"):
    """The appointments flow on its own in-memory records (as the simulator runs it),
    the caller registered and the slots on record; what the records say afterwards."""
    recorder = CallRecorder("sqlite://")
    number = channel.caller_number
    recorder.add_patient(number, "19480315")
    slots_given.write(recorder, SLOTS, number)
    schedule = TableSchedule(recorder.engine)
    if plug:
        recorder.schedule = plug(schedule)
    events: list[ev.Event] = []
    recorder.listeners.append(lambda _u, _c, e: events.append(e))
    flow = flows.flows["appointments"]
    call_id = await recorder.start(channel.uniqueid, "test", number, flow.name, flows.version)
    state = CallState(call_id, flows, flow, channel, vars={"lang": lang}, now=lambda: AT)
    try:
        outcome = await FlowRunner(recorder, shipped_triager()).run(state)
        await recorder.finish(call_id, outcome)
        return Done(outcome, events, recorder.get(call_id),
                    recorder.history(number, now=AT + dt.timedelta(hours=1)),
                    schedule.listing("gastroenterology"))
    finally:
        recorder.close()


class Racing:
    """Another caller books the slot this caller chose a moment before them."""

    def __init__(self, inner):
        self.inner, self.raced = inner, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def book(self, slot_id, patient, by, call_id=None, now=None):
        if not self.raced:
            self.raced = True
            self.inner.book(slot_id, PatientRef("another caller"), "phone", now=now)
        return self.inner.book(slot_id, patient, by, call_id, now)


async def test_a_slot_taken_a_moment_before_offers_the_next(flows):
    result = await run(flows, keys(*BOOK_FIRST, "1", "1"), Racing)
    said = [e.text for e in result.events if e.kind == "prompt"]
    taken = next(t for t in said if t.startswith("Sorry, that time has just been taken"))
    assert "9:20 AM with Dr Wang, press 1" in taken and "at 9 AM" not in taken
    outcomes = [e.outcome for e in result.events if e.kind == "booking"]
    assert outcomes == ["taken", "booked"]
    assert any("booked for Thursday 26 November at 9:20 AM" in t for t in said)
    assert result.outcome == "goodbye"
    # the caller's history (the history step, `ivr history`) names the booking call
    assert result.record.department == "gastroenterology"
    assert [c.topic for c in result.past.calls] == ["gastroenterology"]
    # and `ivr schedule list` shows the booking, made by phone on this call
    (mine,) = [b for _slot, b in result.held if b is not None and b.booked_by == "phone"
               and b.call_id == result.record.id]
    assert mine.slot.starts_at.minute == 20 and mine.patient_masked == "138******00"


class Down:
    def __init__(self, _inner):
        pass

    def free_slots(self, *_args):
        raise ScheduleError("schedule unreadable: connection refused")


async def test_the_schedule_unreachable_goes_to_the_desk(flows):
    result = await run(flows, keys("1", "19480315", "1"), Down)
    (booking,) = [e for e in result.events if e.kind == "booking"]
    assert booking.outcome == "error" and "connection refused" in booking.text
    assert (result.record.queue, result.outcome) == ("appointments", "answered")


async def test_an_entry_not_spoken_today_sends_the_booked_caller_to_the_desk(flows, monkeypatch):
    from ivr.flows.steps import book

    real = book._entries
    monkeypatch.setattr(book, "_entries", lambda ids, lang: {
        **real(ids, lang), "colonoscopy_preparation": ""})  # expired, say
    result = await run(flows, keys(*BOOK_FIRST))
    said = [e.prompt for e in result.events if e.kind == "prompt"]
    assert "kb:bring_to_appointment" not in said  # nothing read before every entry is fine
    assert said[-1] == "book_prepare_by_person"
    assert [e.outcome for e in result.events if e.kind == "booking"] == ["booked"]
    assert result.record.queue == "appointments"


async def test_spoken_choices_book_too(flows):
    channel = SimChannel([CallerTurn("key", k) for k in ("1", "19480315", "1")]
                         + [CallerTurn("say", "the second")])
    result = await run(flows, channel, lang="en-US")
    assert [e.outcome for e in result.events if e.kind == "booking"] == ["booked"]
    assert any("9:20 AM" in e.text for e in result.events if e.kind == "prompt"
               and e.prompt == "book_confirmed")

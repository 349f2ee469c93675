"""The loop of issue 15.5 in one process, on one records database: a caller books by phone
(the appointments flow's ``book`` step keeps their number sealed), the hospital cancels
it (``staff:``), an outbound follow-up opens (ivr/notices/calls.py), and the shipped
``followup_call`` flow, run by the outbound route, tells the patient on the number the
booking came from, although Asterisk gives that leg the hospital's caller id. Told in
full, the notice is not said again on the patient's next call; a patient who hangs up
during it is called again and hears it then."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.context import CallState
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import FlowRunner
from ivr.flows.simulator import CallerTurn, SimChannel, shipped_triager
from ivr.followups import store
from ivr.followups.outbound import run_followup_call
from ivr.notices import pending
from ivr.notices.calls import call_about
from ivr.schedule import given as slots_given
from ivr.schedule import number_context
from ivr.schedule.spoken import ZONE, when
from ivr.schedule.tables import TableSchedule
from ivr.store.models import Booking
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.telephony.fake import FakeChannel
from ivr.triage.engine import RuleTriager

ROOT = Path(__file__).parents[2]
PATIENT = "13800138000"
HOSPITAL = "02088880000"  # the caller id the engine's leg of an outbound call shows
# Inbound calls at a Wednesday 10:00 (the desk is open), the next one, so that the
# appointment, Thursday 09:00, is also ahead of the outbound route's wall clock.
_TODAY = dt.datetime.now(ZONE).date()
AT = dt.datetime.combine(_TODAY + dt.timedelta(days=(2 - _TODAY.weekday()) % 7 or 7),
                         dt.time(10), ZONE)
START = dt.datetime.combine(AT.date() + dt.timedelta(days=1), dt.time(9), ZONE)
SLOTS = [{"clinic": "Digestive Clinic", "department": "gastroenterology",
          "clinician": "Dr Wang", "start": f"{START:%Y-%m-%d %H:%M}", "minutes": 20}]
CANCELLED = {"en-US": f"your appointment on {when(START, 'en-US')} at the Digestive Clinic "
                      "has been cancelled by the hospital.",
             "zh-CN": f"您{when(START, 'zh-CN')}在Digestive Clinic的预约已被医院取消。"}


@pytest.fixture(scope="module")
def flows():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


async def inbound(recorder, flows, flow_name, keys, lang):
    """A call from the patient's phone through ``flow_name`` (the engine's way, without
    Asterisk): the events it recorded."""
    channel = SimChannel([CallerTurn("key", k) for k in keys], caller_number=PATIENT)
    events: list[ev.Event] = []
    listen = lambda _u, _c, e: events.append(e)  # noqa: E731
    recorder.listeners.append(listen)
    flow = flows.flows[flow_name]
    call_id = await recorder.start(channel.uniqueid + flow_name, "test", PATIENT, flow.name,
                                   flows.version, language=lang)  # as if chosen at the start
    past = recorder.history(PATIENT, exclude_call=call_id, now=AT)  # as ivr.calls does
    state = CallState(call_id, flows, flow, channel,
                      vars={"caller.number": PATIENT, **past.as_vars(AT), "lang": lang},
                      now=lambda: AT)
    try:
        outcome = await FlowRunner(recorder, shipped_triager()).run(state)
        await recorder.finish(call_id, outcome)
    finally:
        recorder.listeners.remove(listen)
    return events


async def booked_then_cancelled(recorder, flows, lang):
    recorder.add_patient(PATIENT, "19480315")
    slots_given.write(recorder, SLOTS, PATIENT)
    events = await inbound(recorder, flows, "appointments", ["1", "19480315", "1", "1"], lang)
    (booked,) = [e for e in events if isinstance(e, ev.Booking) and e.outcome == "booked"]
    with Session(recorder.engine) as s:
        row = s.get(Booking, booked.booking_id)
        assert recorder.privacy.open_number(
            row.number_sealed, number_context(row.patient_hash)) == PATIENT
    TableSchedule(recorder.engine).cancel(booked.booking_id, "staff:admin.wang",
                                          now=AT - dt.timedelta(hours=1))
    done = await call_about(recorder, booked.booking_id, "staff:admin.wang", now=AT)
    assert (done.result, done.language) == ("opened", lang)  # the booking call's language
    return done.followup_id


@dataclass
class HangsUpDuring(FakeChannel):
    """The patient hangs up while a prompt containing ``words`` is said."""

    words: str = ""

    async def say(self, text, lang="en", profile="normal", interrupt=""):
        if self.words and self.words in text:
            self.hung_up = True
            raise CallerHangup("hung up during the notice")
        return await super().say(text, lang, profile, interrupt)


async def outbound(recorder, flows, tmp_path, followup_id, channel):
    outcome = await run_followup_call(
        recorder, FlowRunner(recorder, RuleTriager()), flows, channel,
        followup_id=followup_id, uniqueid=channel.uniqueid,
        channel_name="Local/fu1@ivr-outbound-dial;1", override_file=tmp_path / "no-override")
    return outcome, store.get(recorder.engine, followup_id)


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
async def test_booked_by_phone_cancelled_by_staff_told_by_an_outbound_call(
        recorder, flows, tmp_path, lang):
    followup_id = await booked_then_cancelled(recorder, flows, lang)
    channel = FakeChannel(keys=["1"], uniqueid="fu-call-1", caller_number=HOSPITAL)

    outcome, item = await outbound(recorder, flows, tmp_path, followup_id, channel)

    said = [text for kind, text in channel.log if kind == "say"]
    assert CANCELLED[lang] in said[1]  # after the intro, before the menu
    assert said[0] == {"en-US": "Hello, this is City Hospital, calling about an appointment "
                                "booked from this phone.",
                       "zh-CN": "您好，这里是市医院，来电是关于用这个电话预约的门诊。"}[lang]
    assert (outcome, item.status) == ("answered_ok", "done")
    record = recorder.by_uniqueid("fu-call-1")
    assert (record.direction, record.language) == ("outbound", lang)
    assert [e.step for e in record.events if e.kind == "step"] == [
        "by_kind", "intro_appointment", "appointment_notices", "appointment_check",
        "appointment_understood", "appointment_thanks"]
    with Session(recorder.engine) as s:
        assert pending(s, recorder.privacy.caller_hash(PATIENT), AT) == []
    # the patient's next call: nothing said again, and no open matter offered
    events = await inbound(recorder, flows, "main", ["2", "1"], "en-US")
    assert not [e for e in events if isinstance(e, ev.NoticesTold)]


async def test_hung_up_during_the_notice_it_is_told_on_the_next_attempt(recorder, flows,
                                                                        tmp_path):
    followup_id = await booked_then_cancelled(recorder, flows, "en-US")
    first = HangsUpDuring(uniqueid="fu-call-1", caller_number=HOSPITAL,
                          words="cancelled by the hospital")
    outcome, item = await outbound(recorder, flows, tmp_path, followup_id, first)
    assert (outcome, item.status) == ("hung_up", "open")
    with Session(recorder.engine) as s:  # not heard in full: still to tell
        assert len(pending(s, recorder.privacy.caller_hash(PATIENT), AT)) == 1
    second = FakeChannel(keys=["2"], uniqueid="fu-call-2", caller_number=HOSPITAL,
                         queues={"appointments": QueueOutcome("ANSWERED", "PJSIP/1001")})
    outcome, item = await outbound(recorder, flows, tmp_path, followup_id, second)
    assert (outcome, item.status, item.attempts) == ("needs_staff", "done", 2)
    assert CANCELLED["en-US"] in [t for k, t in second.log if k == "say"][1]
    route = next(e for e in recorder.by_uniqueid("fu-call-2").events if e.kind == "route")
    assert route.detail["queue"] == "appointments"
    assert route.detail["summary"].startswith(
        "Follow-up call: the patient wants to talk about the change. appointment cancelled "
        f"by the clinic: gastroenterology Digestive Clinic {START:%Y-%m-%d} 09:00")


async def test_told_on_a_call_in_between_the_follow_up_is_not_placed(recorder, flows):
    followup_id = await booked_then_cancelled(recorder, flows, "en-US")
    assert store.get(recorder.engine, followup_id).status == "open"
    events = await inbound(recorder, flows, "main", ["2", "1"], "en-US")  # calls in first
    assert [e.told for e in events if isinstance(e, ev.NoticesTold)] != []
    assert not [e for e in events if e.step == "open_matter"]  # no matter offered a nurse
    item = store.get(recorder.engine, followup_id)
    assert (item.status, item.last_outcome) == ("done", "told_on_call")
    assert store.due(recorder.engine, AT) == []

"""The outbound route on a scripted channel: the shipped followup_call flow runs for the
follow-up, the call is recorded as outbound, and the attempt gets the patient's answer."""

import datetime as dt
from pathlib import Path

import pytest

from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import FlowRunner
from ivr.followups import store
from ivr.followups.outbound import run_followup_call
from ivr.telephony import variables as v
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.fake import HANGUP, FakeChannel
from ivr.triage.engine import RuleTriager

ROOT = Path(__file__).parents[2]
ANSWERED = QueueOutcome("ANSWERED", "PJSIP/1001")
TIMEOUT = QueueOutcome("TIMEOUT")
NUMBER = "13800138000"


class Tracker:
    def __init__(self):
        self.seen = []

    def call_started(self, followup_id):
        self.seen.append(("started", followup_id))
        return True

    def call_ended(self, followup_id):
        self.seen.append(("ended", followup_id))


@pytest.fixture(scope="module")
def flow_set():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


async def outbound(recorder, flow_set, tmp_path, keys, queues=None, kind="post_surgery",
                   language="en-US", flow="followup_call", followup_id=None):
    if followup_id is None:
        now = dt.datetime.now(dt.UTC)
        followup_id = await recorder.create_followup(
            number=NUMBER, kind=kind, flow=flow, due_at=now, deadline_at=now,
            reason="knee surgery", language=language)
    ch = FakeChannel(keys=keys, queues=queues or {}, uniqueid=f"fu-{followup_id}",
                     caller_number="02088880000")  # the hospital's caller id
    tracker = Tracker()
    outcome = await run_followup_call(
        recorder, FlowRunner(recorder, RuleTriager()), flow_set, ch, followup_id=followup_id,
        uniqueid=ch.uniqueid, channel_name="Local/x@ivr-outbound-dial-1;1",
        override_file=tmp_path / "no-override", tracker=tracker)
    assert tracker.seen == [("started", followup_id), ("ended", followup_id)]
    item = store.get(recorder.engine, followup_id)
    record = recorder.by_uniqueid(ch.uniqueid)
    return outcome, item, record, ch


async def test_patient_who_is_well_closes_the_follow_up(recorder, flow_set, tmp_path):
    outcome, item, record, ch = await outbound(recorder, flow_set, tmp_path, ["1"])
    assert outcome == "answered_ok"
    assert (item.status, item.attempts) == ("done", 1)
    assert [(a.outcome, a.call_id) for a in item.tries] == [("answered_ok", record.id)]
    assert (record.direction, record.flow, record.outcome) == ("outbound", "followup_call",
                                                               "goodbye")
    assert record.caller_masked == "138******00"  # the patient, not the hospital's caller id
    assert record.language == "en-US"
    said = [text for kind, text in ch.log if kind == "say"]
    assert said[0].startswith("Hello, this is City Hospital, calling to follow up on your "
                              "recent surgery")
    kinds = [e.kind for e in record.events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.index("followup") < kinds.index("step")  # before the flow's first step
    noted = record.events[kinds.index("followup")]
    assert noted.detail["followup_id"] == item.id and noted.detail["attempt"] == 1


async def test_the_choice_counts_even_when_the_call_record_cannot_be_read(
        recorder, flow_set, tmp_path, monkeypatch):
    """The records are journalled (database away): the patient's "I am well" is known
    from the call itself, so they are not called again."""
    monkeypatch.setattr(recorder, "get", lambda call_id: None)
    outcome, item, _, _ = await outbound(recorder, flow_set, tmp_path, ["1"])
    assert outcome == "answered_ok" and item.status == "done"


async def test_language_of_the_call_that_opened_it(recorder, flow_set, tmp_path):
    _, _, record, ch = await outbound(recorder, flow_set, tmp_path, ["1"], kind="medication",
                                      language="zh-CN")
    assert record.language == "zh-CN"
    assert ch.log[1] == ("say", "您好，这里是市医院，打电话来了解您近期的用药情况。")


async def test_nurse_answering_closes_it_and_sees_why_we_called(recorder, flow_set, tmp_path):
    outcome, item, record, _ = await outbound(recorder, flow_set, tmp_path, ["2"],
                                               {"general_medicine": ANSWERED})
    assert (outcome, item.status) == ("needs_nurse", "done")
    route = next(e for e in record.events if e.kind == "route")
    assert route.detail["summary"].startswith(
        "Follow-up call (post surgery): the patient asks for a nurse. knee surgery")


async def test_nobody_answering_the_nurse_queues_goes_to_staff(recorder, flow_set, tmp_path):
    queues = {"general_medicine": TIMEOUT, "operator": TIMEOUT, "emergency": TIMEOUT}
    outcome, item, _, _ = await outbound(recorder, flow_set, tmp_path, ["2"], queues)
    assert (outcome, item.status) == ("nurse_unreached", "failed")


async def test_emergency_key(recorder, flow_set, tmp_path):
    outcome, item, record, _ = await outbound(recorder, flow_set, tmp_path, ["9"],
                                               {"emergency": ANSWERED})
    assert (outcome, item.status, record.queue) == ("emergency", "done", "emergency")


async def test_silence_reaches_a_nurse(recorder, flow_set, tmp_path):
    outcome, item, _, _ = await outbound(recorder, flow_set, tmp_path, ["", "", ""],
                                          {"general_medicine": ANSWERED})
    assert (outcome, item.status) == ("needs_nurse", "done")


async def test_hanging_up_before_choosing_is_tried_again(recorder, flow_set, tmp_path):
    outcome, item, record, _ = await outbound(recorder, flow_set, tmp_path, [HANGUP])
    assert (outcome, item.status, record.outcome) == ("hung_up", "open", "caller_hangup")
    assert item.next_attempt_at > item.due_at


async def test_a_missing_flow_leaves_the_patient_to_the_operator(recorder, flow_set, tmp_path):
    outcome, item, record, ch = await outbound(recorder, flow_set, tmp_path, [],
                                               flow="no_such_flow")
    assert (outcome, item.status, record) == ("operator_fallback", "failed", None)
    assert "could not run" in ch.variables[v.IVR_SUMMARY]
    assert v.IVR_DONE not in ch.variables  # the dialplan's fallback takes over


async def test_an_unknown_follow_up_leaves_the_patient_to_the_operator(recorder, flow_set,
                                                                        tmp_path):
    outcome, item, record, ch = await outbound(recorder, flow_set, tmp_path, [],
                                               followup_id="not-a-follow-up")
    assert (outcome, item, record) == (None, None, None)
    assert "not found" in ch.variables[v.IVR_SUMMARY]


async def test_complaint_follow_up_asks_whether_it_is_resolved(recorder, flow_set, tmp_path):
    outcome, item, _, ch = await outbound(recorder, flow_set, tmp_path, ["1"],
                                          kind="complaint")
    assert (outcome, item.status) == ("answered_ok", "done")
    assert "concern you shared with us" in ch.log[1][1]
    outcome, item, record, _ = await outbound(recorder, flow_set, tmp_path, ["2"],
                                              {"complaints": ANSWERED}, kind="complaint")
    assert (outcome, item.status, record.queue) == ("needs_staff", "done", "complaints")
    queues = {"complaints": TIMEOUT, "operator": TIMEOUT, "emergency": TIMEOUT}
    outcome, item, _, _ = await outbound(recorder, flow_set, tmp_path, ["2"], queues,
                                         kind="complaint")
    assert (outcome, item.status) == ("staff_unreached", "failed")

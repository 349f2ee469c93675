"""The walking-skeleton flow on a scripted channel: every path ends with a person."""

from pathlib import Path

import pytest

from ivr.flows.loader import FlowError, load_flow
from ivr.flows.runner import CallState, FlowRunner, escalation_chain
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.telephony.fake import HANGUP, FakeChannel, UnexpectedCommand

MAIN = Path(__file__).parents[2] / "dialplans" / "main.yaml"
ANSWERED = QueueOutcome("ANSWERED", "PJSIP/1001")


@pytest.fixture
def recorder(tmp_path):
    rec = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    yield rec
    rec.close()


async def run(recorder, channel):
    flow = load_flow(MAIN)
    call_id = await recorder.start(channel.uniqueid, "Local/x", channel.caller_number,
                                   flow.name, flow.version)
    try:
        outcome = await FlowRunner(recorder).run(CallState(call_id, flow, channel))
    finally:
        await recorder.finish(call_id, "caller_hangup" if channel.hung_up else "error")
    return outcome, recorder.get(call_id)


async def test_choice_routes_to_department_queue_with_priority(recorder):
    ch = FakeChannel(keys=["2"], queues={"pharmacy": ANSWERED})
    outcome, record = await run(recorder, ch)
    assert outcome == "answered"
    assert ("queue", "pharmacy:2") in ch.log
    assert (record.choice, record.queue, record.queue_priority, record.agent) == (
        "2", "pharmacy", 2, "PJSIP/1001")


async def test_no_input_retries_then_hands_caller_to_operator(recorder):
    ch = FakeChannel(keys=["", "", ""], queues={"operator": ANSWERED})
    outcome, record = await run(recorder, ch)
    assert outcome == "answered" and record.queue == "operator"
    kinds = [e.kind for e in record.events]
    assert kinds.count("no_input") == 3
    assert ch.log.count(("say", "Sorry, I did not hear a choice.")) == 2


async def test_wrong_key_then_right_key(recorder):
    ch = FakeChannel(keys=["7", "1"], queues={"appointments": ANSWERED})
    outcome, record = await run(recorder, ch)
    assert outcome == "answered" and record.queue == "appointments"
    assert [e.kind for e in record.events].count("no_match") == 1


async def test_empty_department_escalates_to_operator(recorder):
    ch = FakeChannel(keys=["3"], queues={"results": QueueOutcome("JOINEMPTY"),
                                         "operator": ANSWERED})
    outcome, record = await run(recorder, ch)
    assert outcome == "answered" and record.queue == "operator"
    routes = [e.detail["queue"] for e in record.events if e.kind == "route"]
    assert routes == ["results", "operator"]


async def test_hangup_mid_menu_propagates_and_leaves_record(recorder):
    ch = FakeChannel(keys=[HANGUP])
    with pytest.raises(CallerHangup):
        await run(recorder, ch)
    record = recorder.by_uniqueid("fake-1")
    assert record.ended_at is not None and record.outcome == "caller_hangup"
    assert [e.kind for e in record.events][-1] == "end"


async def test_a_step_error_goes_to_the_on_error_queue(recorder):
    class Broken(FakeChannel):
        async def collect_digits(self, *a, **k):
            raise RuntimeError("TTS died")

    ch = Broken(queues={"operator": ANSWERED})
    outcome, record = await run(recorder, ch)
    assert outcome == "answered" and record.queue == "operator"
    assert any(e.kind == "error" and "TTS died" in e.text for e in record.events)


async def test_fake_channel_refuses_unscripted_queue(recorder):
    with pytest.raises(UnexpectedCommand):
        await run(recorder, FakeChannel(keys=["4"], queues={}))


def test_escalation_always_ends_at_emergency():
    assert escalation_chain("cardiology") == ["cardiology", "operator", "emergency"]
    assert escalation_chain("crisis") == ["crisis", "emergency"]
    assert escalation_chain("emergency") == ["emergency"]


def test_dangling_target_is_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("flow: bad\nsteps:\n  a:\n    type: say\n    text: hi\n    next: b\n")
    with pytest.raises(FlowError, match=r"bad.yaml:3: step 'a': goes to 'b'"):
        load_flow(bad)


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("flow: x\nsteps:\n  a: [unclosed\n")
    with pytest.raises(FlowError, match=r"broken.yaml:\d+:\d+: not valid YAML"):
        load_flow(bad)

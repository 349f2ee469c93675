"""The flow runner on a scripted channel: every step type, every path ends with a person."""

import datetime as dt
from pathlib import Path

import pytest

from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import CallState, FlowRunner, escalation_chain, fill
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.telephony.fake import BARGE, HANGUP, SAY, FakeChannel, UnexpectedCommand
from ivr.triage.engine import RuleTriager

FLOWS = Path(__file__).parents[1] / "flows"
ANSWERED = QueueOutcome("ANSWERED", "PJSIP/1001")
# A Wednesday, 10:00 in Shanghai: the clinic is open.
OPEN = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
CLOSED = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)  # 22:00 in Shanghai


@pytest.fixture(scope="module")
def flow_set():
    return load_flow_set_or_raise([FLOWS / "valid"], FLOWS / "prompts")


@pytest.fixture
def recorder(tmp_path):
    rec = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    yield rec
    rec.close()


async def run(recorder, flow_set, channel, at=OPEN, **vars):
    flow = flow_set.flows["clinic"]
    call_id = await recorder.start(channel.uniqueid, "Local/x", channel.caller_number,
                                   flow.name, flow_set.version)
    state = CallState(call_id, flow_set, flow, channel, vars={"lang": "en-US", **vars},
                      now=lambda: at)
    try:
        outcome = await FlowRunner(recorder, RuleTriager()).run(state)
    finally:
        await recorder.finish(call_id, "caller_hangup" if channel.hung_up else "error")
    return outcome, recorder.get(call_id), state


def kinds(record):
    return [e.kind for e in record.events]


async def test_menu_choice_routes_with_priority_and_summary(recorder, flow_set):
    ch = FakeChannel(keys=["1"], queues={"general_medicine": ANSWERED})
    outcome, record, _ = await run(recorder, flow_set, ch)
    assert outcome == "answered"
    assert (record.choice, record.queue, record.queue_priority, record.agent) == (
        "nurse", "general_medicine", 3, "PJSIP/1001")
    route = next(e for e in record.events if e.kind == "route")
    assert route.detail["summary"] == "Nurse (nurse)"
    assert ("say", "Hello.") in ch.log


async def test_elderly_profile_slows_speech_and_raises_priority(recorder, flow_set):
    ch = FakeChannel(keys=["1"], queues={"general_medicine": ANSWERED})
    _, record, state = await run(recorder, flow_set, ch, **{"caller.age_group": "elderly"})
    assert state.rate == "elderly" and state.timeout(None) == 10
    assert record.queue_priority == 6  # the branch step sent them to the priority route
    assert "profile" in kinds(record)


async def test_no_input_retries_then_operator(recorder, flow_set):
    ch = FakeChannel(keys=["", "", ""], queues={"operator": ANSWERED})
    outcome, record, _ = await run(recorder, flow_set, ch)
    assert outcome == "answered" and record.queue == "operator"
    assert kinds(record).count("no_input") == 3
    assert ch.log.count(("say", "Sorry.")) == 2


async def test_emergency_key_at_any_menu(recorder, flow_set):
    ch = FakeChannel(keys=["9"], queues={"emergency": ANSWERED})
    outcome, record, _ = await run(recorder, flow_set, ch)
    assert (outcome, record.queue, record.queue_priority) == ("answered", "emergency", 10)


async def test_spoken_red_flag_goes_to_emergency(recorder, flow_set):
    ch = FakeChannel(keys=["3", SAY + "my chest hurts, crushing chest pressure"],
                     queues={"emergency": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "emergency" and record.queue_priority == 10
    triage = next(e for e in record.events if e.kind == "triage")
    assert triage.detail["urgency"] == 1 and triage.detail["reasons"]
    turn = next(e for e in record.events if e.kind == "turn")
    assert turn.detail["confidence"] == 0.9


async def test_crisis_talk_goes_to_crisis_team(recorder, flow_set):
    ch = FakeChannel(keys=["3", SAY + "I want to end my life"], queues={"crisis": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "crisis"


async def test_department_branch_and_triaged_route(recorder, flow_set):
    ch = FakeChannel(keys=["3", SAY + "I need a refill of my prescription"],
                     queues={"pharmacy": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "pharmacy"
    ch2 = FakeChannel(keys=["3", SAY + "I have a rash and itchy skin"],
                      queues={"dermatology": ANSWERED})
    _, record2, _ = await run(recorder, flow_set, ch2)
    assert (record2.queue, record2.queue_priority) == ("dermatology", 3)


async def test_dtmf_fallback_during_ask(recorder, flow_set):
    ch = FakeChannel(keys=["3", "0"], queues={"general_medicine": ANSWERED})
    _, record, state = await run(recorder, flow_set, ch)
    assert state.vars["utterance"] == "nurse please"
    assert record.queue == "general_medicine"  # triage of "nurse please": a nurse decides


async def test_closed_hours_offer_callback(recorder, flow_set):
    ch = FakeChannel(keys=["1"])
    outcome, record, _ = await run(recorder, flow_set, ch, at=CLOSED)
    assert outcome == "goodbye"
    cb = next(e for e in record.events if e.kind == "callback")
    assert cb.detail["accepted"] is True and cb.detail["queue"] == "appointments"
    assert ("say", "We will call you back.") in ch.log and ("hangup", "") in ch.log


async def test_holiday_is_closed(recorder, flow_set):
    holiday = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)
    ch = FakeChannel(keys=["2"], queues={"operator": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch, at=holiday)
    assert record.queue == "operator"  # declined the call-back: a person takes it


async def test_survey_answers_are_stored(recorder, flow_set):
    ch = FakeChannel(keys=["5", "4"])
    outcome, record, state = await run(recorder, flow_set, ch)
    assert outcome == "goodbye" and state.vars["survey.patience"] == 4
    assert next(e for e in record.events if e.kind == "survey").detail["answers"] == {
        "patience": 4}


async def test_switch_goto_and_set(recorder, flow_set):
    ch = FakeChannel(keys=["4", "2"], queues={"pharmacy": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "pharmacy"  # en-US: switch -> goto -> menu again -> 2
    assert [e.step for e in record.events if e.kind == "step"][-3:] == [
        "again", "menu", "to_pharmacy"]


async def test_subflow_continues_in_other_flow(recorder, flow_set):
    ch = FakeChannel(keys=["6"], queues={"pharmacy": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    sub = next(e for e in record.events if e.kind == "subflow")
    assert sub.detail["flow"] == "pharmacy_line"
    assert record.queue == "pharmacy"


async def test_empty_department_escalates_to_operator(recorder, flow_set):
    ch = FakeChannel(keys=["2"], queues={"pharmacy": QueueOutcome("JOINEMPTY"),
                                         "operator": ANSWERED})
    outcome, record, _ = await run(recorder, flow_set, ch)
    assert outcome == "answered" and record.queue == "operator"
    assert [e.detail["queue"] for e in record.events if e.kind == "route"] == [
        "pharmacy", "operator"]


async def test_hangup_mid_menu_leaves_closed_record(recorder, flow_set):
    ch = FakeChannel(keys=[HANGUP])
    with pytest.raises(CallerHangup):
        await run(recorder, flow_set, ch)
    record = recorder.by_uniqueid("fake-1")
    assert record.ended_at is not None and record.outcome == "caller_hangup"
    assert kinds(record)[-1] == "end"


async def test_a_step_error_goes_to_on_error(recorder, flow_set):
    class Broken(FakeChannel):
        async def hear(self, *a, **k):
            raise RuntimeError("TTS died")

    ch = Broken(queues={"operator": ANSWERED})
    outcome, record, _ = await run(recorder, flow_set, ch)
    assert outcome == "answered" and record.queue == "operator"
    assert any(e.kind == "error" and "TTS died" in e.text for e in record.events)


async def test_fake_channel_refuses_unscripted_queue(recorder, flow_set):
    with pytest.raises(UnexpectedCommand):
        await run(recorder, flow_set, FakeChannel(keys=["2"], queues={}))


def test_escalation_always_ends_at_emergency():
    assert escalation_chain("cardiology") == ["cardiology", "operator", "emergency"]
    assert escalation_chain("crisis") == ["crisis", "emergency"]
    assert escalation_chain("emergency") == ["emergency"]


def test_summary_placeholders():
    assert fill("Said: {utterance} ({caller.age_group})", {"utterance": "cough"}) == \
        "Said: cough (?)"


async def test_menu_option_chosen_by_voice(recorder, flow_set):
    ch = FakeChannel(keys=[SAY + "the pharmacy please"], queues={"pharmacy": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "pharmacy" and record.choice == "pharmacy"


async def test_emergency_key_wins_at_a_callback_offer(recorder, flow_set):
    ch = FakeChannel(keys=["9"], queues={"emergency": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch, at=CLOSED)
    assert record.queue == "emergency"


async def test_profile_timeout_is_a_floor_for_step_timeouts(recorder, flow_set):
    ch = FakeChannel(keys=["1"], queues={"general_medicine": ANSWERED})
    _, _, state = await run(recorder, flow_set, ch, **{"caller.age_group": "elderly"})
    assert state.timeout(4) == 10 and state.timeout(15) == 15


async def test_a_key_pressed_during_a_say_answers_the_next_menu(recorder, flow_set):
    # "hello" (say, barge_in) is cut short by 1; the chime plays; the menu asks nothing
    ch = FakeChannel(keys=[BARGE + "1"], queues={"general_medicine": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "general_medicine"
    assert ("hear", "Press 1 for a nurse.") not in ch.log and ("play", "beep") in ch.log
    pressed = [e.detail for e in record.events if e.kind == "input"]
    assert pressed == [{"dtmf": "1", "barge_in": True}]  # recorded once, when taken


async def test_the_emergency_key_during_a_say_goes_to_emergency_at_once(recorder, flow_set):
    ch = FakeChannel(keys=[BARGE + "9"], queues={"emergency": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "emergency" and ("play", "beep") not in ch.log
    assert any(e.kind == "input" and e.detail.get("emergency_key") for e in record.events)


async def test_an_unscripted_command_escapes_the_error_route(recorder, flow_set):
    # the runner sends any failure to a person; a test's broken script must not pass
    with pytest.raises(UnexpectedCommand):
        await run(recorder, flow_set, FakeChannel(keys=[]))


async def test_a_red_flag_said_at_a_menu_goes_to_the_emergency_team(recorder, flow_set):
    ch = FakeChannel(keys=[SAY + "my father collapsed and is not breathing"],
                     queues={"emergency": ANSWERED})
    outcome, record, state = await run(recorder, flow_set, ch)
    assert outcome == "answered" and record.queue == "emergency" and record.urgency == 1
    red = next(e for e in record.events if e.kind == "red_flag")
    assert red.step == "menu" and red.detail["lane"] == "emergency"
    assert any("not_breathing" in r for r in red.detail["reasons"])
    assert state.vars["triage.urgency"] == 1


async def test_crisis_talk_in_a_survey_goes_to_the_crisis_team(recorder, flow_set):
    ch = FakeChannel(keys=["5", SAY + "I want to end my life"], queues={"crisis": ANSWERED})
    _, record, _ = await run(recorder, flow_set, ch)
    assert record.queue == "crisis"
    assert [e.detail["lane"] for e in record.events if e.kind == "red_flag"] == ["crisis"]


async def test_a_flow_that_narrows_the_screen_still_screens_free_questions(recorder, tmp_path):
    import shutil

    root = tmp_path / "flows"
    shutil.copytree(FLOWS / "valid", root)
    clinic = root / "clinic.yaml"
    clinic.write_text(clinic.read_text().replace(
        'emergency_step: to_emergency\n',
        'emergency_step: to_emergency\nred_flag_screen: free_answers\n'))
    from ivr.flows.loader import load_flow_set

    narrowed, found = load_flow_set([root], FLOWS / "prompts")
    assert narrowed is not None
    assert [d.code for d in found if d.file.endswith("clinic.yaml")] == ["IVR205"]
    at_menu = FakeChannel(keys=[SAY + "he is not breathing", SAY + "pharmacy"],
                          queues={"pharmacy": ANSWERED})
    _, record, _ = await run(recorder, narrowed, at_menu)
    assert record.queue == "pharmacy"  # the menu no longer screens: a warned choice
    asked = FakeChannel(keys=["3", SAY + "he is not breathing"],
                        queues={"emergency": ANSWERED})
    _, record, _ = await run(recorder, narrowed, asked)
    assert record.queue == "emergency"

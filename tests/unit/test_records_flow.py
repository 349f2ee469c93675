"""Records of what callers said and did, and the closed loop: history at call start,
verification before history is read back, follow-ups, surveys (keypad or spoken)."""

import datetime as dt
import itertools
from pathlib import Path

import pytest

from ivr.calls import run_call
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import FlowRunner
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import Heard, QueueOutcome
from ivr.telephony.fake import SAY, FakeChannel
from ivr.triage.engine import RuleTriager

FLOWS = Path(__file__).parents[1] / "flows"
ANSWERED = QueueOutcome("ANSWERED", "PJSIP/1001")
NUMBER = "13800138000"


@pytest.fixture(scope="module")
def flow_set():
    return load_flow_set_or_raise([FLOWS / "valid"], FLOWS / "prompts")


@pytest.fixture
def recorder(tmp_path):
    rec = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    yield rec
    rec.close()


CALLS = itertools.count(1)


async def call(recorder, flow_set, tmp_path, keys, flow="records", number=NUMBER):
    ch = FakeChannel(keys=keys, queues={"operator": ANSWERED, "general_medicine": ANSWERED,
                                        "emergency": ANSWERED, "respiratory": ANSWERED},
                     uniqueid=f"fake-{next(CALLS)}", caller_number=number)
    runner = FlowRunner(recorder, RuleTriager())
    outcome = await run_call(recorder, runner, flow_set, flow_set.flows[flow], ch,
                             uniqueid=ch.uniqueid, channel_name="Local/x", caller_number=number,
                             override_file=tmp_path / "no-override")
    return outcome, recorder.by_uniqueid(ch.uniqueid), ch


async def test_followup_step_opens_an_item_with_a_sealed_number(recorder, flow_set, tmp_path):
    outcome, record, _ = await call(recorder, flow_set, tmp_path, ["2"])
    assert outcome == "goodbye"
    from sqlalchemy.orm import Session

    from ivr.store.models import FollowUp
    with Session(recorder.engine) as s:
        item = s.query(FollowUp).one()
    assert (item.kind, item.flow, item.status, item.call_id) == (
        "post_surgery", "records", "open", record.id)
    assert item.reason == "wound check, caller [PHONE …00]"  # masked for staff
    assert NUMBER.encode() not in item.number_sealed
    assert recorder.privacy.open_number(item.number_sealed, item.id) == NUMBER
    due = item.due_at.replace(tzinfo=dt.UTC) - record.started_at.replace(tzinfo=dt.UTC)
    assert dt.timedelta(days=2) - dt.timedelta(minutes=1) < due < dt.timedelta(days=2, minutes=1)


async def test_returning_caller_history_travels_to_the_agent(recorder, flow_set, tmp_path):
    # first call: a clinical question triaged to respiratory
    await call(recorder, flow_set, tmp_path, ["4", SAY + "I have had a cough for a week"])
    outcome, record, _ = await call(recorder, flow_set, tmp_path, ["5"])
    assert outcome == "answered"
    hist = next(e for e in record.events if e.kind == "history")
    assert hist.detail["calls"] == 1
    route = next(e for e in record.events if e.kind == "route")
    assert "| history 1 call(s)" in route.detail["summary"]
    assert "cough" in route.detail["summary"]


async def test_history_needs_the_right_date_of_birth(recorder, flow_set, tmp_path):
    recorder.add_patient(NUMBER, "19480315")
    await call(recorder, flow_set, tmp_path, ["2"])  # a call that opened a follow-up
    outcome, record, ch = await call(recorder, flow_set, tmp_path, ["1", "19480316", "19480315"])
    assert outcome == "goodbye"
    verifies = [e.detail["verified"] for e in record.events if e.kind == "verify"]
    assert verifies == [False, True]
    said = [text for kind, text in ch.log if kind == "say"]
    assert "Here are your recent calls." in said
    assert any(t.startswith("On ") and "the line answered you" in t for t in said)
    assert any(t.startswith("Still open: post surgery") for t in said)
    assert "19480315" not in str([e.text for e in record.events])  # keys never stored


async def test_wrong_date_of_birth_twice_goes_to_a_person(recorder, flow_set, tmp_path):
    recorder.add_patient(NUMBER, "19480315")
    outcome, record, ch = await call(recorder, flow_set, tmp_path, ["1", "11111111", "22222222"])
    assert outcome == "answered" and record.queue == "operator"
    assert not any(text == "Here are your recent calls." for _, text in ch.log)


async def test_unknown_number_cannot_be_verified(recorder, flow_set, tmp_path):
    _, record, _ = await call(recorder, flow_set, tmp_path, ["1", "19480315", "19480315"],
                              number="13900000000")
    assert record.queue == "operator"


async def test_survey_by_keypad_and_by_voice_is_stored_per_dimension(recorder, flow_set,
                                                                     tmp_path):
    _, record, _ = await call(recorder, flow_set, tmp_path, ["3", "4", SAY + "five"])
    answers = {(a.dimension, a.score, a.mode) for a in record.survey_answers}
    assert answers == {("patience", 4, "dtmf"), ("accuracy", 5, "speech")}
    _, record, _ = await call(recorder, flow_set, tmp_path, ["3", "7", ""])
    assert {(a.dimension, a.score) for a in record.survey_answers} == {
        ("patience", None), ("accuracy", None)}  # off the scale / silent: not a score


async def test_turns_and_triage_are_structured_rows(recorder, flow_set, tmp_path):
    _, record, _ = await call(recorder, flow_set, tmp_path,
                              ["4", SAY + "my chest hurts, call me on 139 0000 1234"])
    spoken = [t for t in record.turns if t.transcript]
    assert spoken and "139 0000 1234" not in spoken[0].transcript
    assert spoken[0].prompt_text == "Tell us what is wrong."
    assert [t.dtmf for t in record.turns if t.dtmf] == ["4"]
    assert record.triage and record.triage[0].urgency == 1
    assert "chest_pain" in record.triage[0].symptoms and record.urgency == 1
    assert record.queue_results[0].queue == "emergency"
    assert record.queue_results[0].priority == 10
    # the caller's words are kept as audio too, sealed on disk
    from pathlib import Path as P
    [rec] = record.recordings
    sealed = P(rec.path).read_bytes()
    assert sealed.startswith(b"IVRENC1") and b"RIFF" not in sealed
    wav = recorder.privacy.open_file(P(rec.path), record.id)
    assert wav.startswith(b"RIFF") and rec.seconds > 0


async def test_history_lookup_failure_does_not_stop_the_call(recorder, flow_set, tmp_path,
                                                             monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("database away")
    monkeypatch.setattr(recorder, "history", broken)
    outcome, record, _ = await call(recorder, flow_set, tmp_path, ["2"])
    assert outcome == "goodbye" and record.outcome == "goodbye"


async def test_the_call_count_is_not_capped_by_the_calls_listed(recorder):
    for n in range(13):
        call_id = await recorder.start(f"c{n}", "Local/x", NUMBER, "main", "v")
        await recorder.finish(call_id, "goodbye")
    past = recorder.history(NUMBER)
    assert len(past.calls) == 10 and past.calls_30d == 13 and past.calls_24h == 13
    assert past.summary().startswith("13 call(s) in 30 d")


def test_history_says_how_each_past_call_ended():
    from ivr.flows.steps.history import outcome_words

    assert outcome_words("routed", "en-US") == "the call ended while you waited for our staff"
    assert outcome_words("unanswered:TIMEOUT", "zh-CN") == "当时工作人员未能接听"
    assert outcome_words("error", "en-US") == "the call was recorded"  # not "answered you"


async def test_a_survey_answer_the_recogniser_rejected_is_not_a_score(recorder, flow_set,
                                                                      tmp_path, monkeypatch):
    async def out_of_grammar(self, *a, **k):
        key = self._next_key("survey")
        if key == "3":  # the menu: the survey
            return Heard(dtmf=key)
        return Heard(text="five", confidence=0.0)  # forced onto a grammar word
    monkeypatch.setattr(FakeChannel, "hear", out_of_grammar)
    _, record, _ = await call(recorder, flow_set, tmp_path, ["3", "x", "x"])
    assert {(a.dimension, a.score) for a in record.survey_answers} == {
        ("patience", None), ("accuracy", None)}

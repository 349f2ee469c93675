"""Acoustic urgency on a live call: the caller's earlier answers are their baseline; a
free answer spoken faster, higher and louder than them takes the caller to "is this an
emergency?" (the triage step's safety_check) instead of the routine queue. Real
espeak-ng audio, the real scorer; only the channel is scripted."""

import subprocess
from pathlib import Path

import pytest

from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.runner import CallState, FlowRunner
from ivr.speech.audio import read_wav, to_telephone
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import Heard, QueueOutcome
from ivr.telephony.fake import FakeChannel
from ivr.triage import acoustic
from ivr.triage.engine import RuleTriager

FLOWS = Path(__file__).parents[1] / "flows"
ANSWERED = QueueOutcome("ANSWERED", "PJSIP/1001")
CALM = ("-s", "140", "-p", "50")
STRESSED = ("-s", "220", "-p", "80", "-a", "200")
COUGH = "I have had a cough for a few days and I would like to see a doctor this week"


def voice(tmp_path, words, flags):
    wav = tmp_path / f"{abs(hash((words, flags)))}.wav"
    subprocess.run(["espeak-ng", "-v", "en", *flags, "-w", str(wav), words], check=True)
    samples, rate = read_wav(wav)
    return to_telephone(samples, rate).astype("<i2").tobytes()


class Speaking(FakeChannel):
    """Answers with words and their audio: (words, pcm) entries, or keys."""

    async def hear(self, prompt, lang="en", profile="normal", *, max_seconds=15.0,
                   timeout=5.0, phrases=None):
        self._check()
        self.log.append(("hear", prompt))
        answer = self._next_key(prompt) if not isinstance(self._keys[0], tuple) else (
            self._keys.popleft())
        if isinstance(answer, tuple):
            words, pcm = answer
            return Heard(text=words, confidence=0.9, audio=pcm, speech_ms=len(pcm) // 16)
        return Heard(dtmf=answer)


@pytest.fixture(scope="module")
def flow_set():
    acoustic.warm_up()
    return load_flow_set_or_raise([FLOWS / "valid"], FLOWS / "prompts")


async def run(tmp_path, flow_set, answers):
    rec = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    ch = Speaking(keys=answers, queues={"respiratory": ANSWERED, "emergency": ANSWERED})
    flow = flow_set.flows["records"]
    call_id = await rec.start(ch.uniqueid, "Local/x", ch.caller_number, flow.name,
                              flow_set.version)
    state = CallState(call_id, flow_set, flow, ch, vars={"lang": "en-US"})
    await FlowRunner(rec, RuleTriager()).run(state)
    await rec.finish(call_id, "error")
    record = rec.get(call_id)
    rec.close()
    return record, state, ch


async def test_a_caller_who_sounds_urgent_is_asked_if_it_is_an_emergency(tmp_path, flow_set):
    start = voice(tmp_path, "I would like to describe my symptoms to a nurse please", CALM)
    record, state, ch = await run(tmp_path, flow_set, [
        ("describe my symptoms", start), (COUGH, voice(tmp_path, COUGH, STRESSED)), "2"])
    assert state.vars["acoustic_urgency"] >= 0.7
    [decision] = record.triage
    assert decision.urgency == 2  # the voice raised a routine cough by one level
    assert any("acoustic" in r for r in decision.reasons)
    assert ("hear", "Is this an emergency? Press 1 for yes, 2 for no.") in ch.log
    assert record.queue == "respiratory"  # "no, not an emergency": the triaged queue
    turn = [e for e in record.events if e.kind == "turn"][-1]
    assert turn.detail["acoustic"] >= 0.7 and turn.detail["acoustic_drivers"]


async def test_a_calm_caller_goes_straight_to_the_queue(tmp_path, flow_set):
    start = voice(tmp_path, "I would like to describe my symptoms to a nurse please", CALM)
    record, state, ch = await run(tmp_path, flow_set, [
        ("describe my symptoms", start), (COUGH, voice(tmp_path, COUGH, CALM))])
    assert state.vars["acoustic_urgency"] < 0.5
    assert record.triage[0].urgency == 3 and record.queue == "respiratory"
    assert not any("emergency?" in text for _, text in ch.log)

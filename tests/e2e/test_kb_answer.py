"""The line answers a question itself, through the real parts (issue 15): a simulated
caller on a real Asterisk asks by voice "where can I park my car?" (espeak-ng English,
a poor stand-in for a caller: clear and flat; Whisper tiny.en hears it), the answer step
finds the knowledge-base entry and says it; the caller then says nothing, so (doubt) a
person takes the call: the operator's pyVoIP handset answers.

Own lab: instance "kb", AMI 32038, SIP 32060, RTP 32200-32399, FastAGI 32573,
AudioSocket 32575, handset 32160 (RTP 32400+).
"""

import asyncio
import subprocess

import pytest
import pytest_asyncio

from ivr import events as ev
from ivr.sim.lab import AgentSpec
from ivr.speech.audio import read_wav, to_telephone, write_wav
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

WORDS = "Where can I park my car?"
FLOW = """\
flow: kb_line
languages: [en-US]
start: question
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  question:
    type: answer
    prompt: kb_question
    after: kb_after
    confirm: kb_confirm
    not_found: kb_not_found
    person: to_operator
    clinical: to_nurse
    next: goodbye
  goodbye: {type: hangup, prompt: goodbye}
  to_nurse: {type: route, queue: general_medicine, priority: 4, summary: "Said: {utterance}"}
  to_emergency: {type: route, emergency: true, priority: 10, summary: "Emergency"}
  to_operator: {type: route, queue: operator, priority: 3, summary: "Knowledge base test"}
"""
AGENTS = [AgentSpec("1001", ["operator", "general_medicine", "emergency"], talk_seconds=3.0)]


@pytest.fixture(scope="module")
def kb_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("kb")
    settings = lab_settings(work, "kb", ami=32038, sip=32060, rtp=range(32200, 32400),
                            agi=32573, audiosocket=32575)
    (work / "dialplans" / "kb_line.yaml").write_text(FLOW, encoding="utf-8")
    return settings


def _espeak(path, words):
    raw = path.with_name(f"{path.stem}-raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "125", "-w", str(raw), words],
                   check=True)
    samples, rate = read_wav(raw)
    write_wav(path, to_telephone(samples, rate))
    raw.unlink()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kb_lab(kb_settings):
    async with running_lab(kb_settings, AGENTS, handset_sip=32160, handset_rtp=32400) as lab:
        recognizer = lab.engine.recognizer
        if "en-US" not in (recognizer.languages() if recognizer else []):
            pytest.fail("no English recogniser: faster-whisper / tiny.en model missing")
        sim = lab.pbx.sounds_dir[0] / "sim"
        sim.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_espeak, sim / "kb-parking.wav", WORDS)
        yield lab


async def test_a_question_by_voice_hears_the_entry_then_silence_reaches_a_person(kb_lab):
    # "later": the words come 8 s after the answer, once the question has been asked
    uniqueid = await kb_lab.place("laterkb-parking", "13800138501", context="sim-flow",
                                  exten="kb_line")
    record = await kb_lab.wait(uniqueid, timeout=240)
    events = record.events
    heard = [e.text for e in events if e.kind == "turn"]
    answers = [(e.detail or {}) for e in events if e.kind == "answer"]
    said = [e for e in events if e.kind == "prompt" and (e.detail or {}).get("prompt", "")
            .startswith("kb:")]
    print("caller heard as:", heard, "| answer events:", answers)
    assert heard and "park" in heard[0].lower(), heard
    assert [(a["outcome"], a["entry"]) for a in answers] == [
        ("spoken", "parking@1"), ("silence", "parking@1")], answers
    assert said and said[0].detail["prompt"] == "kb:parking"
    assert "car park" in said[0].text  # the entry's own words, nothing else
    decoded = [ev.decode(e.kind, e.step, e.text, e.detail) for e in events]
    routes = [e for e in decoded if isinstance(e, ev.Route)]
    assert routes and routes[-1].queue == "operator"  # silence after the answer: a person
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1001")

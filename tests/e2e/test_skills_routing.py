"""Skills routing and the agent's handoff through a real Asterisk (issue 14.1/14.6).

A child caller with a fever reaches general medicine, where two nurses are static
members (agents.yaml written here): 1001 first in the list (seat 1), 1002 with the
pediatrics skill (seat 2). The engine opens a penalty window on 1002 (QUEUE_MIN/
MAX_PENALTY, queue rule ivr-prefer), so 1002 rings first; her pyVoIP handset shows
the caller-ID name ``U2 fever 139**07`` (From display name of the INVITE) and hears
the whisper ("urgent, fever", rendered by the engine's TTS: espeak-ng, a poor stand-in
for a human voice, enough to be heard) before the caller is bridged. When 1002 does not
answer, the window widens after agents.prefer_seconds and 1001 takes the call: a
preference never leaves the caller with nobody. A Mandarin caller at the results desk
rings 1003, the only Mandarin speaker there, though 1001 is first in the list.

Own lab: instance 'skills', ports 27000-27999 only.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.settings import PROJECT_ROOT
from ivr.sim.lab import AgentSpec, Lab
from tests.e2e.own_lab import lab_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CALLER = "13900139007"
MANDARIN_CALLER = "13600136003"
DISPLAY = "U2 fever 139**07"

AGENTS_YAML = """\
agents:
  - extension: "1001"
    name: Nurse Adults
    languages: [en-US]
    queues: [general_medicine, results, operator, emergency]
  - extension: "1002"
    name: Nurse Kids
    languages: [en-US]
    skills: [pediatrics]
    queues: [general_medicine, operator, emergency]
  - extension: "1003"
    name: Nurse Li
    languages: [zh-CN]
    queues: [results, operator, emergency]
"""

# The test line: after the welcome, a child with a fever for general medicine (what a
# triage step would have found, set here so the call needs no speech or keys), or, from
# MANDARIN_CALLER, a Mandarin speaker for the results desk.
FLOW = """\
flow: main
description: Skills routing test line.
languages: [en-US, zh-CN]
start: welcome
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  welcome: {type: say, prompt: welcome, next: which}
  which:
    type: switch
    var: caller.number
    cases:
      "13600136003": mandarin_caller
    default: child_caller
  child_caller:
    type: set
    vars: {lang: en-US, caller.age_group: child, triage.urgency: 2, triage.symptoms: fever}
    next: to_doctor
  to_doctor: {type: route, queue: general_medicine, priority: 3, summary: Child with fever}
  mandarin_caller:
    type: set
    vars: {lang: zh-CN}
    next: to_results
  to_results: {type: route, queue: results, priority: 2, summary: Results}
  to_operator: {type: route, queue: operator, priority: 3}
  to_emergency: {type: route, emergency: true, priority: 10}
"""


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lab]:
    work = tmp_path_factory.mktemp("skills")
    (work / "agents.yaml").write_text(AGENTS_YAML)
    settings = lab_settings(
        work, "skills", ami=27038, sip=27060, rtp=range(27200, 27400), agi=27573,
        audiosocket=27575,
        agents={"file": work / "agents.yaml", "members": "static", "whisper": True,
                "prefer_seconds": 4})
    (Path(settings.engine.dialplans) / "main.yaml").write_text(FLOW)
    shutil.rmtree(Path(settings.engine.dialplans) / "tests", ignore_errors=True)
    assert (PROJECT_ROOT / "agents.yaml").exists()  # the shipped list stays untouched
    # static members (queues.conf from agents.yaml): the handsets only register
    specs = [AgentSpec(e, [], talk_seconds=8.0) for e in ("1001", "1002", "1003")]
    the_lab = Lab(settings, specs, handset_port_base=27160, handset_rtp_base=27400,
                  static_members=True)
    try:
        async with asyncio.timeout(600):  # a fresh instance renders every prompt
            await the_lab.start()
        yield the_lab
    finally:
        async with asyncio.timeout(120):
            await the_lab.stop()


def connect_times(lab: Lab) -> list[tuple[float, str]]:
    """(time.time(), member interface) of every AgentConnect from now on."""
    seen: list[tuple[float, str]] = []

    def on_connect(_manager: object, event: dict[str, str]) -> None:
        seen.append((time.time(), event.get("Interface") or event.get("MemberName", "")))
    lab.ami.on("AgentConnect", on_connect)
    return seen


def reset(lab: Lab) -> None:
    for handset in lab.handsets.values():
        handset.rang.clear()
        handset.answering = True
        handset.keep_audio = True
    lab.answers.clear()


async def test_child_call_rings_the_paediatric_nurse_first_with_name_and_whisper(lab: Lab):
    reset(lab)
    connects = connect_times(lab)
    async with asyncio.timeout(120):
        record = await lab.call("silent", CALLER, timeout=110)
    assert record.outcome == "answered"
    assert record.agent == "PJSIP/1002"
    assert not lab.handsets["1001"].rang.is_set()  # the window held only 1002
    got = next(a for a in lab.answers if a.extension == "1002")
    assert got.display_name == DISPLAY
    assert got.headers.get("X-IVR-Department") == "general_medicine"
    bridged = next(t for t, who in connects if who.endswith("1002"))
    # the whisper: the agent heard speech after picking up and before the bridge, when
    # the caller, not yet bridged, could not be heard
    before = got.heard(got.answered_at, bridged)
    voiced = sum(1 for f in before if max(abs(b - 128) for b in f) > 8)
    assert bridged - got.answered_at > 0.8, "no announcement before the bridge"
    assert voiced * 20 >= 400, f"only {voiced * 20} ms voiced before the bridge"


async def test_unanswered_preference_widens_to_the_other_nurse(lab: Lab):
    reset(lab)
    lab.handsets["1002"].answering = False  # rings, nobody picks up
    async with asyncio.timeout(150):
        record = await lab.call("silent", CALLER, timeout=140)
    assert lab.handsets["1002"].rang.is_set()
    assert record.outcome == "answered"
    assert record.agent == "PJSIP/1001"
    got = next(a for a in lab.answers if a.extension == "1001")
    assert got.display_name == DISPLAY


async def test_mandarin_caller_rings_the_mandarin_speaker_first(lab: Lab):
    reset(lab)
    async with asyncio.timeout(120):
        record = await lab.call("silent", MANDARIN_CALLER, timeout=110)
    assert record.outcome == "answered"
    assert record.agent == "PJSIP/1003"  # seat 3, yet the only Mandarin speaker
    assert not lab.handsets["1001"].rang.is_set()
    got = next(a for a in lab.answers if a.extension == "1003")
    assert got.display_name.endswith("136**03")

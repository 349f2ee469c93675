"""The emergency room through the real parts (issue 14.4): a caller talking to an agent,
the agent presses *9 on the handset (RFC 4733 keys, the feature code), the emergency
team's handset rings and answers, and all three hear each other; *8 hands a caller to the
team; a caller whose agent leaves before the team answers is never left alone.

Each party sends its own sound - the agent a 600 Hz tone, the emergency team 1,000 Hz,
the caller (a simulated patient, ``hearNAME`` in extensions_sim.conf) recorded speech -
and records what it hears: the caller's recording is read back from the PBX's spool.
Own lab (instance "conf", ports 28038/28060/28573/28575, RTP 28200-28399, handsets
28160+ / 28400+). Agents: 1001 answers for pharmacy, 1002 is the emergency team.
"""

import asyncio
import time

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.settings import PROJECT_ROOT
from ivr.sim.handset_audio import tone_level
from ivr.sim.lab import AgentSpec
from ivr.speech.audio import read_wav
from ivr.store.models import CallEvent
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

AGENT_HZ, TEAM_HZ = 600.0, 1000.0
HEARD = 0.05  # share of the energy at a party's frequency that counts as hearing it
AGENTS = [AgentSpec("1001", ["pharmacy"], talk_seconds=40.0),
          AgentSpec("1002", ["emergency"], talk_seconds=40.0)]
DIRECT_FLOW = """\
flow: conf_pharmacy
languages: [en-US]
start: to_pharmacy
on_error: to_operator
steps:
  to_pharmacy: {type: route, queue: pharmacy, priority: 1, summary: "Conference test"}
  to_operator: {type: route, queue: operator, priority: 3, summary: "Conference test"}
"""


@pytest.fixture(scope="module")
def conf_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("emergency_conf")
    settings = lab_settings(
        work, "conf", ami=28038, sip=28060, rtp=range(28200, 28400), agi=28573,
        audiosocket=28575, state_dir=work / "state",
        pbx={"root": PROJECT_ROOT / ".pbx" / "root", "last_resort": "PJSIP/1004,5"})
    (work / "dialplans" / "conf_pharmacy.yaml").write_text(DIRECT_FLOW, encoding="utf-8")
    return settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def lab(conf_settings):
    async with running_lab(conf_settings, AGENTS, handset_sip=28160,
                           handset_rtp=28400) as lab:
        for handset, hz in ((lab.handsets["1001"], AGENT_HZ),
                            (lab.handsets["1002"], TEAM_HZ)):
            handset.tone_hz = hz
            handset.keep_audio = True
        yield lab


async def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


def answer_of(lab, extension, since):
    found = [a for a in lab.answers if a.extension == extension and a.answered_at >= since]
    return found[-1] if found else None


def caller_heard(lab, name, placed):
    """What the line sent the caller (its recording, read back from the PBX's spool) as
    (time.time(), unsigned 8-bit frame): the recording starts when the caller answers,
    about when the call was placed (within a fraction of a second)."""
    path = lab.pbx.host_dir / "spool" / f"heard-{name}.wav"
    pcm, rate = read_wav(path)
    assert rate == 8000
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    u8 = ((samples >> 8) + 128).clip(0, 255).astype(np.uint8).tobytes()
    return [(placed + i / 8000, u8[i:i + 160]) for i in range(0, len(u8) - 159, 160)]


def between(frames, since, until):
    return [f for at, f in frames if since <= at < until]


async def call_agent(lab, name):
    """A caller put through to the agent (1001); returns (placed at, the agent's call)."""
    placed = time.time()
    uniqueid = await lab.place(f"hear{name}", "13800138001", context="sim-flow",
                               exten="conf_pharmacy")
    await wait_for(lambda: answer_of(lab, "1001", placed), 40, "the agent answers")
    return placed, uniqueid, answer_of(lab, "1001", placed)


async def wait_recording(lab, name, timeout=30):
    path = lab.pbx.host_dir / "spool" / f"heard-{name}.wav"
    deadline = time.monotonic() + timeout
    size = -1
    while True:  # MixMonitor writes the file out as the caller's channel ends
        now = path.stat().st_size if path.exists() else -1
        if now > 0 and now == size:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no recording of what the caller heard at {path}")
        size = now
        await asyncio.sleep(1)


def conference_states(lab, uniqueid):
    call = lab.engine.recorder.by_uniqueid(uniqueid)
    with Session(lab.engine.recorder.engine) as s:
        rows = s.scalars(select(CallEvent).where(CallEvent.call_id == call.id)
                         .order_by(CallEvent.seq)).all()
        return call, [r.kind if r.kind != "conference" else f"conference:{r.detail['state']}"
                      for r in rows]


async def test_three_way_conference_from_the_handset(lab):
    placed, uniqueid, agent_call = await call_agent(lab, "three")
    await asyncio.sleep(4)  # caller and agent talk
    pressed = time.time()
    await asyncio.to_thread(lab.handsets["1001"].press, "*9")
    await wait_for(lambda: answer_of(lab, "1002", pressed), 30, "the team answers")
    team_call = answer_of(lab, "1002", pressed)
    print(f"\n*9 to the emergency team's answer: {team_call.answered_at - pressed:.1f} s")
    await asyncio.sleep(6)  # the three of them
    end = time.time()
    lab.handsets["1002"].leave()
    lab.handsets["1001"].leave()
    await wait_recording(lab, "three")
    caller = caller_heard(lab, "three", placed)
    talk = (agent_call.answered_at + 1, pressed - 0.5)
    three = (team_call.answered_at + 1, end - 0.5)
    levels = {
        "caller hears agent before": tone_level(between(caller, *talk), AGENT_HZ),
        "caller hears team before": tone_level(between(caller, *talk), TEAM_HZ),
        "caller hears agent in room": tone_level(between(caller, *three), AGENT_HZ),
        "caller hears team in room": tone_level(between(caller, *three), TEAM_HZ),
        "agent hears team in room": tone_level(agent_call.heard(*three), TEAM_HZ),
        "team hears agent in room": tone_level(team_call.heard(*three), AGENT_HZ),
    }
    print("  " + ", ".join(f"{k} {v:.3f}" for k, v in levels.items()))
    print(f"  voiced: agent {agent_call.voiced_ms} ms, team {team_call.voiced_ms} ms")
    assert levels["caller hears agent before"] > HEARD
    assert levels["caller hears team before"] < HEARD
    assert levels["caller hears agent in room"] > HEARD
    assert levels["caller hears team in room"] > HEARD
    assert levels["agent hears team in room"] > HEARD
    assert levels["team hears agent in room"] > HEARD
    # the caller's speech (recorded words, not a tone) reached both handsets in the room
    assert len([f for f in agent_call.heard(*three) if max(f) - min(f) > 16]) > 25
    assert len([f for f in team_call.heard(*three) if max(f) - min(f) > 16]) > 25
    await wait_for(lambda: uniqueid not in lab.engine.active, 20, "the record closes")
    call, kinds = conference_states(lab, uniqueid)
    print(f"  record: outcome {call.outcome}; {kinds[-9:]}")
    assert call.outcome == "answered"
    assert "hangup" not in kinds  # moved into the room, not hung up
    for state in ("requested", "caller_joined", "agent_joined", "team_joined", "ended"):
        assert f"conference:{state}" in kinds

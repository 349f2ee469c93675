"""Faults through the real parts (issue 13.1): Asterisk restarted or crashed under a
running engine, queues with nobody in them, a handset gone mid-ring, the engine killed
with ``kill -9`` mid-menu, mid-listen and in queue. Every path ends with a person.

Its own lab (instance "fault", ports 19038/19060/19573/19575, handsets 19160+, RTP
13400-13599 and 25000+) with the engine as an ``ivr serve`` child process, so it runs
beside the session lab. Agents:
- 1001 answers for pharmacy and appointments;
- 1002 answers for the operator and the emergency team;
- 1003 is the only member of results and never answers (it rings, then goes away);
- 1004 is in no queue: the last resort (``pbx.last_resort``).
"""

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.settings import PROJECT_ROOT
from ivr.sim.lab import AgentSpec, Lab
from ivr.speech.audio import read_wav, to_telephone, write_wav
from tests.e2e.own_lab import lab_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

AGENTS = [
    AgentSpec("1001", ["pharmacy", "appointments"], talk_seconds=2.0),
    AgentSpec("1002", ["operator", "emergency"], talk_seconds=2.0),
    AgentSpec("1003", ["results"], talk_seconds=2.0),
    AgentSpec("1004", [], talk_seconds=2.0),
]
EMPTY_QUEUE_BOUND = 3.0  # s from the engine giving up to the last resort answering
HUMAN_AFTER_CRASH = 2.0  # s from kill -9 of the engine to a person on the line
# A spoken menu (Korean, the real Vosk model over AudioSocket), for kill -9 mid-listen.
KOREAN_FLOW = """\
flow: korean_line
languages: [ko-KR]
start: choose
on_error: to_operator
steps:
  choose:
    type: menu
    prompt: ko_menu
    timeout: 10
    retries: 1
    options:
      - {key: "1", say: ["약국"], goto: to_pharmacy}
      - {key: "2", say: ["예약"], goto: to_appointments}
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  to_pharmacy: {type: route, queue: pharmacy, priority: 2, summary: "Korean caller: pharmacy"}
  to_appointments: {type: route, queue: appointments, priority: 1, summary: Korean caller}
  to_operator: {type: route, queue: operator, priority: 3, summary: "Korean caller: no answer"}
"""
# Straight to one queue (context sim-flow, exten fault_<queue>): no menus to sit through.
DIRECT_FLOW = """\
flow: fault_{queue}
languages: [en-US]
start: to_{queue}
on_error: to_operator
steps:
  to_{queue}: {{type: route, queue: {queue}, priority: 1, summary: "Fault test: {queue}"}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "Fault test: operator"}}
"""
DIRECT_QUEUES = ("pharmacy", "results", "cardiology")
KOREAN_PROMPTS = """\
ko_menu: 약국 또는 예약이라고 말씀하세요.
still_there: 아직 계십니까? 다시 말씀드리겠습니다.
"""


@pytest.fixture(scope="module")
def fault_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    settings = lab_settings(
        work, "fault", ami=19038, sip=19060, rtp=range(13400, 13600), agi=19573,
        audiosocket=19575, state_dir=work / "state",
        pbx={"root": PROJECT_ROOT / ".pbx" / "root", "last_resort": "PJSIP/1004,20"})
    (work / "dialplans" / "korean_line.yaml").write_text(KOREAN_FLOW, encoding="utf-8")
    (work / "prompts" / "ko-KR.yaml").write_text(KOREAN_PROMPTS, encoding="utf-8")
    for queue in DIRECT_QUEUES:
        (work / "dialplans" / f"fault_{queue}.yaml").write_text(
            DIRECT_FLOW.format(queue=queue), encoding="utf-8")
    return settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flab(fault_settings):
    lab = Lab(fault_settings, AGENTS, handset_port_base=19160, handset_rtp_base=25000,
              engine_process=True, engine_log=Path("/tmp/ivr-fault-engine.log"))
    if not lab.pbx.is_running():  # members a previous run left in astdb
        shutil.rmtree(lab.pbx.host_dir / "db", ignore_errors=True)
    sim = lab.pbx.sounds_dir[0] / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(record_patient, sim, "ko-yeyak", "예약")
    async with asyncio.timeout(480):  # the child engine itself waits up to 420 s
        await lab.start()
    try:
        yield lab
    finally:
        async with asyncio.timeout(120):
            await lab.stop()


async def call_queue(lab, queue, number):
    """A caller put straight through to ``queue`` by the engine; talks to whoever answers."""
    return await lab.place("silent", number, context="sim-flow", exten=f"fault_{queue}")


def answers(lab, extension, since):
    return [a for a in lab.answers if a.extension == extension and a.answered_at >= since]


async def wait_answer(lab, extension, since, timeout=30.0):
    """The first answer by ``extension``'s handset after ``since`` (time.time())."""
    deadline = time.monotonic() + timeout
    while not answers(lab, extension, since):
        if time.monotonic() > deadline:
            raise AssertionError(f"handset {extension} did not answer within {timeout} s")
        await asyncio.sleep(0.05)
    return answers(lab, extension, since)[0]


async def members(lab, queue):
    return {m["Location"]: m for m in await lab.ami.queue_members(queue)}


async def test_agents_stay_in_their_queues_across_an_asterisk_restart(flab):
    before = {q: set(await members(flab, q)) for q in ("pharmacy", "operator", "emergency")}
    assert "PJSIP/1001" in before["pharmacy"] and "PJSIP/1002" in before["operator"]
    # astdb commits about once a second: a login in the last second before a crash is lost
    await asyncio.sleep(2.5)
    crashed = time.monotonic()
    await asyncio.wait_for(asyncio.to_thread(flab.pbx.restart, 60.0, True), 90)  # a crash
    await asyncio.wait_for(flab.ami.logged_in.wait(), 30)
    for queue, was in before.items():
        assert set(await members(flab, queue)) == was, f"{queue} lost its members"
    print(f"Asterisk crashed and back with its members in {time.monotonic() - crashed:.1f} s")
    # the handsets re-register on their own; the next call is answered by a person
    since = time.time()
    uniqueid = await flab.place("press2", "13800138101")
    got = await wait_answer(flab, "1001", since, timeout=60)
    assert got.headers.get("X-IVR-Department") == "pharmacy"
    record = await flab.wait(uniqueid, 60)
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1001")


async def test_empty_queues_overflow_to_the_last_resort_at_once(flab):
    """Nobody in cardiology, operator or emergency: the caller is not left waiting in any of
    them; the last resort (1004) rings within EMPTY_QUEUE_BOUND of the engine giving up."""
    for queue in ("operator", "emergency"):
        await flab.ami.queue_remove(queue, "PJSIP/1002")
    try:
        assert not await members(flab, "cardiology") and not await members(flab, "operator")
        since = time.time()
        uniqueid = await call_queue(flab, "cardiology", "13800138102")
        got = await wait_answer(flab, "1004", since, timeout=60)
        record = await flab.wait_record(uniqueid, lambda c: c.ended_at is not None, 30)
        routed = [e for e in record_events(flab, record.id) if e.kind == "route"]
        assert routed, "the engine routed the call"
        gave_up = routed[0].at.timestamp()
        print(f"empty queues -> last resort answered {got.answered_at - gave_up:.2f} s "
              "after the engine routed")
        assert got.answered_at - gave_up <= EMPTY_QUEUE_BOUND, (
            f"{got.answered_at - gave_up:.1f} s from routing to a person")
        # the engine's record ends where it let go; the reconciler adds who answered
        amended = await flab.wait_record(uniqueid, lambda c: c.outcome == "answered", 60)
        assert (amended.agent, amended.queue) == ("PJSIP/1004", "last_resort")
    finally:
        for queue in ("operator", "emergency"):
            await flab.ami.queue_add(queue, "PJSIP/1002", "Agent 1002")


async def test_a_queue_whose_members_are_all_paused_sends_the_caller_on(flab):
    """1001, pharmacy's only member, is paused (on a break): the caller is not queued
    there but goes straight on to the operator (1002)."""
    pause = {"Action": "QueuePause", "Queue": "pharmacy", "Interface": "PJSIP/1001"}
    await flab.ami.action({**pause, "Paused": "true"})
    try:
        since = time.time()
        uniqueid = await call_queue(flab, "pharmacy", "13800138104")
        got = await wait_answer(flab, "1002", since, timeout=60)
        record = await flab.wait(uniqueid, 30)
    finally:
        await flab.ami.action({**pause, "Paused": "false"})
    assert got.headers.get("X-IVR-Department") == "operator"
    results = [(r.queue, r.status) for r in record_queue_results(flab, record.id)]
    assert results == [("pharmacy", "JOINEMPTY"), ("operator", "ANSWERED")]
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1002")


async def test_a_handset_gone_mid_ring_sends_the_caller_on_to_a_person(flab):
    """1003, alone in results, rings and then unregisters: the caller leaves results
    (never to wait in an empty queue) and the operator (1002) answers."""
    handset = flab.handsets["1003"]
    handset.answering = False
    handset.rang.clear()
    since = time.time()
    uniqueid = await call_queue(flab, "results", "13800138103")
    assert await asyncio.to_thread(handset.rang.wait, 60), "1003 never rang"
    await asyncio.to_thread(handset.unregister)
    gone = time.time()
    got = await wait_answer(flab, "1002", since, timeout=45)
    print(f"handset gone mid-ring -> operator answered {got.answered_at - gone:.2f} s later")
    record = await flab.wait(uniqueid, 30)
    assert record.outcome == "answered" and record.agent == "PJSIP/1002"
    results = [(r.queue, r.status) for r in record_queue_results(flab, record.id)]
    assert results[0][0] == "results" and results[0][1] != "ANSWERED"
    assert ("operator", "ANSWERED") in results
    assert got.headers.get("X-IVR-Department") == "operator"


def record_events(lab, call_id):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ivr.store.models import CallEvent, aware

    with Session(lab._db) as s:
        rows = list(s.scalars(select(CallEvent).where(CallEvent.call_id == call_id)
                              .order_by(CallEvent.seq)))
        for row in rows:
            row.at = aware(row.at)
        s.expunge_all()
        return rows


def record_queue_results(lab, call_id):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ivr.store.models import QueueResult

    with Session(lab._db) as s:
        rows = list(s.scalars(select(QueueResult).where(QueueResult.call_id == call_id)
                              .order_by(QueueResult.seq)))
        s.expunge_all()
        return rows




def record_patient(sim, name, words):
    """The patient's words, spoken by espeak-ng and stored as 8 kHz WAV for Asterisk."""
    raw = sim / f"{name}-raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "130", "-w", str(raw), words], check=True,
                   timeout=30)
    samples, rate = read_wav(raw)
    write_wav(sim / f"{name}.wav", to_telephone(samples, rate))
    raw.unlink()


async def channel_app(lab, uniqueid):
    """The application the call's channel is in now (AGI, AudioSocket, Queue...)."""
    events = await lab.ami.action({"Action": "CoreShowChannels"}, as_list=True)
    for event in events:
        if event.get("Uniqueid") == uniqueid:
            return event.get("Application", "")
    return None


async def wait_app(lab, uniqueid, app, timeout=40.0):
    deadline = time.monotonic() + timeout
    while (now := await channel_app(lab, uniqueid)) != app:
        if time.monotonic() > deadline:
            raise AssertionError(f"call {uniqueid} never reached {app} (now {now})")
        await asyncio.sleep(0.1)


async def crash_engine(lab):
    """kill -9 the engine; returns the moment it died (time.time())."""
    await asyncio.to_thread(lab.process.kill)
    return time.time()


async def restarted_closes(lab, uniqueid, timeout=120.0):
    """Start the engine again; its reconciler closes the lost call's record."""
    await asyncio.wait_for(asyncio.to_thread(lab.process.start, 120.0), 130)
    return await lab.wait_record(uniqueid, lambda c: c.ended_at is not None, timeout)


def reconciled(lab, record):
    events = [e for e in record_events(lab, record.id) if e.kind == "reconciled"]
    assert len(events) == 1, "closed by the reconciler, once"
    return events[0]


async def test_engine_killed_mid_menu_a_person_answers_and_the_record_is_closed(flab):
    uniqueid = await flab.place("silent", "13800138201")  # hears menus, never answers
    await flab.wait_record(uniqueid, lambda c: any(
        e.kind == "step" and e.step == "language" for e in record_events(flab, c.id)), 60)
    died = await crash_engine(flab)
    got = await wait_answer(flab, "1002", died, timeout=30)  # the dialplan's operator
    print(f"kill -9 mid-menu -> operator answered in {got.answered_at - died:.2f} s")
    assert got.answered_at - died <= HUMAN_AFTER_CRASH
    assert flab.record(uniqueid).ended_at is None  # nothing closed it yet
    record = await restarted_closes(flab, uniqueid)
    assert (record.outcome, record.agent, record.queue) == ("answered", "PJSIP/1002",
                                                            "operator")
    assert reconciled(flab, record).detail["source"] == "queue_log"


async def test_engine_killed_mid_listen_a_person_answers_and_the_record_is_closed(flab):
    """The caller is saying a Korean menu answer (heard by Vosk over AudioSocket) when
    the engine dies."""
    placed = time.monotonic()
    uniqueid = await flab.place("laterko-yeyak", "13800138202", context="sim-flow",
                                exten="korean_line")
    await wait_app(flab, uniqueid, "AudioSocket")  # the engine is listening
    # the patient speaks 8 s after answering: kill while the word is being said
    await asyncio.sleep(max(0.0, placed + 8.4 - time.monotonic()))
    assert await channel_app(flab, uniqueid) == "AudioSocket"
    died = await crash_engine(flab)
    got = await wait_answer(flab, "1002", died, timeout=30)
    print(f"kill -9 mid-listen -> operator answered in {got.answered_at - died:.2f} s")
    assert got.answered_at - died <= HUMAN_AFTER_CRASH
    record = await restarted_closes(flab, uniqueid)
    assert (record.outcome, record.agent, record.queue) == ("answered", "PJSIP/1002",
                                                            "operator")
    assert record.flow == "korean_line"
    reconciled(flab, record)


async def test_engine_killed_while_the_caller_is_queued_the_agent_still_answers(flab):
    """Queued for pharmacy, 1001 ringing: the engine dies; Asterisk keeps the caller in
    the queue and 1001 picks up; the restarted engine records who answered."""
    handset = flab.handsets["1001"]
    handset.answer_delay, handset.answering = 1.0, True
    handset.rang.clear()
    try:
        uniqueid = await call_queue(flab, "pharmacy", "13800138203")
        assert await asyncio.to_thread(handset.rang.wait, 60), "1001 never rang"
        died = await crash_engine(flab)
        got = await wait_answer(flab, "1001", died, timeout=30)
        print(f"kill -9 in queue -> agent answered in {got.answered_at - died:.2f} s")
        assert got.answered_at - died <= HUMAN_AFTER_CRASH
        record = await restarted_closes(flab, uniqueid)
    finally:
        handset.answer_delay = 0.0
    assert (record.outcome, record.agent, record.queue) == ("answered", "PJSIP/1001",
                                                            "pharmacy")
    reconciled(flab, record)

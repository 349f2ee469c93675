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
import time
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.settings import PROJECT_ROOT, load_settings
from ivr.sim.lab import AgentSpec, Lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

AGENTS = [
    AgentSpec("1001", ["pharmacy", "appointments"], talk_seconds=2.0),
    AgentSpec("1002", ["operator", "emergency"], talk_seconds=2.0),
    AgentSpec("1003", ["results"], talk_seconds=2.0),
    AgentSpec("1004", [], talk_seconds=2.0),
]
EMPTY_QUEUE_BOUND = 3.0  # s from the engine giving up to the last resort answering


@pytest.fixture(scope="module")
def fault_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    shutil.copytree(PROJECT_ROOT / "dialplans", work / "dialplans")
    shutil.copytree(PROJECT_ROOT / "prompts", work / "prompts")
    return load_settings(
        state_dir=work / "state",
        pbx={"instance": "fault", "ami_port": 19038, "sip_port": 19060,
             "rtp_start": 13400, "rtp_end": 13599, "root": PROJECT_ROOT / ".pbx" / "root",
             "last_resort": "PJSIP/1004,20"},
        engine={"agi_port": 19573, "audiosocket_port": 19575,
                "database_url": f"sqlite:///{work / 'calls.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
        followups={"enabled": False})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flab(fault_settings):
    lab = Lab(fault_settings, AGENTS, handset_port_base=19160, handset_rtp_base=25000,
              engine_process=True, engine_log=Path("/tmp/ivr-fault-engine.log"))
    if not lab.pbx.is_running():  # members a previous run left in astdb
        shutil.rmtree(lab.pbx.host_dir / "db", ignore_errors=True)
    async with asyncio.timeout(300):
        await lab.start()
    try:
        yield lab
    finally:
        async with asyncio.timeout(120):
            await lab.stop()


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
    await asyncio.wait_for(asyncio.to_thread(flab.pbx.restart, 60.0, True), 90)  # a crash
    await asyncio.wait_for(flab.ami.logged_in.wait(), 30)
    for queue, was in before.items():
        assert set(await members(flab, queue)) == was, f"{queue} lost its members"
    # the handsets re-register on their own; the next call is answered by a person
    since = time.time()
    uniqueid = await flab.place("press2", "13800138101")
    got = await wait_answer(flab, "1001", since, timeout=60)
    assert got.headers.get("X-IVR-Department") == "pharmacy"
    record = await flab.wait(uniqueid, 60)
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1001")


async def test_empty_queues_overflow_to_the_last_resort_at_once(flab):
    """Nobody in nurse, operator or emergency: the caller is not left waiting in any of
    them; the last resort (1004) rings within EMPTY_QUEUE_BOUND of the engine giving up."""
    for queue in ("operator", "emergency"):
        await flab.ami.queue_remove(queue, "PJSIP/1002")
    try:
        assert not await members(flab, "nurse") and not await members(flab, "operator")
        since = time.time()
        uniqueid = await flab.place("press4", "13800138102")
        got = await wait_answer(flab, "1004", since, timeout=60)
        record = await flab.wait_record(uniqueid, lambda c: c.ended_at is not None, 30)
        routed = [e for e in record_events(flab, record.id) if e.kind == "route"]
        assert routed, "the engine routed the call"
        gave_up = routed[0].at.timestamp()
        assert got.answered_at - gave_up <= EMPTY_QUEUE_BOUND, (
            f"{got.answered_at - gave_up:.1f} s from routing to a person")
    finally:
        for queue in ("operator", "emergency"):
            await flab.ami.queue_add(queue, "PJSIP/1002", "Agent 1002")


async def test_a_handset_gone_mid_ring_sends_the_caller_on_to_a_person(flab):
    """1003, alone in results, rings and then unregisters: the caller leaves results
    (never to wait in an empty queue) and the operator (1002) answers."""
    handset = flab.handsets["1003"]
    handset.answering = False
    handset.rang.clear()
    since = time.time()
    uniqueid = await flab.place("press3", "13800138103")
    assert await asyncio.to_thread(handset.rang.wait, 60), "1003 never rang"
    await asyncio.to_thread(handset.unregister)
    got = await wait_answer(flab, "1002", since, timeout=45)
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



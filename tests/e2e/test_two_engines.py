"""Two engines behind one Asterisk on one PostgreSQL (issue 13.6), through the real parts.

Engine A runs in this process (the lab's), engine B as an ``ivr serve`` child process
(:mod:`ivr.sim.engine_process`), each with its own state folder; both write to one
private PostgreSQL server (started here as the store tests start theirs). The dialplan
lists both (``pbx.engines``): calls alternate between them ([ivr-agi]). The emergency
override, switched once in the database, reaches both engines' calls. Due follow-ups
are called once each, by either engine, the answered call run by the engine that placed
it. Then B is
killed with ``kill -9`` while a call is in its menu and another in A's: that caller
reaches a person through the fallback (and A's reconciler closes the record B left
open), the call on A finishes normally, and every new call goes to A (Asterisk's
connect to B is refused, [ivr-agi] moves on at once).

Its own lab: instance "multi", AMI 20038, SIP 20060, RTP 13600-13799, FastAGI 20573 /
20583, AudioSocket 20575 / 20585, handsets 20160+ (RTP 26000+). Bounded: every wait
has a timeout, the whole test 420 s.
"""

import asyncio
import datetime as dt
import logging
import re
import shutil
import time
from pathlib import Path

import pytest

from ivr.followups import store
from ivr.followups.scheduler import OutboundCall
from ivr.settings import PROJECT_ROOT, load_settings
from ivr.sim.engine_process import EngineProcess
from ivr.sim.lab import AgentSpec, Lab
from ivr.store import switches
from ivr.store.models import Call, utcnow
from tests.store.conftest import PgCluster, find_pg_bindir

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
log = logging.getLogger(__name__)

ENGINE_A, ENGINE_B = "127.0.0.1:20573", "127.0.0.1:20583"
# Callers press 9 (the emergency key, heard at the first menu, keys only there): the
# route does not depend on how fast a recogniser hears the simulated caller's speech.
SCENARIO, QUEUE = "press9", "emergency"
AGENTS = [
    AgentSpec("1001", [QUEUE], talk_seconds=2.0),
    AgentSpec("1003", [QUEUE], talk_seconds=2.0),
    AgentSpec("1002", ["operator"], talk_seconds=2.0),  # the fallback's: answers lost calls
]
FALLBACK_BOUND = 5.0  # s from kill -9 to the lost caller's operator answering


@pytest.fixture(scope="module")
def postgres():
    bindir = find_pg_bindir()
    assert bindir is not None, "PostgreSQL server binaries missing: run ./scripts/setup"
    cluster = PgCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop("fast")
        cluster.remove()


def engine_settings(work: Path, db_url: str, name: str, agi_port: int, audiosocket_port: int):
    return load_settings(
        state_dir=work / f"state-{name}",
        pbx={"instance": "multi", "ami_port": 20038, "sip_port": 20060,
             "rtp_start": 13600, "rtp_end": 13799, "root": PROJECT_ROOT / ".pbx" / "root",
             "engines": [ENGINE_A, ENGINE_B]},
        engine={"agi_port": agi_port, "audiosocket_port": audiosocket_port,
                "database_url": db_url, "dialplans": work / "dialplans",
                "prompts": work / "prompts"},
        # follow-up calls at any hour, looked up often, short rings
        followups={"poll_seconds": 0.5, "ring_seconds": 6, "max_concurrent": 2,
                   "hours": {"mon-sun": ["00:00-24:00"]}})


def share_state(src: Path, dst: Path) -> None:
    """What engines of one line share besides the database: the generated secrets (AMI
    login, the FastAGI token secret) and the keyring (caller hashes, sealed numbers)."""
    dst.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in ("secrets.json", "keys.json"):
        shutil.copy2(src / name, dst / name)
        (dst / name).chmod(0o600)


async def closed(lab: Lab, uniqueid: str, timeout: float) -> Call:
    """The call's record once closed, whichever engine wrote it (read from the database)."""
    assert lab.engine.recorder is not None
    deadline = time.monotonic() + timeout
    while True:
        record = await asyncio.to_thread(lab.engine.recorder.by_uniqueid, uniqueid)
        if record is not None and record.ended_at is not None:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"call {uniqueid}: record not closed within {timeout} s "
                                 f"({record and record.outcome})")
        await asyncio.sleep(0.2)


async def opened(lab: Lab, uniqueid: str, timeout: float) -> Call:
    assert lab.engine.recorder is not None
    deadline = time.monotonic() + timeout
    while (record := await asyncio.to_thread(lab.engine.recorder.by_uniqueid,
                                             uniqueid)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"call {uniqueid}: no record within {timeout} s")
        await asyncio.sleep(0.1)
    return record


async def until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


def spy_on_originate(lab: Lab) -> list[str]:
    """The follow-ups engine A's scheduler places (B's are the others)."""
    scheduler = lab.engine.scheduler
    assert scheduler is not None
    placed: list[str] = []
    originate = scheduler.originate

    async def noting(call: OutboundCall) -> None:
        placed.append(call.followup_id)
        await originate(call)
    scheduler.originate = noting
    return placed


async def called_back(db, followup_id: str, timeout: float):
    deadline = time.monotonic() + timeout
    while (item := await asyncio.to_thread(store.get, db, followup_id)).status != "done":
        if time.monotonic() > deadline:
            raise AssertionError(f"follow-up {followup_id[:8]}: {item.status} after "
                                 f"{timeout} s ({[t.outcome for t in item.tries]})")
        await asyncio.sleep(0.3)
    return item


def outbound_engines(lab: Lab) -> dict[str, str]:
    """Follow-up id -> the engine Asterisk ran its answered call on (Asterisk's log)."""
    log = (lab.pbx.host_dir / "log" / "messages.log").read_text(errors="replace")
    return {followup: engine for engine, followup in re.findall(
        r'AGI\("[^"]*", "agi://([0-9.:]+)/outbound\?followup=([0-9a-f-]+)', log)}


def on_engine_a(lab: Lab, uniqueid: str) -> bool:
    """Engine A (in this process) finished this call itself."""
    return lab._done[uniqueid].is_set()


async def place_all(lab: Lab, scenario: str, numbers: list[str]) -> list[str]:
    placed = []
    for number in numbers:
        placed.append(await lab.place(scenario, number))
        await asyncio.sleep(0.4)
    return placed


def complete(record: Call, queue: str = QUEUE) -> None:
    assert record.ended_at is not None and record.outcome == "answered", (
        record.asterisk_uniqueid, record.outcome)
    assert record.queue == queue and record.agent, (record.queue, record.agent)


async def test_calls_spread_over_two_engines_and_survive_one_killed(tmp_path, postgres):
    shutil.copytree(PROJECT_ROOT / "dialplans", tmp_path / "dialplans")
    shutil.copytree(PROJECT_ROOT / "prompts", tmp_path / "prompts")
    db_url = postgres.url(postgres.create_database())
    settings_a = engine_settings(tmp_path, db_url, "a", 20573, 20575)
    settings_b = engine_settings(tmp_path, db_url, "b", 20583, 20585)
    lab = Lab(settings_a, AGENTS, handset_port_base=20160, handset_rtp_base=26000)
    engine_b = EngineProcess(settings_b, log_path=tmp_path / "engine-b.log")
    async with asyncio.timeout(420):
        try:
            await lab.start()
            share_state(settings_a.state_dir, settings_b.state_dir)
            await asyncio.to_thread(engine_b.start, 420.0, True)  # every prompt rendered

            # 1. Balanced: four calls alternate between the engines.
            first = await place_all(lab, SCENARIO, [f"1380013800{i}" for i in range(4)])
            records = [await closed(lab, u, 90) for u in first]
            for record in records:
                complete(record)
            took_a = [u for u in first if on_engine_a(lab, u)]
            assert len(took_a) == 2, f"engine A took {len(took_a)} of 4"  # round robin

            # 2. The emergency override, switched once in the database, reaches both.
            db = lab.engine.recorder.engine
            flags = [st.state_dir / "emergency_override" for st in (settings_a, settings_b)]
            await asyncio.to_thread(switches.write, db, True, "drill", "test")
            await until(lambda: all(f.exists() for f in flags), 5, "override on")
            both = await place_all(lab, SCENARIO, ["13600136001", "13600136002"])
            for record in [await closed(lab, u, 60) for u in both]:
                assert [e.kind for e in record.events][1] == "override"
                complete(record)
            assert [on_engine_a(lab, u) for u in both].count(True) == 1  # one each
            await asyncio.to_thread(switches.write, db, False, "", "test")
            await until(lambda: not any(f.exists() for f in flags), 5, "override off")

            # 3. Follow-up calls: each patient called once, by one engine, and the answered
            #    call run by the engine that placed it (FOLLOWUP_ENGINE first in [ivr-agi]).
            placed_by_a = spy_on_originate(lab)
            due = utcnow()
            ids = [await lab.engine.recorder.create_followup(
                number=f"1560000000{i}", kind="post_surgery", flow="followup_call",
                due_at=due, deadline_at=due + dt.timedelta(days=2), reason="knee surgery",
                created_by="e2e") for i in range(4)]
            for followup_id in ids:
                item = await called_back(db, followup_id, 90)
                assert [t.outcome for t in item.tries] == ["answered_ok"], followup_id
                assert item.status == "done"
            ran_on = outbound_engines(lab)
            assert {ran_on[f] for f in ids} == {ENGINE_A, ENGINE_B}  # both took a share
            assert all((ran_on[f] == ENGINE_A) == (f in placed_by_a) for f in ids), ran_on

            # 4. B dies (kill -9) with a caller in its menu and another in A's.
            pair = await place_all(lab, SCENARIO, ["13900139001", "13900139002"])
            for uniqueid in pair:
                await opened(lab, uniqueid, 20)
            await asyncio.sleep(1.0)  # both callers are in the menu now
            assert [on_engine_a(lab, u) for u in pair].count(False) == 2  # none finished
            killed_at = time.time()
            await asyncio.to_thread(engine_b.kill)

            # 5. New calls while A's call goes on: all to A, all served.
            after = await place_all(lab, SCENARIO, [f"1370013700{i}" for i in range(4)])
            for uniqueid in after:
                complete(await lab.wait(uniqueid, 90))  # A closed each one itself

            # A's call in progress finished normally; B's caller reached a person.
            on_a = [u for u in pair if on_engine_a(lab, u)]
            assert len(on_a) == 1, "the call in A's menu was not finished by A"
            complete(await closed(lab, on_a[0], 30))
            operator = [a for a in lab.answers
                        if a.extension == "1002" and a.answered_at >= killed_at]
            assert operator, "the caller lost with engine B reached nobody"
            assert operator[0].answered_at - killed_at <= FALLBACK_BOUND
            log.warning("two engines: the caller lost with B answered by the operator %.2f s "
                        "after kill -9", operator[0].answered_at - killed_at)
            # ...and its record, left open by B, is closed by the survivor's reconciler
            # once the channel is gone, with who answered in the fallback (queue_log)
            lost = await closed(lab, next(u for u in pair if u not in on_a), 40)
            assert (lost.outcome, lost.agent) == ("answered", "PJSIP/1002")
        finally:
            await asyncio.to_thread(engine_b.kill)
            await lab.stop()

"""Junk on the engine's FastAGI and AudioSocket ports during a real call (Asterisk 22,
the engine, a pyVoIP agent handset) on this module's own lab: random bytes, 10 MB
lines, endless headers, slowloris senders and 100 held connections on each port.
The call must not notice: routed to the right queue, answered by the agent, its
record complete, the engine as quick to react as in the same call without junk (the
time from each key or answer, and from the route, to what the engine did next, within
a second of the calm call's; the whole call's length is no measure: the simulated
caller presses its key every few seconds, so a small shift in its phase costs or saves
a menu's reprompt, CI once saw 15.4 s against 21.2 s with the same steps); the engine's
memory grows little, and every junk connection is closed by the engine in bounded
time. Bounded: at most 250 junk connections, every wait with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.sim.lab import AgentSpec
from ivr.telephony import audiosocket as aus
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
log = logging.getLogger(__name__)

HOST = "127.0.0.1"
AMI, SIP, AGI, AUDIOSOCKET = 16038, 16060, 16573, 16575
RTP = range(12000, 12200)
HANDSET_SIP, HANDSET_RTP = 16160, 22000
HELD = 100  # connections held open on each port, sending nothing
SLOW = 10  # slowloris senders per port: one byte every SLOW_EVERY seconds
SLOW_EVERY = 0.3
BIG = 10 * 1024 * 1024  # one line of this many bytes, no newline
ATTACK_SECONDS = 8.0  # the junk stops after this; the call runs meanwhile
CLOSED_WITHIN = 10.0  # every junk connection closed by the engine within this of its end
RSS_GROWTH_MB = 30
REACTS_TO = ("input", "turn", "route")  # the engine's move comes right after these


def reaction_seconds(call) -> float:
    """The engine's slowest reaction in ``call``: from a caller's key or answer, or the
    route, to the next thing recorded (the caller's own timing is not in it)."""
    events = call.events
    return max((b.at - a.at).total_seconds()
               for a, b in itertools.pairwise(events) if a.kind in REACTS_TO)


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory):
    return lab_settings(tmp_path_factory.mktemp("fuzz"), "fuzz", ami=AMI, sip=SIP, rtp=RTP,
                        agi=AGI, audiosocket=AUDIOSOCKET)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(fuzz_settings):
    agents = [AgentSpec("1001", ["pharmacy", "emergency", "operator"], talk_seconds=2.5)]
    async with running_lab(fuzz_settings, agents, handset_sip=HANDSET_SIP,
                           handset_rtp=HANDSET_RTP) as running:
        yield running


def rss_mb() -> float:
    """This process's resident memory: the engine runs in it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class Junk:
    """Junk senders against one port; counts the connections the engine closed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened = 0
        self.closed_by_engine = 0
        self.still_open = 0
        self.rng = random.Random(port)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 5)
        self.opened += 1
        return reader, writer

    async def _until_closed(self, reader: asyncio.StreamReader, deadline: float) -> None:
        """Read (and drop) what the engine sends until it closes us, or the deadline."""
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                while await reader.read(65536):
                    pass
            self.closed_by_engine += 1
        except TimeoutError:
            self.still_open += 1
        except ConnectionError:
            self.closed_by_engine += 1

    async def send(self, data: bytes, deadline: float) -> None:
        """One connection: ``data`` at once (if the engine lets us), then wait."""
        reader, writer = await self._connect()
        try:
            with contextlib.suppress(ConnectionError):
                writer.write(data)
                await asyncio.wait_for(writer.drain(), 10)
            await self._until_closed(reader, deadline)
        finally:
            writer.close()

    async def slowloris(self, data: bytes, until: float, deadline: float) -> None:
        """One connection sending ``data`` a byte at a time until ``until``."""
        reader, writer = await self._connect()
        try:
            with contextlib.suppress(ConnectionError):
                for b in data:
                    if time.monotonic() > until or reader.at_eof():
                        break
                    writer.write(bytes([b]))
                    await writer.drain()
                    await asyncio.sleep(SLOW_EVERY)
            await self._until_closed(reader, deadline)
        finally:
            writer.close()

    async def hold(self, deadline: float) -> None:
        """One connection that sends nothing."""
        reader, writer = await self._connect()
        try:
            await self._until_closed(reader, deadline)
        finally:
            writer.close()

    def random_bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)


async def attack_agi(junk: Junk, until: float, deadline: float) -> None:
    headers = b"".join(b"agi_x%d: y\n" % i for i in range(60_000))  # ~700 kB, no blank line
    tasks = [junk.hold(deadline) for _ in range(HELD)]
    tasks += [junk.slowloris(b"agi_network_script: inbound\n" * 10, until, deadline)
              for _ in range(SLOW)]
    tasks += [junk.send(b"A" * BIG, deadline), junk.send(headers, deadline),
              junk.send(b"agi_network_script: inbound\nagi_channel: " + b"x" * BIG, deadline)]
    tasks += [junk.send(junk.random_bytes(junk.rng.randrange(1, 8192)), deadline)
              for _ in range(20)]
    # a well-formed session for a route nobody serves, and one forging a caller
    tasks += [junk.send(b"agi_network_script: nowhere\n\n", deadline),
              junk.send(b"agi_network_script: inbound\nagi_callerid: 13800138000\n"
                        b"agi_uniqueid: 1.1\nagi_channel: PJSIP/forged\n\n", deadline)]
    await asyncio.gather(*tasks)


async def attack_audiosocket(junk: Junk, until: float, deadline: float) -> None:
    unknown = aus.encode(aus.Kind.UUID, junk.random_bytes(16))
    tasks = [junk.hold(deadline) for _ in range(HELD)]
    tasks += [junk.slowloris(unknown, until, deadline) for _ in range(SLOW)]
    tasks += [junk.send(junk.random_bytes(BIG), deadline),
              junk.send(unknown + aus.encode(aus.Kind.AUDIO, bytes(65535)) * 160, deadline),
              junk.send(aus.encode(aus.Kind.AUDIO, bytes(320)) * 1000, deadline)]
    tasks += [junk.send(junk.random_bytes(junk.rng.randrange(1, 8192)), deadline)
              for _ in range(20)]
    await asyncio.gather(*tasks)


async def run_attacks() -> dict[str, dict[str, int]]:
    """Both attacks at once; what each port did with its junk connections."""
    agi, audio = Junk(AGI), Junk(AUDIOSOCKET)
    start = time.monotonic()
    until, deadline = start + ATTACK_SECONDS, start + ATTACK_SECONDS + CLOSED_WITHIN
    async with asyncio.timeout(ATTACK_SECONDS + CLOSED_WITHIN + 20):
        await asyncio.gather(attack_agi(agi, until, deadline),
                             attack_audiosocket(audio, until, deadline))
    return {name: {"opened": j.opened, "closed": j.closed_by_engine, "open": j.still_open}
            for name, j in (("agi", agi), ("audio", audio))}


async def attacker() -> asyncio.subprocess.Process:
    """The junk senders in a process of their own (this file run as a script), so
    their buffers and CPU are not counted as the engine's, which runs in this one."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.test_hostile_traffic", stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2])  # from the project root: `tests.e2e` importable


async def test_junk_on_both_ports_leaves_a_live_call_untouched(lab):
    # the same call without junk first (after a first one that warms caches up):
    # its duration is the bar
    await lab.call("press2", "13800138020", timeout=90)
    calm = await lab.call("press2", "13800138021", timeout=90)
    assert (calm.queue, calm.outcome, calm.agent) == ("pharmacy", "answered", "PJSIP/1001")
    steps = [e.step for e in calm.events if e.kind == "step"]
    rss_before = rss_mb()

    proc = await attacker()
    try:
        await asyncio.sleep(1.5)  # the junk is in place before the call comes
        record = await lab.call("press2", "13800138022", timeout=90)
        async with asyncio.timeout(ATTACK_SECONDS + CLOSED_WITHIN + 40):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    junk = json.loads(out)
    agi, audio = junk["agi"], junk["audio"]
    rss_after = rss_mb()

    log.warning("junk: FastAGI %s, AudioSocket %s; call %.2f s vs %.2f s calm, slowest "
                "reaction %.2f s vs %.2f s; engine RSS %.1f -> %.1f MB", agi, audio,
                record.duration_seconds, calm.duration_seconds, reaction_seconds(record),
                reaction_seconds(calm), rss_before, rss_after)
    # the call: the right queue, answered, a complete record, the engine's usual pace
    assert (record.queue, record.queue_priority, record.outcome, record.agent) == (
        "pharmacy", 2, "answered", "PJSIP/1001")
    assert [e.step for e in record.events if e.kind == "step"] == steps
    kinds = [e.kind for e in record.events]
    assert kinds[0] == "start" and kinds[-1] == "end" and "ami:AgentConnect" in kinds
    assert [e.seq for e in record.events] == list(range(1, len(kinds) + 1))
    assert record.ended_at is not None
    assert reaction_seconds(record) < reaction_seconds(calm) + 1.0
    answered = [a for a in lab.answers if a.headers.get("X-IVR-Call-Id") == record.id]
    assert answered and answered[0].headers["X-IVR-Department"] == "pharmacy"
    # the junk: every connection opened, and each closed by the engine in time
    assert (agi["opened"], audio["opened"]) == (HELD + SLOW + 25, HELD + SLOW + 23)
    assert (agi["open"], audio["open"]) == (0, 0)
    # no junk became a call or a stream, and memory stayed put
    assert not lab.engine.audiosocket.streams and not lab.engine.agi.sessions
    assert lab.engine.audiosocket.refused >= audio["opened"]
    assert await asyncio.to_thread(lab.engine.recorder.by_uniqueid, "1.1") is None
    assert rss_after - rss_before < RSS_GROWTH_MB


if __name__ == "__main__":  # the attacker process (see attacker())
    print(json.dumps(asyncio.run(run_attacks())))

"""What listens where, who may drive a call, and what the logs keep: checked on a real
line (Asterisk 22, the engine, pyVoIP handsets) on this module's own ports, against
what SECURITY.md says."""

import asyncio
import os
import re
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.sim.lab import AgentSpec
from ivr.telephony.agi_auth import agi_token
from ivr.telephony.errors import AmiError
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HOST = "127.0.0.1"
AMI, SIP, AGI, AUDIOSOCKET = 17038, 17060, 17573, 17575
RTP = range(12200, 12400)
HANDSET_SIP, HANDSET_RTP = 17160, 23000
CALLER = "13900139017"  # must not appear in clear in Asterisk's logs


@pytest.fixture(scope="module")
def sec_settings(tmp_path_factory):
    return lab_settings(tmp_path_factory.mktemp("sec"), "sec", ami=AMI, sip=SIP, rtp=RTP,
                        agi=AGI, audiosocket=AUDIOSOCKET)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(sec_settings):
    agents = [AgentSpec("1001", ["pharmacy", "emergency", "operator"], talk_seconds=4.0)]
    async with running_lab(sec_settings, agents, handset_sip=HANDSET_SIP,
                           handset_rtp=HANDSET_RTP) as running:
        yield running


def listeners() -> list[tuple[str, str, int, set[int]]]:
    """``ss -ltnup``: (protocol, address, port, pids) of every listening socket."""
    out = subprocess.run(["ss", "-ltnupH"], capture_output=True, text=True, timeout=10,
                         check=True).stdout
    found = []
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        address, _, port = cols[4].rpartition(":")
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        found.append((cols[0], address.strip("[]"), int(port), pids))
    return found


def of(pid: int) -> list[tuple[str, str, int]]:
    return sorted({(proto, addr, port) for proto, addr, port, pids in listeners()
                   if pid in pids})


def ephemeral() -> range:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


async def test_asterisk_listens_only_on_the_configured_address_and_ports(lab):
    """SECURITY.md: AMI tcp and SIP udp on pbx.host. Besides them only pjproject's DNS
    resolver: one client socket per address family on an ephemeral port, which takes
    nothing but answers to its own queries (and no TCP at all on any other address)."""
    pid = lab.pbx._pid()
    assert pid is not None
    found = of(pid)
    assert [x for x in found if x[1] == HOST] == [("tcp", HOST, AMI), ("udp", HOST, SIP)]
    resolver = [x for x in found if x[1] != HOST]
    assert {(proto, addr) for proto, addr, _port in resolver} <= {("udp", "0.0.0.0"),
                                                                  ("udp", "::"), ("udp", "*")}
    assert len(resolver) <= 2 and all(port in ephemeral() for *_x, port in resolver)


async def test_the_engine_and_handsets_listen_on_loopback_only(lab):
    mine = of(os.getpid())
    assert ("tcp", HOST, AGI) in mine and ("tcp", HOST, AUDIOSOCKET) in mine
    assert ("udp", HOST, HANDSET_SIP) in mine  # the lab's agent handset (pyVoIP)
    # this process may hold other tests' labs too: every one of them on loopback
    assert {addr for _proto, addr, _port in mine} <= {HOST, "::1"}, mine


async def test_a_call_with_its_token_is_served_and_its_media_stays_on_the_address(lab):
    place = asyncio.create_task(lab.call("press2", CALLER, timeout=90))
    pid = lab.pbx._pid()
    rtp_seen: set[tuple[str, str, int]] = set()
    while not place.done():  # while the agent talks: Asterisk's media sockets
        rtp_seen |= {x for x in of(pid) if x[2] in RTP}
        await asyncio.sleep(0.2)
    record = await place
    assert (record.queue, record.outcome) == ("pharmacy", "answered")
    assert rtp_seen, "no RTP socket seen during the call"
    assert {addr for _p, addr, _port in rtp_seen} == {HOST}, rtp_seen
    assert lab.engine.agi.refused == 0  # the dialplan's token was accepted


async def forge(uniqueid: str, token: str, caller: str = "13811112222") -> bytes:
    """Pose as Asterisk: a whole FastAGI header block, then read what the engine sends."""
    reader, writer = await asyncio.open_connection(HOST, AGI)
    writer.write((f"agi_network: yes\nagi_network_script: inbound\nagi_uniqueid: {uniqueid}\n"
                  f"agi_channel: PJSIP/forged-00000001\nagi_callerid: {caller}\n"
                  f"agi_arg_1: {token}\n\n").encode())
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_forged_sessions_get_no_command_no_history_and_no_record(lab):
    before = lab.engine.agi.refused
    wrong_secret = agi_token("not-the-secret", "1799999999.1")
    sent = [await forge("1799999999.1", wrong_secret),
            await forge("1799999999.2", "0" * 40),
            await forge("1799999999.3", "")]
    assert sent == [b"", b"", b""]  # closed before any command (ANSWER would be first)
    assert lab.engine.agi.refused == before + 3
    for n in (1, 2, 3):
        record = await asyncio.to_thread(lab.engine.recorder.by_uniqueid, f"1799999999.{n}")
        assert record is None


async def test_a_token_seen_in_a_log_cannot_be_replayed(lab):
    record = await lab.call("press9", "13700137017", timeout=90)  # a real call
    uniqueid = record.asterisk_uniqueid
    token = agi_token(lab.settings.secrets.agi_secret, uniqueid)
    before = lab.engine.agi.refused
    assert await forge(uniqueid, token) == b""
    assert lab.engine.agi.refused == before + 1


async def test_ami_account_has_no_system_or_command_rights(lab):
    with pytest.raises(AmiError):
        await lab.engine.ami.action({"Action": "Command", "Command": "core show version"})


async def test_asterisk_logs_are_private_and_do_not_name_callers(lab):
    log_dir = lab.pbx.host_dir / "log"
    assert log_dir.stat().st_mode & 0o077 == 0
    files = [p for p in log_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"console.log", "messages.log"}
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"
    for name in ("console.log", "messages.log"):
        text = (log_dir / name).read_text(errors="replace")
        assert "Hospital line: 139***" in text  # the masked line is there...
        assert CALLER not in text  # ...the number is not
    etc = lab.pbx.host_dir / "etc"
    assert all(p.stat().st_mode & 0o077 == 0 for p in etc.iterdir())


async def test_the_call_records_database_is_private(lab):
    db = Path(lab.settings.database_url.removeprefix("sqlite:///"))
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if path.exists():
            assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"

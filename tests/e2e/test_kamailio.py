"""Kamailio's dispatcher in front of two Asterisk boxes (deploy/kamailio/), on loopback.

The SIP layer only: Kamailio 5.6 runs ``deploy/kamailio/kamailio.cfg`` as shipped (site
values given with ``-A``), two real Asterisk instances ("multi", "multi2") take its
calls through the endpoint of ``deploy/asterisk/pjsip_kamailio.conf`` into a context
that answers, and SIPp places the calls (INVITE, then ACK and BYE along Kamailio's
Record-Route). Calls alternate between the boxes; with one box stopped every call
still succeeds, on the other (the dispatcher fails over at set-up within its 2 s
INVITE timeout, then its OPTIONS pings mark the box down). What each box then does
with a call (the engines, queues) is what the other end-to-end tests cover.

Needs the Debian packages ``kamailio`` and ``sip-tester`` (SIPp); skipped with that
reason when they are missing. Ports: AMI 20038/20039, SIP 20060/20061, Kamailio
20062, SIPp 20063, RTP 13600-13799. Bounded: 240 s in all, 30 s per SIPp run.
"""

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.pbx import PbxInstance
from ivr.settings import PROJECT_ROOT, load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

KAMAILIO, SIPP = shutil.which("kamailio"), shutil.which("sipp")
KAMAILIO_PORT, SIPP_PORT = 20062, 20063
DEPLOY = PROJECT_ROOT / "deploy"
# The box's side of the hand-over, answering instead of running the line.
TEST_CONTEXT = """
[kamailio-test]
exten => s,1,NoOp(Call from Kamailio on ${CHANNEL(name)})
 same => n,Answer()
 same => n,Wait(5)
 same => n,Hangup()
"""


# SIPp's built-in uac sends ACK and BYE straight to the proxy without the route set;
# through a proxy that Record-Routes they must follow it (RFC 3261 12.2): this one does.
UAC_THROUGH_PROXY = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac through a record-routing proxy">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="500"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def box(tmp: Path, name: str, ami: int, sip: int, rtp: tuple[int, int]) -> PbxInstance:
    settings = load_settings(
        state_dir=tmp / name,
        pbx={"instance": name, "ami_port": ami, "sip_port": sip, "rtp_start": rtp[0],
             "rtp_end": rtp[1], "root": PROJECT_ROOT / ".pbx" / "root"},
        followups={"enabled": False})
    return PbxInstance(settings, simulation=True)


def take_kamailio_calls(pbx: PbxInstance) -> None:
    """The deploy snippet (Kamailio at 127.0.0.1) into the box's config, then reload."""
    etc = pbx.host_dir / "etc"
    snippet = (DEPLOY / "asterisk" / "pjsip_kamailio.conf").read_text()
    snippet = snippet.replace("match = 10.0.0.10", "match = 127.0.0.1")
    snippet = snippet.replace("context = hospital-inbound", "context = kamailio-test")
    with (etc / "pjsip.conf").open("a") as conf:
        conf.write("\n" + snippet)
    with (etc / "extensions.conf").open("a") as conf:
        conf.write(TEST_CONTEXT)
    pbx.cli("module reload res_pjsip.so")
    pbx.cli("dialplan reload")


def calls_taken(pbx: PbxInstance) -> int:
    log = pbx.host_dir / "log" / "messages.log"
    text = log.read_text(errors="replace")
    return len(re.findall(r"Executing \[s@kamailio-test:2\] Answer", text))


def sipp(calls: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    """``calls`` calls one after another through Kamailio; exit 0 when all succeeded."""
    scenario = workdir / "uac.xml"
    scenario.write_text(UAC_THROUGH_PROXY)
    return subprocess.run(
        [SIPP, "-sf", str(scenario), "-s", "s", "-m", str(calls), "-l", "1", "-d", "500",
         "-i", "127.0.0.1", "-p", str(SIPP_PORT), f"127.0.0.1:{KAMAILIO_PORT}",
         "-timeout", "25s", "-timeout_error", "-recv_timeout", "8000", "-nostdin",
         "-trace_err", "-error_file", str(workdir / "sipp-errors.log")],
        cwd=workdir, capture_output=True, text=True, timeout=30)


def failed(done: subprocess.CompletedProcess[str], workdir: Path) -> str:
    errors = workdir / "sipp-errors.log"
    return (errors.read_text(errors="replace")[-3000:] if errors.exists()
            else done.stdout[-2000:] + done.stderr[-1000:])


@pytest.mark.skipif(not (KAMAILIO and SIPP), reason="needs the Debian packages kamailio and "
                    "sip-tester (apt-get install kamailio sip-tester)")
async def test_kamailio_spreads_calls_over_two_boxes_and_fails_over(tmp_path):
    boxes = [box(tmp_path, "multi", 20038, 20060, (13600, 13699)),
             box(tmp_path, "multi2", 20039, 20061, (13700, 13799))]
    ds_list = tmp_path / "dispatcher.list"
    ds_list.write_text("".join(f"1 sip:127.0.0.1:{b.settings.pbx.sip_port} 0 0 duid={i}\n"
                               for i, b in enumerate(boxes)))
    kamailio = None
    kamailio_log = (tmp_path / "kamailio.log").open("wb")
    async with asyncio.timeout(240):
        try:
            for each in boxes:
                await asyncio.to_thread(each.up)
                await asyncio.to_thread(take_kamailio_calls, each)
            kamailio = subprocess.Popen(  # noqa: ASYNC220 - starts at once, waited below
                [KAMAILIO, "-f", str(DEPLOY / "kamailio" / "kamailio.cfg"), "-DD", "-E",
                 "-n", "1", "-Y", str(tmp_path), "-P", str(tmp_path / "kamailio.pid"),
                 "-A", f"LISTEN=udp:127.0.0.1:{KAMAILIO_PORT}", "-A", f'DS_LIST="{ds_list}"',
                 "-A", "PING_SECONDS=1"],
                stdout=subprocess.DEVNULL, stderr=kamailio_log)
            await asyncio.sleep(2.5)  # started, and the boxes answered their first pings
            assert kamailio.poll() is None, (tmp_path / "kamailio.log").read_text()

            before = [calls_taken(b) for b in boxes]
            done = await asyncio.to_thread(sipp, 4, tmp_path)
            assert done.returncode == 0, failed(done, tmp_path)
            taken = [calls_taken(b) - n for b, n in zip(boxes, before, strict=True)]
            assert taken == [2, 2], f"calls per box: {taken}"  # round robin

            await asyncio.to_thread(boxes[1].down)  # box 2 gone: no answer, no pings
            before = calls_taken(boxes[0])
            done = await asyncio.to_thread(sipp, 3, tmp_path)
            assert done.returncode == 0, failed(done, tmp_path)
            assert calls_taken(boxes[0]) - before == 3
        finally:
            if kamailio is not None:
                kamailio.terminate()
                try:
                    kamailio.wait(10)
                except subprocess.TimeoutExpired:
                    kamailio.kill()
            for each in boxes:
                await asyncio.to_thread(each.down)
            kamailio_log.close()

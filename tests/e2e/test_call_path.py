"""End to end through the real parts: Asterisk 22 (chroot), the engine over FastAGI
and AudioSocket, AMI, and pyVoIP SIP handsets registered as agents."""

import asyncio

import numpy as np
import pytest

from ivr.telephony.channel import AgiChannel
from ivr.telephony.fastagi import AgiSession

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def answers_for(lab, call_id):
    return [a for a in lab.answers if a.headers.get("X-IVR-Call-Id") == call_id]


async def wait_answer(lab, call_id, timeout=10.0):
    """The handset's record of the call (written when the agent hangs up)."""
    for _ in range(int(timeout * 10)):
        got = [a for h in lab.handsets.values() for a in h.answered
               if a.headers.get("X-IVR-Call-Id") == call_id]
        if got:
            return got[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no handset answered call {call_id}")


async def test_agents_logged_in_over_ami_are_free_queue_members(lab):
    members = {m["Location"]: m for m in await lab.engine.ami.queue_members("pharmacy")}
    assert members["PJSIP/1001"]["Status"] == "1"  # registered handset, not in use
    assert members["PJSIP/1001"]["Membership"] == "dynamic"


async def test_routed_call_is_answered_by_agent_handset_which_hears_the_caller(lab):
    record = await lab.call("press2", "13800138000")
    assert record.outcome == "answered"
    assert (record.choice, record.queue, record.queue_priority) == ("medication", "pharmacy", 2)
    assert record.agent == "PJSIP/1001"
    got = await wait_answer(lab, record.id)
    assert got.extension == "1001"
    assert got.headers["X-IVR-Summary"] == "Question about medication"
    assert got.headers["X-IVR-Department"] == "pharmacy"
    assert got.voiced_ms >= 200, "the agent should hear the patient's recorded speech"
    kinds = [e.kind for e in record.events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert "ami:AgentConnect" in kinds
    assert record.flow == "main" and len(record.flow_version) == 12
    steps = [e.step for e in record.events if e.kind == "step"]
    assert steps == ["welcome", "language", "set_english", "emergency_screen", "notices",
                     "open_matter_check", "main_menu", "medication", "medication_menu",
                     "to_pharmacy"]


async def test_emergency_key_goes_to_emergency_queue_with_top_priority(lab):
    record = await lab.call("press9", "13700137000")
    assert (record.queue, record.queue_priority, record.outcome) == ("emergency", 10, "answered")
    join = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                and e.get("Uniqueid") == record.asterisk_uniqueid)
    assert join["Queue"] == "emergency"


async def test_caller_hanging_up_mid_flow_leaves_a_complete_record(lab):
    record = await lab.call("drop5", "13900139000")
    assert record.outcome == "caller_hangup"
    assert record.ended_at is not None and 3 < record.duration_seconds < 30
    kinds = [e.kind for e in record.events]
    assert kinds[:3] == ["start", "step", "prompt"]
    assert kinds[-2:] == ["hangup", "end"]
    assert [e.seq for e in record.events] == list(range(1, len(kinds) + 1))
    assert record.queue is None and record.agent is None


async def test_engine_down_sends_the_call_to_the_operator_fallback(lab):
    await lab.engine.stop_listening()
    try:
        uniqueid = await lab.place("press2", "13600136000")
        join = await lab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                    and e.get("Uniqueid") == uniqueid, timeout=30)
        assert join["Queue"] == "operator"
        connect = await lab.wait_event(lambda e: e.get("Event") == "AgentConnect"
                                       and e.get("Uniqueid") == uniqueid, timeout=30)
        assert connect["Interface"] == "PJSIP/1002"
    finally:
        await lab.engine.resume_listening()
    assert lab.engine.recorder.by_uniqueid(uniqueid) is None  # the engine never saw it


async def test_listen_receives_caller_audio_over_audiosocket(lab):
    heard: list[bytes] = []
    took: list[float] = []

    async def probe(session: AgiSession) -> None:
        ch = AgiChannel(session, lab.engine.prompts, lab.engine.audiosocket,
                        f"127.0.0.1:{lab.settings.engine.audiosocket_port}")
        await ch.answer()
        t0 = asyncio.get_running_loop().time()
        heard.append(await ch.listen(3.0))
        took.append(asyncio.get_running_loop().time() - t0)
        await ch.hangup()

    lab.engine.agi.add_route("listen", probe)
    try:
        uniqueid = await lab.place("silent", "13500135000", context="sim-engine-probe",
                                   exten="listen")
        for _ in range(150):
            if heard:
                break
            await asyncio.sleep(0.1)
    finally:
        lab.engine.agi.del_route("listen")
    assert heard, f"probe call {uniqueid} never reached the engine"
    samples = np.frombuffer(heard[0], dtype="<i2")
    # A Local channel carries frames only while the patient side plays audio (its
    # Wait() sends none), so expect the ~1 s "hello world", not 3 s of frames.
    assert 0.5 * 8000 <= samples.size <= 3.2 * 8000
    assert np.abs(samples).max() > 1000  # real recorded speech came through
    assert 2.8 <= took[0] <= 5.0  # listen() lasted what was asked, then returned


async def test_emergency_override_sends_every_call_to_the_emergency_team(lab):
    flag = lab.engine.override_file
    flag.write_text("test\n")
    try:
        record = await lab.call("press2", "13400134000")
    finally:
        flag.unlink()
    assert (record.queue, record.queue_priority, record.outcome) == ("emergency", 10, "answered")
    assert [e.kind for e in record.events][1] == "override"

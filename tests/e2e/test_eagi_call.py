"""The classic EAGI path for real: the chrooted Asterisk 22 starts ``ivr-eagi``
inside its root (Python and the project put there by ``ivr pbx install --eagi``)
from ``hospital-inbound-eagi``; the script runs the flow, reads keys and, under
EAGI, the caller's audio on fd 3 (recognised by the Korean Vosk model installed in
the root), queues the caller for a real SIP handset, and writes the call record
to SQLite inside the root, read here from the host side.

Its own instance and ports (AMI 17038, SIP 17060, RTP 12000-12499, handsets 17160+),
so it runs beside the main e2e suite. The lab's engine is there for AMI, the agent
and the prompt cache; it never sees these calls (its records stay empty of them).
"""

import asyncio
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.pbx.eagi import ROOT_SCRIPT, eagi_state_dir, root_has_eagi
from ivr.settings import load_settings
from ivr.sim.lab import AgentSpec, Lab
from ivr.store.recorder import CallRecorder
from tests.e2e.test_call_path import wait_answer
from tests.e2e.test_speech import FLOW as SPEECH_FLOW
from tests.e2e.test_speech import PROMPTS, record_patient

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PROJECT = Path(__file__).parents[2]

# the Korean menu of the FastAGI speech tests, under a name of its own
FLOW = SPEECH_FLOW.replace("flow: korean_line", "flow: korean_eagi")


@pytest.fixture(scope="module")
def eagi_settings(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the EAGI test runs Asterisk (and ivr-eagi) in a chroot: run it as root")
    work = tmp_path_factory.mktemp("eagi")
    shutil.copytree(PROJECT / "dialplans", work / "dialplans")
    shutil.copytree(PROJECT / "prompts", work / "prompts")
    (work / "dialplans" / "korean_eagi.yaml").write_text(FLOW, encoding="utf-8")
    (work / "prompts" / "ko-KR.yaml").write_text(PROMPTS, encoding="utf-8")
    # The shared Asterisk root, but a state folder of its own (secrets, the emergency
    # switch ivr pbx up copies into the root): the main suite's override test runs apart.
    return load_settings(
        state_dir=work / "state",
        pbx={"instance": "eagi", "ami_port": 17038, "sip_port": 17060,
             "rtp_start": 12000, "rtp_end": 12499, "use_system": False,
             "root": load_settings().pbx_root},
        engine={"agi_port": 17573, "audiosocket_port": 17575,
                "database_url": f"sqlite:///{work / 'engine.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
        followups={"enabled": False},
    )


def seed_prompt_cache(root: Path, sounds: Path) -> int:
    """Hard-link the prompts other instances in the root rendered already (the cache is
    content-addressed: same name, same audio), so the engine renders only what is new."""
    sounds.mkdir(parents=True, exist_ok=True)
    linked = 0
    for other in sorted(root.glob("ivr/*/sounds")):
        if other == sounds:
            continue
        for wav in other.glob("tts-*.wav"):
            target = sounds / wav.name
            if not target.exists():
                os.link(wav, target)
                linked += 1
    return linked


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def eagi_lab(eagi_settings):
    """Python and the current source in the root (idempotent: seconds once installed),
    then Asterisk, an agent handset in the queues the calls reach, and the prompts."""
    lab = Lab(eagi_settings, [AgentSpec("1001", ["pharmacy", "appointments", "operator",
                                                 "emergency"], talk_seconds=2.0)],
              handset_port_base=17160, handset_rtp_base=22000)
    report = await asyncio.to_thread(lab.pbx.install_eagi)
    print(f"ivr-eagi in the root: {report.summary()}")
    assert lab.pbx.root is not None and root_has_eagi(lab.pbx.root)
    # A fresh records database (this instance is the test's own): no caller history.
    shutil.rmtree(eagi_state_dir(lab.pbx)[0], ignore_errors=True)
    sounds = lab.pbx.sounds_dir[0]
    await asyncio.to_thread(seed_prompt_cache, lab.pbx.root, sounds)
    sim = sounds / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(record_patient, sim, "ko-yeyak", "예약")
    async with lab:
        yield lab


async def eagi_record(lab: Lab, uniqueid: str, timeout: float = 90.0):
    """The call record ivr-eagi wrote inside the root, once closed (read from the host)."""
    db = eagi_state_dir(lab.pbx)[0] / "ivr.sqlite3"
    deadline = time.monotonic() + timeout

    def closed() -> bool:
        if not db.exists():
            return False
        with sqlite3.connect(db) as con:
            try:
                row = con.execute("select ended_at from calls where asterisk_uniqueid = ?",
                                  (uniqueid,)).fetchone()
            except sqlite3.OperationalError:  # created, not migrated yet
                return False
        return row is not None and row[0] is not None

    while not await asyncio.to_thread(closed):
        if time.monotonic() > deadline:
            log = lab.pbx.log_file.read_text(errors="replace")[-3000:]
            raise AssertionError(f"no closed record for {uniqueid} in {db}; log:\n{log}")
        await asyncio.sleep(0.25)
    recorder = CallRecorder(f"sqlite:///{db}")
    try:
        return await asyncio.to_thread(recorder.by_uniqueid, uniqueid)
    finally:
        recorder.close()


async def test_keypad_call_runs_ivr_eagi_in_the_root_and_is_routed(eagi_lab):
    lab = eagi_lab
    uniqueid = await lab.place("press2", "13800138010", context="hospital-inbound-eagi",
                               exten="main")
    record = await eagi_record(lab, uniqueid)
    steps = [e.step for e in record.events if e.kind == "step"]
    assert steps == ["welcome", "language", "set_english", "emergency_screen", "notices",
                     "open_matter_check", "main_menu", "medication", "medication_menu",
                     "to_pharmacy"]
    keys = [e.detail.get("dtmf") or e.text for e in record.events if e.kind == "input"]
    assert keys and set(keys) == {"2"}, [(e.kind, e.step, e.text, e.detail)
                                         for e in record.events]
    assert record.flow == "main" and record.channel.startswith("Local/press2@sim-patient")
    assert (record.choice, record.queue, record.queue_priority) == ("medication", "pharmacy", 2)
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1001")
    got = await wait_answer(lab, record.id)  # the pre-dial handler ran for EAGI too
    assert got.headers["X-IVR-Summary"] == "Question about medication"
    assert got.headers["X-IVR-Department"] == "pharmacy"
    # Run by Asterisk inside the root, not by the engine on the host:
    assert await asyncio.to_thread(lab.engine.recorder.by_uniqueid, uniqueid) is None
    dialplan = (lab.pbx.host_dir / "etc/extensions.conf").read_text()
    assert (f"EAGI({ROOT_SCRIPT},${{EXTEN}},--config=/ivr/eagi/etc/ivr-eagi.toml,"
            "--sounds=/ivr/eagi/sounds)") in dialplan


async def test_spoken_answer_on_fd3_is_recognised_in_the_root(eagi_lab):
    lab = eagi_lab
    uniqueid = await lab.place("laterko-yeyak", "13800138011",
                               context="hospital-inbound-eagi", exten="korean_eagi")
    record = await eagi_record(lab, uniqueid)
    turns = [e for e in record.events if e.kind == "turn"]
    assert turns, [(e.kind, e.step, e.text, e.detail) for e in record.events]
    assert "예약" in turns[0].text and turns[0].detail["barged_in"] is False
    assert record.flow == "korean_eagi"
    assert (record.queue, record.outcome) == ("appointments", "answered")

"""Shared fixtures. The end-to-end lab (real Asterisk, engine, SIP handsets) is built
once per test session on its own ports, so a developer's running PBX is untouched."""

import os
import shutil
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.settings import load_settings
from ivr.sim.lab import AgentSpec, Lab

# every lab engine of the run (each its own Asterisk instance) takes the prompts the
# first one rendered instead of synthesizing ~200 again (engine.tts_cache)
os.environ.setdefault("IVR_ENGINE__TTS_CACHE",
                      str(Path(__file__).parents[1] / ".pbx" / "tts-shared"))

E2E_AGENTS = [
    AgentSpec("1001", ["pharmacy", "appointments", "emergency"], talk_seconds=2.5),
    AgentSpec("1002", ["operator"], talk_seconds=2.5),
]


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the end-to-end tests run Asterisk in a chroot: run them as root "
                    "(CI does), or with a system Asterisk and IVR_PBX__USE_SYSTEM=true")
    work = tmp_path_factory.mktemp("e2e")
    db = work / "calls.sqlite3"
    root = Path(__file__).parents[1]
    # the engine serves copies of the flows, so hot-reload tests can edit them
    shutil.copytree(root / "dialplans", work / "dialplans")
    shutil.copytree(root / "prompts", work / "prompts")
    return load_settings(
        pbx={"instance": "e2e", "ami_port": 15038, "sip_port": 15060,
             "rtp_start": 11000, "rtp_end": 11499},
        engine={"agi_port": 14573, "audiosocket_port": 14575,
                "database_url": f"sqlite:///{db}", "dialplans": work / "dialplans",
                "prompts": work / "prompts"},
        # follow-up calls at any hour, looked up often, short rings (test_followup_call)
        followups={"poll_seconds": 0.5, "ring_seconds": 6,
                   "hours": {"mon-sun": ["00:00-24:00"]}},
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def lab(e2e_settings):
    async with Lab(e2e_settings, E2E_AGENTS, handset_port_base=15160,
                   handset_rtp_base=21000) as running:
        yield running

"""A lab on its own ports (instance, AMI, SIP, RTP, FastAGI, AudioSocket, handsets),
so a test file's Asterisk runs beside the session lab and the others."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ivr.settings import PROJECT_ROOT, Settings, load_settings
from ivr.sim.lab import AgentSpec, Lab


def lab_settings(work: Path, instance: str, *, ami: int, sip: int, rtp: range, agi: int,
                 audiosocket: int, pbx: dict[str, Any] | None = None,
                 **over: Any) -> Settings:
    """Settings serving copies of the shipped flows and prompts from ``work`` (a test may
    add or edit flows there), records in ``work/calls.sqlite3``, no follow-up calls."""
    if os.geteuid() != 0:
        pytest.fail("the end-to-end tests run Asterisk in a chroot: run them as root")
    shutil.copytree(PROJECT_ROOT / "dialplans", work / "dialplans")
    shutil.copytree(PROJECT_ROOT / "prompts", work / "prompts")
    return load_settings(
        # several labs share a 2-core machine: Asterisk's default maxload (3 per core)
        # would refuse the tests' calls
        pbx={"instance": instance, "ami_port": ami, "sip_port": sip,
             "rtp_start": rtp.start, "rtp_end": rtp.stop - 1, "maxload": 50.0,
             **(pbx or {})},
        engine={"agi_port": agi, "audiosocket_port": audiosocket,
                "database_url": f"sqlite:///{work / 'calls.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
        followups={"enabled": False}, **over)


@asynccontextmanager
async def running_lab(settings: Settings, agents: list[AgentSpec], *, handset_sip: int,
                      handset_rtp: int) -> AsyncIterator[Lab]:
    """The lab started (at most 10 min: a fresh instance renders every prompt) and
    stopped (at most 2 min)."""
    async with asyncio.timeout(600):
        lab = Lab(settings, agents, handset_port_base=handset_sip,
                  handset_rtp_base=handset_rtp)
        await lab.start()
    try:
        yield lab
    finally:
        async with asyncio.timeout(120):
            await lab.stop()

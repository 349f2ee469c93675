"""``ivr drill`` against a running line (issue 14.7): the command, run as staff would run
it (a subprocess with the lab's settings), places an emergency and a crisis drill caller
through the real Asterisk into the real engine and main flow; each must be heard as a
red flag (espeak-ng English heard by Whisper: a poor stand-in for a caller in distress),
routed to its team, answered by that team's handset, and print PASS with its time to a
human. The results are stored, the agents' phones said DRILL, and the report leaves the
drill calls out of the patients' figures.

Own lab (instance "drill", ports 28638/28660/28673/28675, RTP 28700-28799, handsets
28610+ / 28800+): 1001 answers for the emergency team, 1002 for the crisis team.
"""

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.reports.figures import compute_figures
from ivr.settings import PROJECT_ROOT
from ivr.sim.lab import AgentSpec
from ivr.store.database import make_engine
from ivr.store.models import Call, Drill
from tests.e2e.own_lab import lab_settings, running_lab

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

AGENTS = [AgentSpec("1001", ["emergency"], talk_seconds=40.0),
          AgentSpec("1002", ["crisis"], talk_seconds=40.0)]
LINE = re.compile(r"^drill (emergency|crisis)\s+(PASS|FAIL)\s+time to human ([0-9.]+) s ",
                  re.M)


@pytest.fixture(scope="module")
def drill_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("drill")
    return lab_settings(
        work, "drill", ami=28638, sip=28660, rtp=range(28700, 28800), agi=28673,
        audiosocket=28675, state_dir=work / "state",
        pbx={"root": PROJECT_ROOT / ".pbx" / "root", "last_resort": "PJSIP/1004,5"})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def lab(drill_settings):
    async with running_lab(drill_settings, AGENTS, handset_sip=28610,
                           handset_rtp=28800) as lab:
        if "en-US" not in (lab.engine.recognizer.languages() if lab.engine.recognizer
                           else []):
            pytest.fail("no English recogniser: the drill callers speak English")
        yield lab


def _env(settings) -> dict[str, str]:
    """The lab's settings as a site's environment would give them to ``ivr``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update({
        "IVR_STATE_DIR": str(settings.state_dir),
        "IVR_PBX__ROOT": str(settings.pbx.root),
        "IVR_PBX__INSTANCE": settings.pbx.instance,
        "IVR_PBX__AMI_PORT": str(settings.pbx.ami_port),
        "IVR_PBX__SIP_PORT": str(settings.pbx.sip_port),
        "IVR_ENGINE__DATABASE_URL": settings.database_url,
    })
    return env


def _drill(settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ivr.cli.main", "drill", *args],
                          env=_env(settings), cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=420)


async def test_drill_passes_both_scenarios_and_keeps_the_results(lab):
    started = datetime.now(UTC)
    done = await asyncio.to_thread(_drill, lab.settings, "--scenario", "all",
                                   "--timeout", "120", "--talk", "2")
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    found = {m.group(1): (m.group(2), float(m.group(3))) for m in LINE.finditer(done.stdout)}
    assert set(found) == {"emergency", "crisis"}, done.stdout
    for verdict, seconds in found.values():
        assert verdict == "PASS" and 0 < seconds < 120

    db = make_engine(lab.settings.database_url)
    try:
        with Session(db) as s:
            drills = s.scalars(select(Drill).order_by(Drill.id)).all()
            assert [(d.scenario, d.passed) for d in drills] == [("emergency", True),
                                                               ("crisis", True)]
            for d in drills:
                assert d.time_to_human_s == pytest.approx(found[d.scenario][1], abs=0.11)
                assert [st["step"] for st in d.steps] == [
                    "answered", "red_flag", "routed", "human", "never_alone"]
                call = s.get(Call, d.call_id)
                assert call is not None and call.queue == d.scenario
        figures = compute_figures(db, started - timedelta(minutes=1),
                                  datetime.now(UTC) + timedelta(minutes=1), tz="UTC")
    finally:
        db.dispose()
    assert figures.volume.total == 0  # drill calls are no patients' calls
    assert [(d.scenario, d.passed) for d in figures.drills.runs] == [
        ("emergency", True), ("crisis", True)]

    # the person who answered saw it was a drill
    for extension, scenario in (("1001", "emergency"), ("1002", "crisis")):
        got = [a for a in lab.answers if a.extension == extension]
        assert got, f"handset {extension} never answered"
        assert got[-1].headers.get("X-IVR-Drill") == scenario, got[-1].headers
        assert got[-1].display_name.startswith("DRILL"), got[-1].display_name

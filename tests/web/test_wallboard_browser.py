"""The wallboard in real headless Chromium (Selenium, Debian's chromium + chromedriver)
over the real parts: Asterisk (instance "wall"), the engine with its staff web pages,
pyVoIP handsets, simulated patients.

The emergency team's only phone (1002) rings and nobody answers, so callers wait in the
emergency queue: a routine caller first, then one whose words triage as urgency 1. The
wallboard shows the urgent caller above the routine one, the agents' states (1001
paused for lunch), and the override switch refused to an agent and allowed to a
supervisor, through the page (its CSRF token), with the switch in the database and the
engine's flag file following it.

Own ports (issue 14 table, helper C2): AMI 30038, SIP 30060, FastAGI 30573, AudioSocket
30575, PBX RTP 30200-30399, handsets SIP 30160+, RTP 30400+, web 30080.
Screenshots: IVR_SCREENSHOTS=<dir>.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from ivr.settings import PROJECT_ROOT
from ivr.sim.lab import AgentSpec
from ivr.store import switches
from ivr.store.access import add_staff
from ivr.web.passwords import set_password
from tests.e2e.own_lab import lab_settings, running_lab

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

WEB_PORT = 30080
BASE = f"http://127.0.0.1:{WEB_PORT}"
PASSWORD = "correct horse battery staple"
STAFF = {"root": "admin", "nurse": "agent", "boss": "supervisor"}
AGENTS = [AgentSpec("1002", ["emergency"]), AgentSpec("1001", ["pharmacy"])]
# Both callers go to the emergency queue through triage (the words are set, not spoken:
# this test is about the wallboard, test_spoken_red_flag.py hears real speech).
TRIAGED_FLOW = """\
flow: {name}
languages: [en-US]
start: words
on_error: to_operator
steps:
  words: {{type: set, vars: {{utterance: "{words}"}}, next: triage}}
  triage:
    type: triage
    protocols: false
    crisis: wait
    urgency: {{1: wait, 2: wait, 3: wait, 4: wait}}
  wait: {{type: route, queue: emergency, priority: {priority}, summary: "{summary}"}}
  to_operator: {{type: route, queue: operator, priority: 3}}
"""
FLOWS = {
    "wall_routine": {"words": "I would like to book an appointment", "priority": 1,
                     "summary": "Routine: appointment"},
    "wall_urgent": {"words": "my father has crushing chest pain and cannot breathe",
                    "priority": 10, "summary": "Red flag: chest pain"},
}


@pytest.fixture(scope="module")
def wall_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("wallboard")
    settings = lab_settings(
        work, "wall", ami=30038, sip=30060, rtp=range(30200, 30400), agi=30573,
        audiosocket=30575, state_dir=work / "state",
        # the project's Asterisk root, as the other own-port labs use: without it each run
        # debootstraps a private 600 MB sid root into state/ (3-5 min, needs the mirror)
        pbx={"root": PROJECT_ROOT / ".pbx" / "root"},
        web={"enabled": True, "port": WEB_PORT, "agent_extensions": {"boss": "1001"}})
    for name, values in FLOWS.items():
        (work / "dialplans" / f"{name}.yaml").write_text(
            TRIAGED_FLOW.format(name=name, **values), encoding="utf-8")
    return settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def wlab(wall_settings):
    async with running_lab(wall_settings, AGENTS, handset_sip=30160,
                           handset_rtp=30400) as lab:
        db = lab.engine.recorder.engine
        lab.engine.recorder.listeners.append(
            lambda uniqueid, call_id, e: log.info("call %s %s: %s %s %s", uniqueid, call_id[:8],
                                                  e.kind, e.step, e.text[:60]))
        for user, role in STAFF.items():
            await asyncio.to_thread(add_staff, db, user, role, "root")
            await asyncio.to_thread(set_password, db, user, PASSWORD, "root")
        yield lab


class Browser:
    """One headless Chromium (its own cookies: one signed-in person)."""

    def __init__(self) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1400,1000"):
            options.add_argument(arg)
        service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(30)

    def sign_in(self, user: str) -> None:
        d = self.driver
        d.get(f"{BASE}/login?next=/wallboard")
        d.find_element(By.ID, "user").send_keys(user)
        d.find_element(By.ID, "password").send_keys(PASSWORD)
        d.find_element(By.ID, "sign-in").click()
        self.until(lambda: d.current_url.endswith("/wallboard"), "the wallboard after sign-in")

    def until(self, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """Poll ``check`` in the page until it is truthy (the page updates by SSE)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                found = check()
                if found:
                    return found
            except WebDriverException as exc:  # an element replaced mid-read
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"not seen within {timeout:.0f} s: {what} (last error: {last})")

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("IVR_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))

    def close(self) -> None:
        self.driver.quit()


@pytest.fixture
def browsers():
    opened: list[Browser] = []

    def open_one() -> Browser:
        opened.append(Browser())
        return opened[-1]
    yield open_one
    for b in opened:
        b.close()


def queue_rows(browser: Browser, queue: str) -> list[dict[str, str]]:
    items = browser.driver.find_elements(
        By.CSS_SELECTOR, f'.wb-queue[data-queue="{queue}"] li.wb-caller')
    return [{"uniqueid": li.get_attribute("data-uniqueid"), "text": li.text} for li in items]


async def file_becomes(path: Path, present: bool, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while path.exists() != present:  # a file has no event to wait on
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def callers_waiting(wlab) -> tuple[str, str]:
    """The routine caller, then the urgent one, waiting in the emergency queue."""
    for spec in wlab.agents:
        if "emergency" in spec.queues:
            wlab.handsets[spec.extension].answering = False
    routine = await wlab.place("quiet", "13300133020", context="sim-flow",
                               exten="wall_routine")
    await wlab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                          and e.get("Uniqueid") == routine, timeout=60)
    urgent = await wlab.place("quiet", "13300133021", context="sim-flow", exten="wall_urgent")
    join = await wlab.wait_event(lambda e: e.get("Event") == "QueueCallerJoin"
                                 and e.get("Uniqueid") == urgent, timeout=60)
    assert (join["Queue"], join["Position"]) == ("emergency", "1")  # Asterisk seats it first
    return routine, urgent


async def test_wallboard_shows_the_emergency_caller_above_routine_ones(wlab, browsers):
    await wlab.ami.action({"Action": "QueuePause", "Interface": "PJSIP/1001",
                           "Paused": "true", "Reason": "lunch"})
    routine, urgent = await callers_waiting(wlab)
    boss = await asyncio.to_thread(browsers)
    await asyncio.to_thread(boss.sign_in, "boss")

    def two_waiting() -> list[dict[str, str]] | None:
        rows = queue_rows(boss, "emergency")
        return rows if len(rows) == 2 else None
    rows = await asyncio.to_thread(boss.until, two_waiting, "two callers in emergency", 30)
    board = [(c.uniqueid, c.priority, c.urgency, str(c.state)) for c in wlab.engine.live.calls()]
    assert [r["uniqueid"] for r in rows] == [urgent, routine], (rows, board)
    assert rows[0]["text"].startswith("U1") and "Red flag: chest pain" in rows[0]["text"]
    assert "Routine: appointment" in rows[1]["text"]
    for r in rows:  # masked numbers only
        assert "13300133020" not in r["text"] and "13300133021" not in r["text"]
    assert "133" in rows[0]["text"] and "*" in rows[0]["text"]

    def agent_state(ext: str) -> str:
        return boss.driver.find_element(
            By.CSS_SELECTOR, f'#wb-agents tr[data-extension="{ext}"]').text
    paused = await asyncio.to_thread(
        boss.until, lambda: "lunch" in agent_state("1001") and agent_state("1001"),
        "1001 paused (lunch)")
    assert "PAUSED" in paused.upper()
    emergency_phone = await asyncio.to_thread(boss.until, lambda: agent_state("1002"),
                                              "1002 listed")
    assert any(s in emergency_phone.upper() for s in ("RINGING", "REGISTERED")), \
        emergency_phone
    assert (await asyncio.to_thread(boss.text, "wb-waiting-now")) == "2"
    await asyncio.to_thread(boss.screenshot, "wallboard-waiting")
    await wlab.ami.action({"Action": "QueuePause", "Interface": "PJSIP/1001",
                           "Paused": "false"})


async def test_override_switch_refused_to_an_agent_allowed_to_a_supervisor(wlab, browsers):
    db = wlab.engine.recorder.engine
    flag = wlab.engine.override_file
    nurse = await asyncio.to_thread(browsers)
    await asyncio.to_thread(nurse.sign_in, "nurse")

    def press(browser: Browser, reason: str) -> str:
        browser.until(lambda: browser.driver.find_element(
            By.ID, "wb-override-state").get_attribute("data-on") in ("0", "1"),
            "the switch's state")
        field = browser.driver.find_element(By.ID, "wb-override-reason")
        field.clear()
        field.send_keys(reason)
        browser.driver.find_element(By.ID, "wb-override-toggle").click()
        return browser.until(lambda: (t := browser.text("wb-override-result"))
                             and t != "Sending..." and t, "the switch's answer")

    answer = await asyncio.to_thread(press, nurse, "an agent tries")
    assert answer.startswith("AccessDenied"), answer
    assert await asyncio.to_thread(switches.read, db) is None and not flag.exists()
    await asyncio.to_thread(nurse.screenshot, "wallboard-override-refused")

    boss = await asyncio.to_thread(browsers)
    await asyncio.to_thread(boss.sign_in, "boss")
    try:
        answer = await asyncio.to_thread(press, boss, "mass casualty drill")
        assert answer == "Override ON", answer
        state = await asyncio.to_thread(switches.read, db)
        assert state.is_on and (state.set_by, state.reason) == ("boss", "mass casualty drill")
        # the engine's mirror looks about once a second
        assert await file_becomes(flag, True), "the engine's flag file did not follow"
        on = await asyncio.to_thread(boss.until, lambda: boss.driver.find_element(
            By.ID, "wb-override-state").get_attribute("data-on") == "1"
            and boss.text("wb-override-state"), "the switch shown ON")
        assert on.startswith("ON") and "mass casualty drill" in on
        # the agent's page follows too (server-sent events)
        await asyncio.to_thread(nurse.until, lambda: nurse.driver.find_element(
            By.ID, "wb-override-state").get_attribute("data-on") == "1", "ON for the agent")
        await asyncio.to_thread(boss.screenshot, "wallboard-override-on")
        answer = await asyncio.to_thread(press, boss, "")
        assert answer == "Override off", answer
    finally:
        await asyncio.to_thread(switches.write, db, False, "test over", "test")
    assert await file_becomes(flag, False), "the flag file stayed after the switch went off"

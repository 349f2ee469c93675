"""Hot reload of the triage rules: real files in tmp_path, the real poller.

A good edit decides the next utterance (also for a triager a call already holds);
an invalid edit, a deleted file or a hostile one (alias bomb, too large, too deep,
not UTF-8) is logged with its findings and the last good rules keep deciding.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.departments import DEPARTMENTS
from ivr.flows.reloader import FlowStore
from ivr.triage import rules as rules_mod
from ivr.triage.reloader import RulesStore
from ivr.triage.rules import MAX_BYTES, RulesError, check_file, check_text

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.05  # the engine polls once a second; the tests, faster
DEADLINE = 5.0  # a change must take effect (or be rejected) within this

DEPTS = "\n".join(f"  {d}: x" for d in DEPARTMENTS)


def rules_text(version: int, chest: str = "[chest pain]", dept: str = "general_medicine") -> str:
    return f"""\
version: {version}
languages: [zh, en]
levels:
  1: {{name: immediate, queue_priority: 10}}
  2: {{name: urgent, queue_priority: 6}}
  3: {{name: routine, queue_priority: 3}}
  4: {{name: non_clinical, queue_priority: 1}}
policy:
  unrecognised: {{urgency: 3, department: general_medicine}}
departments:
{DEPTS}
red_flags:
  chest_pain:
    en: {chest}
    zh: [胸痛]
crisis:
  suicidal:
    en: [kill myself]
    zh: [自杀]
symptoms:
  fever:
    urgency: 3
    department: {dept}
    en: [fever]
    zh: [发烧]
requests:
  pharmacy:
    en: [refill]
"""


def position(text: str, snippet: str) -> tuple[int, int]:
    for i, line in enumerate(text.splitlines(), 1):
        if snippet in line:
            return i, line.index(snippet) + 1
    raise AssertionError(snippet)


async def within(condition: Callable[[], bool], seconds: float = DEADLINE) -> float:
    """Seconds until ``condition()`` holds; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def write(path: Path, text: str) -> None:
    """As an editor saves: a new file renamed over the old one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@pytest.fixture
async def store(tmp_path: Path):
    path = tmp_path / "triage_rules.yaml"
    path.write_text(rules_text(1), encoding="utf-8")
    s = RulesStore(path)
    assert s.load() and s.rules.version == 1
    s.start_watching(POLL)
    yield s
    await s.stop()


def rejected(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "ivr.triage.reloader" and r.levelno >= logging.ERROR]


# --- the store ------------------------------------------------------------------
async def test_a_good_edit_decides_the_next_utterance_within_a_bounded_time(store):
    held = store  # what a call in progress holds (FlowRunner.triager)
    before = held.decide("crushing chest, it hurts", "en")
    assert before.urgency == 3 and before.rules_version == 1
    write(store.path, rules_text(2, chest="[chest pain, crushing chest]"))
    took = await within(lambda: store.reloads == 2)
    assert took < 2.0  # one poll interval plus validation, with margin for a slow CI
    after = held.decide("crushing chest, it hurts", "en")
    assert after.urgency == 1 and after.rules_version == 2 and store.last_errors == []


async def test_an_invalid_edit_keeps_the_old_rules_and_logs_its_findings(store, caplog):
    caplog.set_level(logging.INFO, logger="ivr.triage.reloader")
    bad = rules_text(2, chest="[chest pain, crushing chest]", dept="orthopedicz")
    write(store.path, bad)
    await within(lambda: bool(store.last_errors))
    line, col = position(bad, "department: orthopedicz")  # at its key
    [finding] = store.last_errors
    assert (finding.line, finding.col, finding.code) == (line, col, "TRI103")
    [message] = rejected(caplog)
    assert f"{store.path}:{line}:{col}: error[TRI103] unknown department 'orthopedicz'" in message
    assert "still deciding with rules version 1" in message
    assert store.rules.version == 1
    assert store.decide("crushing chest", "en").urgency == 3  # the edit is not in force
    assert store.decide("chest pain", "en").urgency == 1  # the old rules are
    # fixing the file brings the edit in
    write(store.path, rules_text(2, chest="[chest pain, crushing chest]"))
    await within(lambda: store.rules.version == 2)
    assert store.last_errors == [] and store.decide("crushing chest", "en").urgency == 1


async def test_a_yaml_syntax_error_is_logged_at_its_line(store, caplog):
    write(store.path, rules_text(2).replace("  chest_pain:\n", "  chest_pain:\n   - [\n"))
    await within(lambda: bool(store.last_errors))
    assert store.last_errors[0].code == "TRI001" and store.last_errors[0].line > 1
    assert any("error[TRI001]" in m for m in rejected(caplog))
    assert store.rules.version == 1


async def test_a_deleted_or_unreadable_file_keeps_the_old_rules(store, caplog):
    store.path.unlink()
    await within(lambda: any("unreadable" in m for m in rejected(caplog)))
    assert store.rules.version == 1 and store.decide("chest pain", "en").urgency == 1
    # a directory where the file was: unreadable as a file, still the old rules
    store.path.mkdir()
    await within(lambda: sum("unreadable" in m for m in rejected(caplog)) >= 2)
    assert store.rules.version == 1
    store.path.rmdir()
    store.path.write_text(rules_text(3), encoding="utf-8")  # back: read again
    await within(lambda: store.rules.version == 3)


async def test_saving_the_same_text_again_swaps_nothing(store, caplog):
    caplog.set_level(logging.INFO, logger="ivr.triage.reloader")
    first = store.current
    write(store.path, rules_text(1))
    await within(lambda: not store._watcher.changed())
    await asyncio.sleep(3 * POLL)
    assert store.current is first and store.reloads == 1


async def test_an_edit_that_keeps_the_version_number_is_served_with_a_warning(store, caplog):
    caplog.set_level(logging.INFO, logger="ivr.triage.reloader")
    write(store.path, rules_text(1, chest="[chest pain, crushing chest]"))
    await within(lambda: store.reloads == 2)
    assert store.decide("crushing chest", "en").urgency == 1
    assert any("still say version 1" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_at_start_an_invalid_or_missing_file_raises_with_every_finding(tmp_path):
    path = tmp_path / "triage_rules.yaml"
    with pytest.raises(FileNotFoundError):
        RulesStore(path).load()
    path.write_text(rules_text(1, dept="orthopedicz"), encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        RulesStore(path).load()
    assert [d.code for d in exc.value.diagnostics] == ["TRI103"]


# --- hostile files: bounded time and memory ---------------------------------------
def alias_bomb(levels: int = 9) -> str:
    """The billion laughs: 9 levels of 9 aliases each, 9**9 = 387 million strings."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once():
    start = time.perf_counter()
    rules, found = check_text(alias_bomb(), "bomb.yaml")
    assert time.perf_counter() - start < 1.0  # expanding it would take hours and GBs
    assert rules is None
    [d] = found
    assert d.code == "TRI003" and "aliases expanded" in d.message
    assert str(d).startswith("bomb.yaml:5:")  # 9**5 strings on line 5 pass the limit


def test_aliases_within_the_bound_still_load():
    """A modest anchor (a value written once, used twice) is YAML a clinician may write."""
    text = rules_text(1).replace("department: general_medicine}",
                                 "department: &gm general_medicine}")
    text = text.replace("    department: general_medicine\n", "    department: *gm\n")
    assert "*gm" in text
    rules, found = check_text(text, "x.yaml")
    assert rules is not None and found == []
    assert rules.entries["fever"].department == "general_medicine"


@pytest.mark.parametrize(("text", "words"), [
    ("a: &a [1, *a]\n", "recursive structure"),
    ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than"),
    ("a: [" + ",".join(["x"] * (rules_mod.MAX_NODES + 1)) + "]\n", "aliases expanded"),
])
def test_recursive_deep_or_huge_yaml_is_refused_in_bounded_time(text, words):
    start = time.perf_counter()
    rules, [d] = check_text(text, "x.yaml")
    assert time.perf_counter() - start < 3.0
    assert rules is None and d.code == "TRI003" and words in d.message


def test_a_file_too_large_or_not_utf8_is_a_finding_not_a_crash(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.write(b"# " + b"x" * MAX_BYTES + b"\n")
    rules, [d] = check_file(big)
    assert rules is None and d.code == "TRI003" and "larger than" in d.message
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"version: 1\nowner: Ren\xe9\n")
    rules, [d] = check_file(latin)
    assert rules is None and (d.line, d.col, d.code) == (2, 11, "TRI003")


async def test_an_alias_bomb_saved_over_the_rules_keeps_the_old_rules(store, caplog):
    write(store.path, alias_bomb())
    await within(lambda: bool(store.last_errors), 3.0)
    assert store.last_errors[0].code == "TRI003"
    assert any("error[TRI003]" in m for m in rejected(caplog))
    assert store.rules.version == 1 and store.decide("chest pain", "en").urgency == 1


# --- the flows share the poller: their reload behaves as before --------------------
async def test_the_flow_store_still_rejects_a_bad_edit_and_takes_a_good_one(tmp_path, caplog):
    dialplans, prompts = tmp_path / "dialplans", tmp_path / "prompts"
    shutil.copytree(ROOT / "dialplans", dialplans, ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(ROOT / "prompts", prompts)
    flows = FlowStore(dialplans, prompts)
    flows.load()
    good = flows.current
    assert good is not None
    flows.start_watching(POLL)
    try:
        main = dialplans / "main.yaml"
        original = main.read_text(encoding="utf-8")
        main.write_text(original + "\n: [\n", encoding="utf-8")
        await within(lambda: any("flow change rejected" in r.getMessage()
                                 for r in caplog.records))
        assert flows.current is good and flows.last_errors
        main.write_text(original + "\n# a comment\n", encoding="utf-8")
        await within(lambda: not flows.last_errors)
        assert flows.current is not None and "main" in flows.current.flows
    finally:
        await flows.stop()


# --- through the engine (AMI off, ports 0: no Asterisk) --------------------------------
async def test_the_running_engine_follows_the_rules_file(tmp_path, monkeypatch, caplog):
    from ivr.engine import Engine
    from ivr.pbx import PbxInstance
    from ivr.settings import Settings

    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "default-state"))
    for name in ("IVR_KEYRING", "IVR_KEYRING_FILE", "IVR_CONFIG", "IVR_ENGINE__DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "triage_rules.yaml"
    path.write_text(rules_text(1), encoding="utf-8")
    settings = Settings(state_dir=tmp_path / "state",
                        engine={"agi_port": 0, "audiosocket_port": 0},
                        followups={"enabled": False})
    engine = Engine(settings, PbxInstance(settings), rules=path)
    await engine.start(connect_ami=False, require_ami=False)
    try:
        held = engine.runner.triager  # what every call's steps decide with
        assert held is engine.rules
        assert held.decide("crushing chest", "en").rules_version == 1
        write(path, rules_text(2, chest="[chest pain, crushing chest]"))
        took = await within(lambda: engine.rules.reloads == 2)  # the engine polls each second
        assert took < DEADLINE
        decision = held.decide("crushing chest", "en")
        assert (decision.urgency, decision.rules_version) == (1, 2)
        write(path, rules_text(3, dept="orthopedicz"))
        await within(lambda: bool(engine.rules.last_errors))
        assert any("error[TRI103]" in m for m in rejected(caplog))
        path.unlink()
        await within(lambda: any("unreadable" in m for m in rejected(caplog)))
        assert held.decide("crushing chest", "en").rules_version == 2
    finally:
        await asyncio.wait_for(engine.stop(), 30)

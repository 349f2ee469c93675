"""Protocol questions (triage_protocols.yaml): the loader's findings at file:line:col, how
answers are heard, raise-never-lower, doubt escalates, and the triage step asking them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import events as ev
from ivr.cli.triage_protocols import protocols as protocols_cli
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.protocol_questions import prove
from ivr.flows.simulator import CallerTurn, SimChannel, simulate
from ivr.triage.decision import TriageDecision
from ivr.triage.protocols import (
    PROTOCOLS_PATH,
    Question,
    apply,
    check_file,
    check_text,
    classify,
    load_protocols,
    paths,
    protocols_for,
    raised,
)
from ivr.triage.rules import load_rules

ROOT = Path(__file__).parents[2]
RULES = load_rules()
SHIPPED = load_protocols(PROTOCOLS_PATH, RULES)

GOOD = """\
version: 1
answers:
  "yes": {zh-CN: [是, 有], en-US: ["yes"]}
  "no": {zh-CN: [不是, 没有], en-US: ["no"]}
  unsure: {zh-CN: [不知道], en-US: ["not sure"]}
intro: {zh-CN: 问几个问题, en-US: A few questions}
protocols:
  headache:
    title: Headache
    version: 2
    owner: Neurology lead nurse
    review_by: "2099-01-01"
    when:
      - symptoms: [headache]
    questions:
      - id: thunderclap
        raises_to: 1
        ask: {zh-CN: 突然的吗, en-US: Sudden}
      - id: weakness
        raises_to: 2
        ask: {zh-CN: 没力气吗, en-US: Weak}
"""


def _findings(text: str, **kw) -> list[str]:
    _result, diags = check_text(text, "p.yaml", RULES, **kw)
    return [str(d) for d in diags]


# --- the file ----------------------------------------------------------------------

def test_shipped_protocols_are_valid_against_the_shipped_rules():
    result, diags = check_file(PROTOCOLS_PATH, RULES, today=dt.date(2026, 12, 1))
    assert result is not None and diags == []
    ids = [p.id for p in result.protocols]
    assert ids == ["chest_discomfort", "child_fever", "bleeding", "headache",
                   "pregnancy_abdominal_pain"]
    for p in result.protocols:
        assert 2 <= len(p.questions) <= 4 and p.owner and p.version >= 1
        for q in p.questions:
            assert q.ask.get("zh-CN") and q.ask.get("en-US")


def test_a_good_small_file_loads():
    result, diags = check_text(GOOD, "p.yaml", RULES)
    assert diags == [] and result is not None
    assert [q.id for q in result.protocols[0].questions] == ["thunderclap", "weakness"]


def test_unknown_symptom_is_found_at_its_line_and_column_with_a_suggestion():
    bad = GOOD.replace("symptoms: [headache]", "symptoms: [headache, heartbrun]")
    assert _findings(bad) == [
        "p.yaml:14:30: error[PRO107] protocol 'headache': unknown symptom 'heartbrun' "
        "(did you mean 'heartburn'?) (the symptom ids of triage_rules.yaml)"]


def test_a_red_flag_cannot_trigger_questions():
    bad = GOOD.replace("symptoms: [headache]", "symptoms: [chest_pain]")
    (finding,) = _findings(bad)
    assert finding.startswith("p.yaml:14:20: error[PRO107]") and "red flag" in finding


def test_schema_mistakes_at_once_each_at_its_place():
    bad = (GOOD.replace("raises_to: 2", "raises_to: 3")
               .replace("    owner: Neurology lead nurse\n", "    owner: Neurology lead nurse\n"
                        "    ownr: typo\n"))
    assert _findings(bad) == [
        "p.yaml:12:5: error[PRO100] unknown key 'ownr'",
        "p.yaml:21:9: error[PRO102] 'raises_to': Input should be 1 or 2"]


def test_a_question_without_its_mandarin_text():
    bad = GOOD.replace("ask: {zh-CN: 突然的吗, en-US: Sudden}", "ask: {en-US: Sudden}")
    assert _findings(bad) == [
        "p.yaml:18:9: error[PRO104] protocol 'headache' question 'thunderclap': no 'zh-CN' "
        "text (zh-CN and en-US are required)"]


def test_unquoted_yes_is_reported_not_read_as_true():
    bad = GOOD.replace('  "yes": {zh-CN', "  yes: {zh-CN")
    found = _findings(bad)
    assert any(f.startswith("p.yaml:3:3: error[PRO102]") and "quote" in f for f in found), found


def test_too_few_and_too_many_questions():
    one = GOOD.split("      - id: weakness")[0]
    assert any("error[PRO103]" in f and "1 question(s)" in f for f in _findings(one))
    q = GOOD.split("    questions:\n")[1]
    five = GOOD + "".join(q.replace("thunderclap", f"t{i}").replace("weakness", f"w{i}")
                          for i in range(2))
    assert any("error[PRO103]" in f and "6 question(s)" in f for f in _findings(five))


def test_duplicate_keys_syntax_and_phrases_under_two_answers():
    dup = GOOD.replace("    version: 2\n", "    version: 2\n    version: 3\n")
    assert any(f.startswith("p.yaml:11:5: error[PRO002]") for f in _findings(dup))
    syntax = GOOD.replace("title: Headache", "title: [Headache")
    (finding,) = _findings(syntax)
    assert "error[PRO001]" in finding
    both = GOOD.replace('"no": {zh-CN: [不是, 没有]', '"no": {zh-CN: [不是, 有]')
    assert any(f.startswith("p.yaml:4:22: error[PRO106]") for f in _findings(both))


def test_a_protocol_past_its_review_date_is_a_warning_not_an_error():
    result, diags = check_text(GOOD, "p.yaml", RULES, today=dt.date(2100, 1, 1))
    assert result is not None
    assert [d.code for d in diags] == ["PRO200"] and diags[0].severity == "warning"
    assert (diags[0].line, diags[0].col) == (12, 5)


def test_reading_is_bounded():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    (finding,) = _findings(bomb)
    assert "error[PRO003]" in finding


# --- answers ------------------------------------------------------------------------

@pytest.mark.parametrize(("words", "answer"), [
    ("yes", "yes"), ("Yeah, it is", "yes"), ("no", "no"), ("No, it isn't", "no"),
    ("I don't think so", "no"), ("not sure", "unsure"), ("I don't know", "unsure"),
    ("是", "yes"), ("是的", "yes"), ("有", "yes"), ("不是", "no"), ("没有", "no"),
    ("不知道", "unsure"), ("好像有", "unsure"), ("no... yes it is", "unsure"),
    ("banana", None), ("", None), ("I know", None)])
def test_answers_are_heard_longest_phrase_first(words, answer):
    assert classify(words, SHIPPED.answers) == answer


def test_keys_one_yes_two_no_others_not_understood():
    assert SHIPPED.hear("", "1") == "yes" and SHIPPED.hear("", "2") == "no"
    assert SHIPPED.hear("", "5") is None


# --- raise, never lower ---------------------------------------------------------------

def _q(level: int) -> Question:
    return Question(id="q", raises_to=level, ask={"zh-CN": "?", "en-US": "?"})


def test_answers_raise_never_lower():
    assert raised(3, _q(1), "yes") == 1
    assert raised(3, _q(2), "yes") == 2
    assert raised(1, _q(2), "yes") == 1  # a level 2 question cannot lower a level 1
    assert raised(2, _q(1), "no") == 2 and raised(3, _q(1), "no") == 3


def test_doubt_escalates_unsure_counts_as_yes():
    assert raised(3, _q(1), "unsure") == 1
    assert raised(3, _q(2), "unsure") == 2


@pytest.mark.parametrize("protocol", SHIPPED.protocols, ids=lambda p: p.id)
def test_every_answer_path_ends_at_a_level_no_higher_than_it_started(protocol):
    for start in (2, 3):
        ends = paths(protocol, start)
        assert ends and all(1 <= level <= start for _, level in ends)
        assert (("no",) * len(protocol.questions), start) in ends  # "no" to all: unchanged
        assert any(level == 1 for _, level in ends)  # some danger sign reaches emergency


def test_apply_raises_the_decision_and_keeps_it_otherwise():
    protocol = SHIPPED.protocols[0]
    decision = TriageDecision(3, "gastroenterology", 3, ["symptom heartburn"],
                              symptoms=["heartburn"], rules_version=3)
    same = apply(decision, protocol, [(q.id, "no") for q in protocol.questions], RULES)
    assert (same.urgency, same.department, same.queue_priority) == (3, "gastroenterology", 3)
    assert "no danger sign" in same.reasons[-1]
    up = apply(decision, protocol, [("spreading", "no"), ("sweating", "yes")], RULES)
    assert (up.urgency, up.department, up.queue_priority) == (1, "emergency", 10)
    assert any("'sweating' answered yes: raised 3 -> 1" in r for r in up.reasons)


def test_protocols_are_asked_only_at_urgency_2_and_3():
    for level in (1, 4):
        d = TriageDecision(level, "gastroenterology", 1, symptoms=["heartburn"])
        assert SHIPPED.for_decision(d) is None
    d = TriageDecision(3, "gastroenterology", 3, symptoms=["heartburn"])
    assert SHIPPED.for_decision(d).id == "chest_discomfort"
    # a fever is a child's fever only where the patient group took it to pediatrics
    assert SHIPPED.for_decision(TriageDecision(3, "general_medicine", 3,
                                               symptoms=["fever"])) is None
    assert SHIPPED.for_decision(TriageDecision(3, "pediatrics", 3,
                                               symptoms=["fever"])).id == "child_fever"


# --- the running line -------------------------------------------------------------------

def test_an_invalid_edit_keeps_the_last_good_protocols(tmp_path):
    rules = dataclasses.replace(RULES, path=str(tmp_path / "triage_rules.yaml"))
    assert protocols_for(rules) is None  # no file beside these rules: no questions
    target = tmp_path / "triage_protocols.yaml"
    target.write_text(GOOD, encoding="utf-8")
    first = protocols_for(rules)
    assert first is not None and first.protocols[0].version == 2
    target.write_text(GOOD.replace("raises_to: 1", "raises_to: 9"), encoding="utf-8")
    later = time.time() + 5
    os.utime(target, (later, later))
    assert protocols_for(rules) is first


@pytest.fixture
def flow_set():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


def _to_triage(words: str) -> list[CallerTurn]:
    """English, not an emergency, symptoms, then the words."""
    return [CallerTurn("key", "2"), CallerTurn("key", "1"), CallerTurn("key", "6"),
            CallerTurn("say", words)]


async def _call(flow_set, turns, **vars):
    at = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return await simulate(flow_set, "main", SimChannel(turns), {"lang": "zh-CN", **vars}, at)


def _answers(result) -> list[ev.ProtocolAnswer]:
    return [e for e in result.events if isinstance(e, ev.ProtocolAnswer)]


def _final(result) -> ev.Triage:
    return [e for e in result.events if isinstance(e, ev.Triage)][-1]


async def test_silence_at_a_danger_question_counts_as_yes_and_reaches_emergency(flow_set):
    result = await _call(flow_set, _to_triage("I have heartburn"))
    (answer,) = _answers(result)
    assert (answer.protocol, answer.question, answer.answer, answer.raised_to) == (
        "chest_discomfort", "spreading", "unsure", 1)
    assert _final(result).urgency == 1
    assert result.record.queue == "emergency"
    # "are you still there?" before the silence counted
    assert any(isinstance(e, ev.Prompt) and e.prompt == "still_there" for e in result.events)


async def test_no_to_every_question_keeps_the_level(flow_set):
    result = await _call(flow_set, [*_to_triage("I have heartburn"),
                                    *(CallerTurn("say", "no") for _ in range(3))])
    assert [a.answer for a in _answers(result)] == ["no", "no", "no"]
    assert all(a.raised_to is None for a in _answers(result))
    final = _final(result)
    assert (final.urgency, final.department) == (3, "gastroenterology")
    assert result.record.queue == "gastroenterology"


async def test_a_level_two_raise_goes_to_a_clinician_not_the_emergency_lane(flow_set):
    result = await _call(flow_set, [*_to_triage("I have a small cut that keeps bleeding"),
                                    CallerTurn("say", "no"), CallerTurn("key", "2"),
                                    CallerTurn("key", "1")])
    assert [(a.question, a.answer, a.raised_to) for a in _answers(result)] == [
        ("spurting", "no", None), ("faint", "no", None), ("blood_thinners", "yes", 2)]
    final = _final(result)
    assert (final.urgency, final.department, final.queue_priority) == (2, "general_medicine", 6)


async def test_a_red_flag_said_while_answering_is_caught_by_the_screen(flow_set):
    result = await _call(flow_set, [*_to_triage("I have heartburn"),
                                    CallerTurn("say", "he collapsed and is not breathing")])
    assert any(isinstance(e, ev.RedFlag) for e in result.events)
    assert result.record.queue == "emergency" and not _answers(result)


async def test_the_emergency_key_works_at_a_protocol_question(flow_set):
    result = await _call(flow_set, [*_to_triage("I have heartburn"), CallerTurn("key", "9")])
    assert result.record.queue == "emergency" and not _answers(result)


async def test_in_mandarin_a_childs_fever_with_a_rash(flow_set):
    turns = [CallerTurn("key", "1"), CallerTurn("key", "1"), CallerTurn("key", "6"),
             CallerTurn("say", "孩子发烧了"), CallerTurn("say", "不是"),
             CallerTurn("say", "有")]
    result = await _call(flow_set, turns)
    assert [(a.question, a.answer) for a in _answers(result)] == [
        ("under_three_months", "no"), ("rash_not_fading", "yes")]
    assert _final(result).urgency == 1 and result.record.queue == "emergency"


async def test_a_step_with_protocols_off_asks_nothing(flow_set):
    steps = flow_set.flows["main"].steps
    steps["triage"] = steps["triage"].model_copy(update={"protocols": False})
    result = await _call(flow_set, _to_triage("I have heartburn"))
    assert not _answers(result) and result.record.queue == "gastroenterology"


def test_every_answer_path_of_the_shipped_line_ends_with_a_level_and_a_step(flow_set):
    ends, problems = prove(SHIPPED, flow_set)
    assert problems == []
    assert {e.step for e in ends} == {"triage"}
    assert all(e.target == "to_emergency_triaged" for e in ends if e.level == 1)
    assert {e.level for e in ends} == {1, 2, 3}


def test_the_proof_finds_a_step_that_cannot_route_a_level(flow_set):
    step = flow_set.flows["main"].steps["triage"]
    broken = step.model_copy(update={"urgency": {**step.urgency, "1": "nowhere"}})
    flow_set.flows["main"].steps["triage"] = broken
    _ends, problems = prove(SHIPPED, flow_set)
    assert problems and all("no destination" in p for p in problems)


def test_cli_validate_ok_and_bad(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(protocols_cli, ["validate", "--flows", str(ROOT / "dialplans"),
                                       "--prompts", str(ROOT / "prompts")])
    assert ok.exit_code == 0, ok.output
    assert "ok:" in ok.output and "0 without a level and a destination" in ok.output
    bad = tmp_path / "triage_protocols.yaml"
    bad.write_text(GOOD.replace("[headache]", "[headake]"), encoding="utf-8")
    out = runner.invoke(protocols_cli, ["validate", str(bad), "--flows", str(tmp_path / "x")])
    assert out.exit_code == 1
    assert f"{bad}:14:20: error[PRO107]" in out.output and "did you mean 'headache'" in out.output

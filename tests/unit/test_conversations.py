"""``ivr test``: the shipped conversations pass, a wrong one fails at its line, and a
malformed file is refused (exit 2) with the line:col of the problem."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.conversations import load_file

ROOT = Path(__file__).parents[2]
TESTS = ROOT / "dialplans" / "tests"
WRONG = ROOT / "tests" / "flows" / "conversations" / "wrong_queue.yaml"
WEDNESDAY = "2026-11-25T10:00+08:00"


def ivr_test(*paths):
    args = ["test", *map(str, paths), "--flows", str(ROOT / "dialplans"),
            "--prompts", str(ROOT / "prompts")]
    return CliRunner().invoke(cli, args)


def write(tmp_path, text, name="t.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_conversations_pass():
    result = ivr_test(TESTS)
    assert result.exit_code == 0, result.output
    total = re.search(r"(\d+) conversation\(s\) in (\d+) file\(s\): (\d+) passed, 0 failed",
                      result.output)
    assert total and int(total.group(1)) == int(total.group(3)) >= 60, result.output


def test_every_shipped_flow_has_conversations():
    flows = {p.stem for p in (ROOT / "dialplans").glob("*.yaml")}
    steps = {f: {"x"} for f in flows}  # names only: steps are checked by the run above
    covered = set()
    for path in TESTS.glob("*.yaml"):
        conversations, _ = load_file(path, steps)
        covered |= {c.flow for c in conversations}
    assert flows <= covered, f"flows without a conversation: {sorted(flows - covered)}"


def test_a_wrong_queue_fails_naming_its_file_and_line():
    line = next(i for i, text in enumerate(WRONG.read_text().splitlines(), 1)
                if text.strip().startswith("queue:"))
    result = ivr_test(WRONG)
    assert result.exit_code == 1, result.output
    assert f"{WRONG}:{line}:7: expected queue results / queue pharmacy (priority 2)" \
        in result.output
    assert "0 passed, 1 failed" in result.output


def test_a_hear_line_is_checked_between_its_turns(tmp_path):
    # the pharmacist prompt comes after "press 2" (medication), not before it
    path = write(tmp_path, f"""conversations:
  - name: early
    at: {WEDNESDAY}
    call: [press 2, press 1, hear "ask a pharmacist", press 2, press 2]
    expect: {{queue: pharmacy}}
  - name: in its place
    at: {WEDNESDAY}
    call: [press 2, press 1, press 2, hear "ask a pharmacist", press 2]
    expect: {{queue: pharmacy}}
""")
    result = ivr_test(path)
    assert result.exit_code == 1
    assert f"{path}:4:30: expected to hear 'ask a pharmacist' before 'press 2' (line 4) " \
           "/ heard main_menu" in result.output
    assert "1 passed, 1 failed" in result.output


def test_turns_left_when_the_call_ended_fail_at_the_first_unused_one(tmp_path):
    path = write(tmp_path, f"""conversations:
  - name: too many turns
    at: {WEDNESDAY}
    call:
      - press 9
      - press 1
""")
    result = ivr_test(path)
    assert f"{path}:6:9: expected the caller to press 1 / the call had ended: outcome " \
           "answered at main.to_emergency, queue emergency priority 10" in result.output


def test_steps_in_order_avoided_steps_and_the_end_of_the_call(tmp_path):
    path = write(tmp_path, f"""conversations:
  - name: all wrong
    at: {WEDNESDAY}
    call: [press 2, press 1, press 2, press 2]
    expect:
      passes: [medication.to_pharmacy, main_menu]
      avoids: [medication_menu]
      priority: 3
      outcome: goodbye
      urgency: 1
      summary: nope
""")
    out = ivr_test(path).output
    for expected in (
            ":6:40: expected to pass 'main_menu' after 'medication.to_pharmacy' / passed no "
            "further step",
            ":7:16: expected never to pass 'medication_menu' / passed it: main: "
            "open_matter_check, main_menu, medication; medication: medication_menu",
            ":8:7: expected priority 3 / priority 2 (queue pharmacy)",
            ":9:7: expected outcome goodbye / outcome answered (queue pharmacy)",
            ":10:7: expected triage urgency 1 / no triage decision",
            ":11:7: expected the agent's summary to contain 'nope' / summary 'Question about "
            "medication'"):
        assert f"{path}{expected}" in out, out


def test_a_schedule_without_a_time_of_day_is_a_failure(tmp_path):
    path = write(tmp_path, """conversations:
  - name: no clock
    call: [press 2, press 1, press 1]
""")
    result = ivr_test(path)
    assert result.exit_code == 1
    assert f"{path}:2:5: expected a time of day (at:) for schedule step " \
           "'appointments.desk_hours' / none given" in result.output


@pytest.mark.parametrize(("text", "problems"), [
    ("conversations:\n  - name: [x\n", ["3:1: not valid YAML"]),
    ("flow: main\n", ["1:1: missing key 'conversations'"]),
    ("conversations:\n  - name: a\n    cal: []\n", ["3:5: unknown key 'cal' (did you mean "
                                                 "'call'?)"]),
    ("conversations:\n  - name: a\n    name: b\n", ["3:5: duplicate key 'name'"]),
    ("conversations:\n  - name: a\n    expect: {queu: x, priority: 11}\n",
     ["3:14: unknown key 'queu' (did you mean 'queue'?)",
      "3:23: 'priority': Input should be less than or equal to 10"]),
    ("flow: mian\nconversations:\n  - name: a\n", ["1:1: no flow 'mian' (did you mean "
                                                 "'main'?)"]),
    ("conversations:\n  - name: a\n    at: 2026-11-25T10:00\n",
     ["3:5: '2026-11-25T10:00:00' has no UTC offset"]),
    ("conversations:\n  - name: a\n    call:\n      - pres 2\n      - press\n"
     "      - press 12a\n      - silence now\n      - {press: 0123}\n      - 5\n",
     ["4:9: 'pres 2' is not a call line", "5:9: 'press': press what?",
      "6:9: 'press 12a': keys are 0-9, * and #", "7:9: 'silence now': silence takes nothing",
      "8:9: press: 83: quote the keys", "9:9: a call line is text like"]),
    ("conversations:\n  - name: a\n    expect: {passes: [to_pharmcy, nope.x]}\n",
     ["3:23: no step 'to_pharmcy' in any flow (did you mean 'to_pharmacy'?)",
      "3:35: no flow 'nope' (in 'nope.x')"]),
])
def test_a_malformed_file_is_refused_with_its_positions(tmp_path, text, problems):
    path = write(tmp_path, text)
    result = ivr_test(path)
    assert result.exit_code == 2, result.output
    for problem in problems:
        assert f"{path}:{problem}" in result.output, result.output


def test_quoted_and_mapping_forms_of_call_lines(tmp_path):
    path = write(tmp_path, f"""conversations:
  - name: keys that YAML would eat
    at: {WEDNESDAY}
    call: [press 2, {{press: "1"}}, press "*", {{hear: "more slowly"}}, press 0]
    expect: {{queue: operator}}
""")
    result = ivr_test(path)
    assert result.exit_code == 0, result.output

"""triage_rules.yaml validation: every mistake reported at once, each at its file:line."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.triage import triage
from ivr.departments import DEPARTMENTS
from ivr.triage.rules import RULES_PATH, RulesError, check_file, check_text, load_rules

DEPTS = "\n".join(f"  {d}: x" for d in DEPARTMENTS)
MINIMAL = f"""\
version: 1
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
    en: [chest pain]
    zh: [胸痛]
crisis:
  suicidal:
    en: [kill myself]
    zh: [自杀]
symptoms:
  fever:
    urgency: 3
    department: general_medicine
    en: [fever]
    zh: [发烧]
  stiff_neck:
    urgency: 3
    department: orthopedics
    en: [stiff neck]
combinations:
  fever_with_stiff_neck:
    all: [fever, stiff_neck]
    urgency: 1
requests:
  pharmacy:
    en: [refill]
"""


def line_of(text: str, snippet: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if snippet in line)


def codes(found):
    return [(d.line, d.code) for d in found if d.severity == "error"]


def test_minimal_rules_are_valid():
    rules, found = check_text(MINIMAL, "r.yaml")
    assert codes(found) == [] and rules is not None
    assert rules.queue_priority(1) == 10 and rules.entries["fever"].department == \
        "general_medicine"


def test_shipped_rules_are_valid_and_name_exactly_the_queues():
    rules, found = check_file(RULES_PATH)
    assert [str(d) for d in found] == []
    assert tuple(rules.departments) == DEPARTMENTS
    used = {e.department for e in rules.entries.values() if e.department}
    assert used <= set(DEPARTMENTS)
    assert {"zh", "en", "ko"} <= set(rules.languages)
    assert any(e.phrases.get("ko") for e in rules.entries.values() if e.kind == "red_flag")


@pytest.mark.parametrize("old,new,snippet,code,words", [
    ("    zh: [胸痛]", "    zh: [胸痛]\n    colour: red", "colour: red", "TRI100", "unknown key"),
    ("  fever_with_stiff_neck:\n    all: [fever, stiff_neck]",
     "  fever_with_stiff_neck:\n    all: [fever, stiff_nek]", "stiff_nek", "TRI107",
     "did you mean 'stiff_neck'"),
    ("    department: orthopedics", "    department: orthopaedics", "orthopaedics", "TRI103",
     "did you mean 'orthopedics'"),
    ("    en: [stiff neck]", "    en: [stiff neck, '*']", "'*'", "TRI105", "bad phrase"),
    ("    en: [stiff neck]", "    en: [stiff neck, fever]", "[stiff neck, fever]", "TRI106",
     "listed under 'stiff_neck' and 'fever'"),
    ("    zh: [胸痛]\ncrisis:", "crisis:", "  chest_pain:", "TRI109", "no 'zh' phrases"),
    ("    urgency: 3\n    department: general_medicine",
     "    urgency: 7\n    department: general_medicine", "urgency: 7", "TRI102", "between 2 and 3"),
    ("    en: [refill]", "    en: [refill]\n    ja: [おくすり]", "ja:", "TRI104",
     "unknown language 'ja'"),
    ("  stiff_neck:", "  fever:", "  fever:\n    urgency: 3\n    department: orthopedics",
     "TRI002", "duplicate key 'fever'"),
])
def test_each_mistake_is_reported_at_its_line(old, new, snippet, code, words):
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    rules, found = check_text(text, "rules.yaml")
    assert rules is None
    errors = [d for d in found if d.code == code]
    assert errors, [str(d) for d in found]
    first_line = snippet.splitlines()[0]
    expected_line = line_of(text, first_line) if code != "TRI002" else \
        [i for i, line in enumerate(text.splitlines(), 1) if line == "  fever:"][-1]
    assert errors[0].line == expected_line, str(errors[0])
    assert words in errors[0].message
    assert str(errors[0]).startswith(f"rules.yaml:{expected_line}:")


def test_yaml_syntax_error_has_a_position():
    text = MINIMAL.replace("    en: [fever]", "    en: [fever", 1)
    rules, found = check_text(text, "rules.yaml")
    assert rules is None and found[0].code == "TRI001" and found[0].line > 1


def test_every_error_is_reported_not_just_the_first():
    text = MINIMAL.replace("orthopedics", "bones").replace("[fever, stiff_neck]",
                                                           "[fevr, stiff_neck]")
    _, found = check_text(text, "rules.yaml")
    assert {d.code for d in found} == {"TRI103", "TRI107"}
    assert [d.line for d in found] == sorted(d.line for d in found)


def test_a_missing_department_is_an_error():
    text = MINIMAL.replace("  billing: x\n", "")
    _, found = check_text(text, "rules.yaml")
    assert any(d.code == "TRI103" and "'billing'" in d.message for d in found)


def test_load_rules_raises_with_all_diagnostics(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("orthopedics", "bones"), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(bad)
    assert f"{bad}:" in str(info.value) and "TRI103" in str(info.value)


def test_validate_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(triage, ["validate"])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: ") and "red flags" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("orthopedics", "bones"), encoding="utf-8")
    result = runner.invoke(triage, ["validate", str(bad)])
    line = line_of(bad.read_text(encoding="utf-8"), "department: bones")
    assert result.exit_code == 1
    assert f"{bad}:{line}:" in result.stdout and "error[TRI103]" in result.stdout


def test_decide_with_broken_rules_prints_diagnostics_and_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("orthopedics", "bones"), encoding="utf-8")
    result = CliRunner().invoke(triage, ["--rules", str(bad), "fever"])
    assert result.exit_code == 1
    assert "TRI103" in result.output and "RulesError" in result.output
    assert "Traceback" not in result.output


def test_rules_file_documents_its_version_owner_and_levels():
    text = Path(RULES_PATH).read_text(encoding="utf-8")
    rules = load_rules()
    assert rules.version >= 2 and "clinician" in rules.owner.lower() + text.lower()
    assert [rules.levels[n].queue_priority for n in (1, 2, 3, 4)] == [10, 6, 3, 1]
    assert all(rules.levels[n].action for n in (1, 2, 3, 4))

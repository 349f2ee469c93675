"""The clinician-owned drug/guideline file: the shipped one is valid, every problem is
reported at once with its position, expired entries are shown but flagged."""

import datetime as dt

from ivr.settings import PROJECT_ROOT
from ivr.web import knowledge

SHIPPED = PROJECT_ROOT / "knowledge" / "drugs_guidelines.yaml"
TODAY = dt.date(2026, 12, 2)

GOOD_ENTRY = """\
  - id: metformin
    kind: drug
    names: {en-US: [metformin, Glucophage], zh-CN: [二甲双胍, 格华止]}
    text: {en-US: "Diabetes.", zh-CN: "糖尿病。"}
    source: "Formulary 2026"
    owner: Pharmacy
    review_by: 2026-11-30
"""


def _write(tmp_path, body):
    path = tmp_path / "kb.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_file_is_valid_and_in_review():
    kb = knowledge.load(SHIPPED, TODAY)
    assert kb.findings == [] and kb.version and kb.owner
    assert all(not e.expired(TODAY) and e.source and e.owner for e in kb.entries)
    assert all(set(e.names) == set(knowledge.LANGUAGES) for e in kb.entries)


def test_an_expired_entry_is_shown_marked_expired_and_reported(tmp_path):
    path = _write(tmp_path, f"version: '1'\nowner: Pharmacy\nentries:\n{GOOD_ENTRY}")
    kb = knowledge.load(path, TODAY)
    [finding] = knowledge.validate(path, TODAY)
    assert (finding.severity, finding.code, finding.line) == ("warning", "KB015", 10)
    assert str(finding).startswith(f"{path}:10:5: warning[KB015] entry metformin: expired")
    [hit] = knowledge.search(kb, "glucophage", "zh-CN", TODAY)
    assert hit["expired"] is True and hit["name"] == "二甲双胍" and hit["text"] == "糖尿病。"
    assert knowledge.search(kb, "二甲", "en-US", TODAY)[0]["name"] == "metformin"  # prefix


def test_every_problem_is_reported_at_once_with_its_position(tmp_path):
    path = _write(tmp_path, """\
version: '1'
entries:
  - id: Bad-Id
    kind: potion
    names: {en-US: [x], fr-FR: [y]}
    text: {en-US: "x"}
    review_by: soon
    colour: red
  - id: dup
    kind: drug
    names: {en-US: [dup], zh-CN: [重复]}
    text: {en-US: "a", zh-CN: "甲"}
    source: s
    owner: o
    review_by: 2027-01-01
  - id: dup
    kind: drug
    names: {en-US: [x], zh-CN: [重复二]}
    text: {en-US: "b", zh-CN: "乙"}
    source: s
    owner: o
    review_by: 2027-01-01
""")
    codes = [(f.line, f.code) for f in knowledge.validate(path, TODAY)]
    assert (1, "KB003") in codes  # no owner
    assert (3, "KB006") in codes and (4, "KB008") in codes and (5, "KB010") in codes
    assert (7, "KB014") in codes and (8, "KB007") in codes
    assert ("KB012" in {c for _, c in codes}) and ("KB013" in {c for _, c in codes})
    assert (16, "KB004") in codes and (18, "KB005") in codes
    assert codes == sorted(codes)


def test_a_file_that_is_not_yaml_is_one_positioned_error(tmp_path):
    path = _write(tmp_path, "entries: [\n")
    [finding] = knowledge.validate(path, TODAY)
    assert finding.code == "KB000" and f"{path}:" in finding.message


def test_search_ranks_exact_names_before_prefixes_and_text():
    kb = knowledge.load(SHIPPED, TODAY)
    assert knowledge.search(kb, "", "en-US", TODAY) == []
    assert knowledge.search(kb, "WARFARIN", "en-US", TODAY)[0]["id"] == "warfarin_bleeding"
    assert knowledge.search(kb, "华法林", "zh-CN", TODAY)[0]["text"].startswith("服用华法林")
    by_text = knowledge.search(kb, "anticoagulation clinic", "en-US", TODAY)
    assert [r["id"] for r in by_text] == ["warfarin_bleeding"] and by_text[0]["matched"] == ""

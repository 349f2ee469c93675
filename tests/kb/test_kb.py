"""The knowledge base: positioned findings, what may be spoken, and matching callers'
words (with the pinned sentence encoder, as the line runs it)."""

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.kb.entries import load
from ivr.kb.search import KbIndex
from ivr.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "knowledge" / "answers"
TODAY = dt.date(2026, 12, 2)
ENTRY = """\
id: {id}
version: 2
status: {status}
owner: Day Surgery Unit
source: "NHS, wound care"
review_by: {review_by}
departments: [general_medicine]
topics: [post_surgery]
title:
  en-US: showering after surgery
  zh-CN: 手术后洗澡
questions:
  en-US: [when can I shower after my operation]
  zh-CN: [手术后多久可以洗澡]
answer:
  en-US: Keep the dressing dry for two days.
  zh-CN: 头两天保持敷料干燥。
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_starter_set_is_valid_and_every_entry_speakable():
    kb = load(SHIPPED)
    assert kb.findings == []
    assert len(kb.entries) >= 8
    for entry in kb.entries.values():
        assert entry.speakable(dt.date.today()), entry.id
        assert entry.source and entry.owner and entry.review_by


def test_an_expired_entry_is_an_error_at_its_date_and_never_spoken(tmp_path):
    path = write(tmp_path, "wound", ENTRY.format(id="wound", status="current",
                                                 review_by="2026-11-30"))
    kb = load(tmp_path, TODAY)
    assert [str(f) for f in kb.findings] == [
        f"{path}:6:1: error[KBA011] expired: review was due 2026-11-30; the line does not "
        "say it (callers go to a person) until its owner reviews it"]
    assert kb.entries == {}
    assert KbIndex(kb, TODAY, model=False).find("when can I shower after my operation") is None


def test_every_finding_at_once_with_its_position(tmp_path):
    text = ENTRY.format(id="other_name", status="disputed", review_by="2027-01-01")
    text = text.replace("topics:", "colour: blue\ntopics:").replace(
        "departments: [general_medicine]", "departments: [surgery]")
    path = write(tmp_path, "wound", text)
    got = [(f.line, f.col, f.code) for f in load(tmp_path, TODAY).findings]
    assert got == [(1, 1, "KBA006"), (3, 1, "KBA013"), (7, 15, "KBA012"),
                   (8, 1, "KBA003")], got
    assert all(str(f).startswith(f"{path}:") for f in load(tmp_path, TODAY).findings)


def test_broken_yaml_names_its_line_and_keeps_the_other_entries(tmp_path):
    write(tmp_path, "wound", ENTRY.format(id="wound", status="current",
                                          review_by="2027-01-01"))
    bad = write(tmp_path, "broken", "id: broken\nquestions: [unclosed\n")
    kb = load(tmp_path, TODAY)
    assert list(kb.entries) == ["wound"]
    assert [f.code for f in kb.findings] == ["KBA001"]
    assert str(kb.findings[0]).startswith(f"{bad}:3:")


def test_a_withdrawn_entry_is_kept_out_and_a_disputed_one_says_its_views(tmp_path):
    write(tmp_path, "gone", ENTRY.format(id="gone", status="withdrawn",
                                         review_by="2020-01-01"))
    disputed = ENTRY.format(id="wound", status="disputed", review_by="2027-01-01") + (
        "views:\n  en-US: [Some surgeons allow a shower the next day.]\n"
        "  zh-CN: [有些外科医生允许第二天淋浴。]\n")
    write(tmp_path, "wound", disputed)
    kb = load(tmp_path, TODAY)
    assert kb.errors == []
    assert not kb.entries["gone"].speakable(TODAY)
    wound = kb.entries["wound"]
    assert wound.spoken("en-US") == ("Keep the dressing dry for two days. "
                                     "Some surgeons allow a shower the next day.")
    assert wound.ref == "wound@2"


def test_words_find_their_entry_and_unrelated_ones_find_none():
    index = KbIndex(load(SHIPPED))
    assert index.model is not None, "the pinned sentence encoder is part of the install"
    found = index.find("am I allowed to eat breakfast before my blood test")
    assert found is not None and found.entry.id == "fasting_blood_test"
    found = index.find("停车要多少钱")
    assert found is not None and found.entry.id == "parking"
    assert index.find("I want to book an appointment with cardiology") is None
    assert index.find("") is None
    # a flow's topic keeps the search to its entries
    assert index.find("can I eat before my blood test", topics=["parking"]) is None


def test_without_the_encoder_shared_words_still_find_an_exact_question():
    index = KbIndex(load(SHIPPED), model=False)
    found = index.find("what are the visiting hours please")
    assert found is not None and found.entry.id == "visiting_hours"


def test_the_cli_fails_on_an_expired_entry_and_evaluates_a_batch(tmp_path):
    write(tmp_path, "wound", ENTRY.format(id="wound", status="current",
                                          review_by="2026-11-30"))
    result = CliRunner().invoke(cli, ["kb", "validate", str(tmp_path),
                                      "--today", "2026-12-02"])
    assert result.exit_code == 1 and "error[KBA011] expired" in result.output
    result = CliRunner().invoke(cli, ["kb", "validate", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"lang": "en-US", "text": "where can I park my car",
                                 "entry": "parking"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["kb", "eval", str(batch), "--folder", str(SHIPPED),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["right"] == 1


@pytest.mark.parametrize("field,value,code", [("version", "0", "KBA007"),
                                              ("status", "maybe", "KBA008"),
                                              ("owner", '""', "KBA009")])
def test_each_required_field_is_checked(tmp_path, field, value, code):
    text = ENTRY.format(id="wound", status="current", review_by="2027-01-01")
    lines = [f"{field}: {value}" if line.startswith(f"{field}:") else line
             for line in text.splitlines()]
    write(tmp_path, "wound", "\n".join(lines) + "\n")
    assert [f.code for f in load(tmp_path, TODAY).findings] == [code]


def test_the_live_knowledge_reloads_and_a_broken_edit_keeps_the_last_good_version(
        tmp_path, monkeypatch):
    from ivr.kb import live

    monkeypatch.setattr(live, "CHECK_SECONDS", 0.0)
    path = write(tmp_path, "wound", ENTRY.format(id="wound", status="current",
                                                 review_by="2099-01-01"))
    knowledge = live.LiveKnowledge(tmp_path)
    assert knowledge.index().entries[0].ref == "wound@2"
    path.write_text(path.read_text(encoding="utf-8").replace("version: 2", "version: [3"),
                    encoding="utf-8")
    assert [e.ref for e in knowledge.index().entries] == ["wound@2"]  # kept, and logged
    path.write_text(ENTRY.format(id="wound", status="withdrawn", review_by="2099-01-01"),
                    encoding="utf-8")
    assert knowledge.index().entries == []  # withdrawn: gone at once

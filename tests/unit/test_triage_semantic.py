"""The meaning screen (triage_examples.yaml + the pinned sentence encoder), for real.

The encoder is the real package; every test here embeds real words. What is
checked: it only raises, it says why, a switch turns it off, an answer too short
or already judged is left to the rules, the pins refuse a changed model, and a
broken examples file names file:line:col and keeps the last good examples.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ivr.triage import RuleTriager, semantic
from ivr.triage import examples as ex
from ivr.triage.engine import CTX_ACOUSTIC, CTX_AGE_GROUP, CTX_ASR_CONFIDENCE, CTX_REPEAT_CALLS
from ivr.triage.rules import RULES_PATH, load_rules

ROOT = RULES_PATH.parent
FULL = RuleTriager()
RULES = RuleTriager(semantic=False)

# Red flags the phrase rules do not place, in words from outside the examples file.
UNLISTED_RED = [
    ("my husband says it feels like someone is standing on his chest", "en"),
    ("我老公说胸口像有人站在上面", "zh"),
]
CONTEXTS = [{}, {CTX_ASR_CONFIDENCE: 0.3}, {CTX_ACOUSTIC: 0.9}, {CTX_REPEAT_CALLS: 3},
            {CTX_AGE_GROUP: "elderly"}]


def test_the_shipped_examples_validate_and_the_encoder_loads():
    found, diags = ex.check_file(ex.EXAMPLES_PATH)
    assert found is not None, [str(d) for d in diags]
    assert not [d for d in diags if d.severity == "error"]
    labels = {e.label for e in found.examples}
    assert labels == set(ex.LABELS)
    assert semantic.index_for(FULL.rules) is not None, semantic.model_error()


@pytest.mark.parametrize("text,lang", UNLISTED_RED)
def test_a_red_flag_in_unlisted_words_is_raised_with_the_example_it_resembles(text, lang):
    assert RULES.decide(text, lang).urgency > 1  # the phrase rules miss it
    d = FULL.decide(text, lang)
    assert (d.urgency, d.department, d.queue_priority) == (1, "emergency", 10)
    assert any(r.startswith("meaning close to") and "like '" in r for r in d.reasons)


def test_passive_crisis_talk_goes_to_the_crisis_team():
    text = "my sister keeps saying the kids would be fine without her around"
    d = FULL.decide(text, "en")
    assert d.urgency == 1 and d.crisis and d.department == "crisis", d.reasons


@pytest.mark.parametrize("text,lang", [
    ("I'd like to change my appointment to next Tuesday", "en"),
    ("can you tell me if my blood test results are back", "en"),
    ("我想问一下明天上午的号还有没有", "zh"),
    ("我的药快吃完了，想续开一个月的", "zh"),
    ("yes that's right", "en"), ("是的", "zh"), ("二", "zh"), ("pharmacy", "en"),
])
def test_administrative_calls_and_short_answers_are_not_raised(text, lang):
    assert FULL.decide(text, lang).urgency == RULES.decide(text, lang).urgency


def test_it_only_raises_never_lowers():
    cases = [(e.text, e.lang) for e in ex.load_examples().examples[::9]] + UNLISTED_RED
    for text, lang in cases:
        for ctx in CONTEXTS:
            full, rules = FULL.decide(text, lang, ctx), RULES.decide(text, lang, ctx)
            assert full.urgency <= rules.urgency, (text, ctx)
            if rules.urgency == 1:  # nothing to raise: the rules' decision stands as made
                assert full == rules


def test_the_same_words_as_a_not_red_example_keep_their_level():
    text = next(e.text for e in ex.load_examples().examples
                if e.label == "clinical" and e.lang == "en" and len(e.text.split()) > 5)
    assert FULL.decide(text, "en").urgency == RULES.decide(text, "en").urgency


def test_switched_off_by_the_environment_and_by_the_file(tmp_path, monkeypatch):
    text, lang = UNLISTED_RED[0]
    monkeypatch.setenv(semantic.SWITCH, "off")
    assert RuleTriager().decide(text, lang).urgency > 1
    monkeypatch.delenv(semantic.SWITCH)
    rules_file = _copy_rules(tmp_path)
    examples = tmp_path / ex.EXAMPLES_FILE
    examples.write_text(examples.read_text(encoding="utf-8").replace(
        "  enabled: true", "  enabled: false", 1), encoding="utf-8")
    assert RuleTriager(rules_file).decide(text, lang).urgency > 1


def test_a_broken_examples_file_names_file_line_col_and_keeps_the_last_good(tmp_path, caplog):
    rules_file = _copy_rules(tmp_path)
    triager = RuleTriager(rules_file)
    text, lang = UNLISTED_RED[0]
    assert triager.decide(text, lang).urgency == 1
    examples = tmp_path / ex.EXAMPLES_FILE
    good = examples.read_text(encoding="utf-8")
    lines = good.splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("  - {label:"))
    lines[n] = lines[n].replace('label: "', 'label: "urgent_', 1)
    examples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(examples, ns=(1, 1))  # a different signature even within one clock tick
    _, diags = ex.check_file(examples)
    assert [d.code for d in diags] == ["EXA102"]
    assert (diags[0].line, diags[0].col) == (n + 1, 6)  # the first example's mapping
    assert str(diags[0]).startswith(f"{examples}:{n + 1}:6: error[EXA102] example 1: 'label'")
    assert triager.decide(text, lang).urgency == 1  # still the last good examples
    assert "rejected; still using version " in caplog.text


def test_duplicate_words_under_two_labels_are_an_error(tmp_path):
    text = ("version: 1\nowner: x\nupdated: 2026-12-02\nreview_by: 2099-01-01\nexamples:\n"
            '  - {label: "red_flag", lang: "en", text: "he is not breathing"}\n'
            '  - {label: "clinical", lang: "en", text: "He is  not breathing"}\n')
    _, diags = ex.check_text(text, "t.yaml")
    assert [(d.line, d.col, d.code) for d in diags] == [(7, 5, "EXA106")]
    _, diags = ex.check_text(text.replace('"}\n', '", colour: "red"}\n', 1), "t.yaml")
    assert [(d.line, d.code) for d in diags] == [(6, "EXA100")]


def test_a_reading_bound_stops_an_alias_bomb():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    _, diags = ex.check_text(bomb, "bomb.yaml")
    assert [d.code for d in diags] == ["EXA003"]


def test_a_changed_model_is_refused(monkeypatch):
    monkeypatch.setitem(semantic.FILES, "resources/sp.model", "0" * 64)
    with pytest.raises(semantic.ModelError, match="sha256"):
        semantic.SentenceModel()


def test_reference_vectors_are_checked(tmp_path, monkeypatch):
    model = semantic.sentence_model()
    assert model is not None
    ref = tmp_path / "ref.json"
    ref.write_text(semantic.REFERENCE_PATH.read_text(encoding="utf-8").replace(
        '"我胸口像压了块大石头，喘不上气"', '"I would like to pay my bill"', 1), encoding="utf-8")
    monkeypatch.setattr(semantic, "REFERENCE_PATH", ref)
    with pytest.raises(semantic.ModelError, match="reference sentences"):
        model.check_reference()


def _copy_rules(tmp_path: Path) -> Path:
    for name in ("triage_rules.yaml", "triage_protocols.yaml", ex.EXAMPLES_FILE):
        shutil.copy(ROOT / name, tmp_path / name)
    load_rules(tmp_path / "triage_rules.yaml")
    return tmp_path / "triage_rules.yaml"


def test_what_the_caller_denied_is_not_compared():
    text = ("I'm 26 weeks pregnant and my feet swell a bit at night, no headache and no "
            "blurred vision")
    assert FULL.decide(text, "en").urgency == RULES.decide(text, "en").urgency == 3


def test_the_running_engine_follows_an_edit_of_the_examples(tmp_path):
    from ivr.triage.reloader import RulesStore

    rules_file = _copy_rules(tmp_path)
    store = RulesStore(rules_file)
    store.load()
    words = "purple elephants are dancing on my roof again tonight"
    assert store.decide(words, "en").urgency > 1
    examples = tmp_path / ex.EXAMPLES_FILE
    with examples.open("a", encoding="utf-8") as fh:
        fh.write('  - {label: "red_flag", lang: "en", text: "purple elephants dancing on '
                 'the roof tonight"}\n')
    os.utime(examples, ns=(2, 2))
    assert store.load() is False  # the rules did not change...
    d = store.decide(words, "en")  # ...but the examples did, embedded by the watcher
    assert d.urgency == 1 and any("purple elephants" in r for r in d.reasons)

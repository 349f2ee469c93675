"""Version 3 of the rules: composed concepts, homophones by sound, misrecognitions,
vital functions, and the eval's over-triage and fairness figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.triage import RuleTriager
from ivr.triage.eval import evaluate, load_cases

T = RuleTriager()
RULES_ONLY = RuleTriager(semantic=False)  # the phrase rules' own mechanisms


def test_homophone_red_flag_by_sound() -> None:
    d = T.decide("我妈突然凶口痛", "zh")
    assert d.urgency == 1 and any("sounds like" in r for r in d.reasons)


def test_everyday_words_are_not_read_by_sound() -> None:
    assert T.decide("我想抽出时间来做个体检，怎么预约", "zh").urgency == 4
    assert T.decide("报告上写中度脂肪肝", "zh").urgency == 4


def test_english_misrecognition_put_back() -> None:
    d = T.decide("my husband says his chess hurts and he is clammy", "en")
    assert d.urgency == 1 and any(r.startswith("heard 'chess") for r in d.reasons)


def test_composed_chest_discomfort_and_negation() -> None:
    assert T.decide("我爸说胸前沉甸甸的，喘不匀气", "zh").urgency == 1
    assert T.decide("我胸口不疼，就是背上有点酸", "zh").urgency == 3


def test_unplaced_call_with_vital_function_goes_to_a_clinician() -> None:
    d = RULES_ONLY.decide("他呼吸有点怪", "zh")
    assert d.urgency == 2 and any("vital function" in r for r in d.reasons)
    assert T.decide("他呼吸有点怪", "zh").urgency <= 2  # the meaning screen may only raise


def test_eval_over_triage_and_fairness(tmp_path: Path) -> None:
    rows = [
        {"text": "I can't breathe", "lang": "en", "urgency": 1, "department": "emergency",
         "red_flag": True, "category": "breathing", "group": "adult", "speaker": "self"},
        {"text": "I'd like to book an appointment", "lang": "en", "urgency": 4,
         "department": "appointments", "group": "elderly", "speaker": "relative"},
    ]
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate(T, load_cases(f))
    s = report.summary()
    assert s["overall"]["recall"] == 1.0 and s["overall"]["admin_over_triage"] == 0.0
    assert set(s["fairness"]) == {"lang", "group", "speaker"}
    assert s["fairness"]["group"]["elderly"]["admin"] == 1


@pytest.mark.parametrize("text,lang", [
    ("i had a heart attack back in march and the letter says i'm due a review", "en"),
    ("my dad had a stroke in june and needs his check up", "en"),
    ("我前年心梗装过支架，想问问能不能运动", "zh"),
])
def test_a_red_flag_next_to_a_long_ago_time_is_history(text, lang):
    d = RULES_ONLY.decide(text, lang)
    assert d.urgency > 1 and any(r.startswith("history: ") for r in d.reasons), d.reasons


@pytest.mark.parametrize("text,lang", [
    ("I had a stroke last year and now his face is drooping", "en"),  # a sign now, too
    ("he had a stroke an hour ago", "en"),  # recent: not history
    ("我以前从来没这么胸痛过", "zh"),  # 以前 about now
])
def test_history_never_hides_a_sign_now(text, lang):
    assert RULES_ONLY.decide(text, lang).urgency == 1


def test_history_is_not_trusted_on_poor_recognition():
    text = "my dad had a stroke in june"
    assert RULES_ONLY.decide(text, "en", {"asr_confidence": 0.3}).urgency == 1


@pytest.mark.parametrize("text,lang,urgency", [
    ("怀孕三十三周 下面一直在流水 肚子一阵阵发紧", "zh", 1),
    ("I'm 34 weeks and my waters have gone", "en", 1),
    ("I'm 39 weeks and I think my waters broke", "en", 2),  # at term: the labour ward
])
def test_waters_or_contractions_before_37_weeks_are_preterm_labour(text, lang, urgency):
    d = RULES_ONLY.decide(text, lang)
    assert d.urgency == urgency, d.reasons
    assert (urgency == 1) == any("preterm_labour" in r for r in d.reasons)

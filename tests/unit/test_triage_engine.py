"""The triage engine's principles, each on literal utterances.

Red flags first and never lowered; negation does not fire what it negates; doubt
(poor recognition, conflicting words) escalates; repeat callers and acoustic
urgency raise, never lower; children and third persons handled.
"""

from itertools import product
from pathlib import Path

import pytest

from ivr.triage import RuleTriager, TriageDecision
from ivr.triage.eval import load_cases
from ivr.triage.rules import load_rules

LABELLED = Path(__file__).parents[1] / "triage" / "labelled.jsonl"
CASES = load_cases(LABELLED)


@pytest.fixture(scope="module")
def t() -> RuleTriager:
    return RuleTriager()


def d(t, text, lang="en", **context) -> TriageDecision:
    ctx = {k.replace("__", "."): v for k, v in context.items()}
    return t.decide(text, lang, ctx)


# --- the contract the shipped flows rely on -----------------------------------------
@pytest.mark.parametrize("text,lang,urgency,department,priority", [
    ("我胸口像压了块大石头", "zh", 1, "emergency", 10),
    ("孩子发烧三天了", "zh", 3, "pediatrics", 3),
    ("I don't want to live, I want to die", "en", 1, "crisis", 10),
    ("I need a refill of my prescription", "en", 4, "pharmacy", 1),
    ("I have a rash and itchy skin", "en", 3, "dermatology", 3),
    ("nurse please", "en", 3, "general_medicine", 3),  # nothing recognised: a nurse decides
])
def test_contract(t, text, lang, urgency, department, priority):
    got = t.decide(text, lang)
    assert (got.urgency, got.department, got.queue_priority) == (urgency, department, priority)
    assert got.reasons and got.crisis is (department == "crisis")
    assert got.rules_version == load_rules().version


def test_reasons_name_phrases_rules_and_modifiers(t):
    got = d(t, "我头突然剧痛，这辈子从来没这么痛过", "zh")
    text = " | ".join(got.reasons)
    assert got.urgency == 1
    assert "rule sudden_severe_headache fired" in text
    assert "modifier sudden: '突然'" in text and "headache" in text
    got = d(t, "孩子烧到三十九度五", "zh")
    assert (got.urgency, got.department) == (2, "pediatrics")
    assert any("temperature 39.5 °C" in r for r in got.reasons)
    assert any("rule child_with_high_fever" in r for r in got.reasons)


# --- negation --------------------------------------------------------------------------
@pytest.mark.parametrize("text,lang,department", [
    ("没有胸痛，只是咳嗽", "zh", "respiratory"),
    ("不是胸口疼，是胃疼", "zh", "gastroenterology"),
    ("胸口不痛，就是有点咳", "zh", "respiratory"),  # the negation sits inside 胸口*痛
    ("胸痛倒没有，就是老咳嗽", "zh", "respiratory"),  # negation after, closing the clause
    ("没有呼吸困难，就是鼻子不通气", "zh", "ent"),  # 没有呼吸 here is not "not breathing"
    ("not chest pain, just a cough", "en", "respiratory"),
    ("It's not chest pain but my stomach hurts", "en", "gastroenterology"),
    ("I don't have a fever, just a sore throat", "en", "ent"),
    ("He hasn't passed out, he just feels dizzy", "en", "neurology"),
])
def test_negated_red_flag_does_not_fire(t, text, lang, department):
    got = t.decide(text, lang)
    assert (got.urgency, got.department) == (3, department), got.reasons
    assert any(r.startswith("negated:") for r in got.reasons)


@pytest.mark.parametrize("text,lang", [
    ("我胸口有点痛，不知道是不是心脏的问题", "zh"),  # uncertainty is not negation
    ("I'm not sure but I think I'm having a heart attack", "en"),
    ("It's not just a cough, I can't catch my breath", "en"),
    ("他没有呼吸了", "zh"),  # the negation is the red flag
    ("my grandad isn't breathing", "en"),
    ("没有发烧，但是胸口很闷", "zh"),  # the scope ends at 但是
    ("no fever but crushing chest pain", "en"),
])
def test_what_only_looks_like_negation_still_fires(t, text, lang):
    assert t.decide(text, lang).urgency == 1


def test_crisis_talk_is_never_negated(t):
    got = t.decide("I'm not going to kill myself, I just can't sleep", "en")
    assert (got.urgency, got.department, got.crisis) == (1, "crisis", True)


# --- doubt escalates ----------------------------------------------------------------------
def test_low_confidence_does_not_trust_a_negation(t):
    sure = d(t, "没有胸痛，只是咳嗽", "zh", asr_confidence=0.9)
    unsure = d(t, "没有胸痛，只是咳嗽", "zh", asr_confidence=0.45)
    assert sure.urgency == 3 and unsure.urgency == 1 and unsure.department == "emergency"
    assert any("recognition confidence 0.45 < 0.60" in r for r in unsure.reasons)


def test_conflicting_words_count_the_worse(t):
    got = d(t, "no chest pain, well actually my chest hurts a lot")
    assert got.urgency == 1
    assert any(r.startswith("conflicting: chest_pain") for r in got.reasons)


def test_a_clinical_complaint_outranks_a_request(t):
    got = d(t, "I want to book an appointment because my chest hurts")
    assert (got.urgency, got.department) == (1, "emergency")
    got = d(t, "I'd like to book an appointment about my rash")
    assert (got.urgency, got.department) == (3, "dermatology")


# --- raises --------------------------------------------------------------------------------
def test_repeat_caller_with_a_clinical_complaint_is_raised_one_level(t):
    assert d(t, "I have a rash").urgency == 3
    assert d(t, "I have a rash", caller__repeat_calls_24h=1).urgency == 3
    raised = d(t, "I have a rash", caller__repeat_calls_24h=2)
    assert (raised.urgency, raised.department, raised.queue_priority) == (2, "dermatology", 6)
    assert any("repeat caller" in r and "3 -> 2" in r for r in raised.reasons)
    assert d(t, "孩子发烧三天了", "zh", caller__repeat_calls_24h=3).urgency == 2
    # a request is not a clinical complaint
    assert d(t, "I need a refill of my prescription", caller__repeat_calls_24h=5).urgency == 4


def test_acoustic_urgency_raises_above_the_threshold_and_asks_below_it(t):
    calm = d(t, "I have a rash", acoustic_urgency=0.2)
    ask = d(t, "I have a rash", acoustic_urgency=0.6)
    raised = d(t, "I have a rash", acoustic_urgency=0.8)
    assert (calm.urgency, calm.ask_safety) == (3, False)
    assert (ask.urgency, ask.ask_safety) == (3, True)
    assert raised.urgency == 2 and raised.ask_safety
    assert any("acoustic urgency 0.80 >= 0.70" in r for r in raised.reasons)


def test_raised_to_level_one_goes_to_the_emergency_lane(t):
    got = d(t, "I'm really short of breath", caller__repeat_calls_24h=2)
    assert (got.urgency, got.department, got.queue_priority) == (1, "emergency", 10)


RED_FLAGS = [c for c in CASES if c.urgency == 1]
CONTEXTS = [dict(zip(("asr_confidence", "caller.repeat_calls_24h", "acoustic_urgency",
                      "caller.age_group"), combo, strict=True))
            for combo in product((None, 0.2, 0.95), (None, 0, 5), (None, 0.0, 1.0),
                                 (None, "child", "elderly"))]


def test_a_red_flag_is_never_lowered_by_any_context(t):
    for case in RED_FLAGS:
        for ctx in CONTEXTS:
            got = t.decide(case.text, case.lang, {k: v for k, v in ctx.items() if v is not None})
            assert got.urgency == 1, (case.text, ctx, got.reasons)


@pytest.mark.parametrize("extra", [{"asr_confidence": 0.3}, {"acoustic_urgency": 0.0},
                                   {"acoustic_urgency": 0.95}, {"caller.repeat_calls_24h": 4},
                                   {"caller.age_group": "elderly"}])
def test_context_never_lowers_urgency(t, extra):
    for case in CASES:
        plain = t.decide(case.text, case.lang)
        assert t.decide(case.text, case.lang, extra).urgency <= plain.urgency, case.text


# --- third person and children ------------------------------------------------------------
@pytest.mark.parametrize("text,lang,urgency,department", [
    ("my 2-year-old has a rash", "en", 3, "pediatrics"),
    ("my son is 35 and has a rash", "en", 3, "dermatology"),  # a number beats the word 'son'
    ("我女儿三岁，拉肚子两天了", "zh", 3, "pediatrics"),
    ("two month old baby with a fever", "en", 1, "emergency"),  # young infant + fever
    ("宝宝六个月，发烧三十八度五", "zh", 2, "pediatrics"),  # infant + fever
    ("my toddler is wheezing and her lips are blue", "en", 1, "emergency"),  # red flag wins
    ("我妈妈八十岁了，摔了一跤", "zh", 2, "orthopedics"),  # elderly fall
    ("my 70 year old dad has a fever", "en", 3, "general_medicine"),  # under 75: not elderly
    ("我老公腰扭了，动不了", "zh", 3, "orthopedics"),
])
def test_third_person_and_children(t, text, lang, urgency, department):
    got = t.decide(text, lang)
    assert (got.urgency, got.department) == (urgency, department), got.reasons


def test_caller_profile_age_applies_only_when_the_words_name_no_one(t):
    assert d(t, "I have a fever", caller__age_group="elderly").urgency == 2
    got = d(t, "my grandson has a fever", caller__age_group="elderly")
    assert (got.urgency, got.department) == (3, "pediatrics")


def test_a_medicine_name_is_not_a_complaint(t):
    assert d(t, "I've run out of my blood pressure tablets").department == "pharmacy"
    assert d(t, "我爸的高血压药快吃完了", "zh").department == "pharmacy"
    assert d(t, "my blood pressure is high and I have a headache").urgency == 2


@pytest.mark.parametrize("text,expected", [
    ("가슴이 너무 아파요", (1, "emergency")), ("숨을 못 쉬겠어요", (1, "emergency")),
    ("죽고 싶어요", (1, "crisis")), ("가슴 통증은 없어요", (3, "general_medicine")),
])
def test_korean_red_flags(t, text, expected):
    got = t.decide(text, "ko")
    assert (got.urgency, got.department) == expected

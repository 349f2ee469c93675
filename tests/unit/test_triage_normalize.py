"""Normalisation and the numbers callers say: literal inputs, literal outputs."""

import pytest

from ivr.triage.normalize import cn_to_number, normalise
from ivr.triage.phrases import parse, pattern
from ivr.triage.quantities import age, duration, extract, temperature


@pytest.mark.parametrize("text,expected", [
    ("烧到三十九度五", "烧到39.5度"),
    ("体温三十八点五度，头痛", "体温38.5度|头痛"),
    ("39度5", "39.5度"),
    ("３９．５度，ＦＥＶＥＲ！", "39.5度|fever"),  # full width folded, punctuation = clause break
    ("我 胸口 痛 ， 没有 发烧", "我胸口痛|没有发烧"),  # ASR word spaces around Chinese go
    ("孩子发烧三天了", "孩子发烧3天了"),
    ("我妈妈八十多岁了", "我妈妈80多岁了"),
    ("三个月大的宝宝", "3个月大的宝宝"),
    ("一直咳嗽，两个星期了", "一直咳嗽|2个星期了"),
    ("一边手脚没力气", "一边手脚没力气"),  # no unit after 一: not a number
    ("血压一百八", "血压180"),  # 一百八 is 180 in speech ...
    ("一百零二度", "102度"),  # ... and 一百零二 is 102
    ("I can't breathe, it's not chest pain – just a cough.",
     "i cannot breathe|it is not chest pain|just a cough"),
    ("my two-year-old has had a fever for three days", "my 2 year old has had a fever for 3 days"),
    ("He won't wake up", "he will not wake up"),
    ("가슴이 아파요, 숨을 못 쉬겠어요", "가슴이아파요|숨을못쉬겠어요"),
])
def test_normalise(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize("numeral,value", [
    ("三十九", 39), ("三十九点五", 39.5), ("十五", 15), ("二十", 20), ("一百零二", 102),
    ("两", 2), ("三九", 39), ("一百八", 180),
])
def test_chinese_numerals(numeral, value):
    assert cn_to_number(numeral) == value


@pytest.mark.parametrize("text,celsius", [
    ("孩子烧到三十九度五", 39.5),
    ("体温三十八度二", 38.2),
    ("my temperature is 103", 39.4),  # Fahrenheit, converted
    ("a fever of 38.6 degrees", 38.6),
    ("it is 30度 outside", None),  # not a body temperature
    ("头痛", None),
])
def test_temperature(text, celsius):
    assert temperature(normalise(text))[0] == celsius


@pytest.mark.parametrize("text,years", [
    ("我女儿三岁", 3), ("my 2 year old", 2), ("三个月大的宝宝", 0.25), ("宝宝六个月", 0.5),
    ("my 6 week old", round(42 / 365, 3)), ("刚出生二十天的宝宝", round(20 / 365, 3)),
    ("she's 3", 3), ("my son is 35", 35), ("我妈妈八十多岁", 80), ("孩子发烧", None),
])
def test_age(text, years):
    assert age(normalise(text))[0] == years


@pytest.mark.parametrize("text,hours", [
    ("孩子发烧三天了", 72), ("发烧一个星期了", 168), ("fever for 5 days", 120),
    ("I've had a cough for a couple of weeks", 336), ("怀孕三十二周", None),
    ("I'm 30 weeks pregnant", None), ("since yesterday", 24),
])
def test_duration(text, hours):
    assert duration(normalise(text))[0] == hours


def test_an_age_is_not_a_duration():
    q = extract(normalise("三个月大的宝宝发烧两天了"))
    assert (q.age_years, q.duration_hours) == (0.25, 48)


@pytest.mark.parametrize("phrase,text,matches", [
    ("胸口*痛", "胸口一阵一阵地痛", True),
    ("胸口*痛", "胸口痛", True),
    ("chest * hurt*", "my chest really hurts", True),
    ("chest * hurt*", "chest infection and my leg hurts now ok", False),  # gap of 3 words max
    ("rash", "crash", False),  # English phrases are whole words
    ("pain", "chest pains", True),  # plural
    ("vomit*", "he vomited twice", True),
    ("胸口*痛", "胸口不适|肚子痛", False),  # a gap never crosses a clause
])
def test_phrase_syntax(phrase, text, matches):
    import re

    regex = re.compile(pattern(parse(phrase), gap_words=3, gap_chars=5))
    assert bool(regex.search(normalise(text))) is matches


def test_bad_phrases_are_explained():
    assert parse("*").problem() and parse("pain *").problem() and parse("a, b").problem()
    assert parse("hurt*").problem() is None and parse("胸口*痛").problem() is None

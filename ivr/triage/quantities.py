"""Numbers a caller says that change the triage: temperature, age, how long.

Works on normalised text (``normalize.normalise``), where Chinese and English
number words are already digits: ``烧到39.5度``, ``my 2 year old``, ``发烧3天了``.
Pure functions over strings; the tests feed them literal utterances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"(\d+(?:\.\d+)?)"

# Temperature: a value in a fever-like range, in Celsius or Fahrenheit.
_TEMP = [
    re.compile(rf"{_NUM}(?:摄氏)?度"),
    re.compile(rf"(?:烧到|体温|温度|高烧|发烧)(?:是|有|都)?{_NUM}"),
    re.compile(rf"{_NUM} ?(?:degrees?|°) ?(?:c|f|celsius|fahrenheit)?\b"),
    re.compile(rf"(?:temperature|temp|fever) (?:of |is |was |at |reading )*(?:about |around )?"
               rf"{_NUM}"),
    re.compile(rf"{_NUM} ?(?:c|f)\b"),
]

# Age of the patient (the caller or the person they call about).
_AGE_YEARS = [re.compile(rf"{_NUM}(?:多)?(?:周)?岁"),
              re.compile(rf"{_NUM} (?:years?|yrs?) old"),
              re.compile(rf"aged {_NUM}"),
              re.compile(r"in (?:his|her|their|my) (\d)0s"),
              # "she is 3", "my son is 35": a bare number after who it is about
              re.compile(r"\b(?:he|she|son|daughter|boy|girl|baby|child|kid|mum|mom|mother|dad|"
                         r"father|wife|husband|grandma|grandpa) is (\d+)\b"
                         r"(?! ?(?:weeks?|days?|months?|hours?|minutes?|degrees?|kg|pounds|%"
                         r"|\.\d))")]
_AGE_MONTHS = [re.compile(rf"{_NUM}(?:多)?个?(?:多)?月(?:大|的(?:宝宝|孩子|婴儿|小孩|儿子|女儿))"),
               re.compile(rf"(?:宝宝|孩子|婴儿|儿子|女儿|小孩)(?:才|刚|刚满|满)?{_NUM}(?:多)?个月"),
               re.compile(rf"{_NUM} months? old")]
_AGE_DAYS = [re.compile(rf"{_NUM}天大|出生{_NUM}天"),
             re.compile(rf"{_NUM} (?:days?|weeks?) old")]
_WEEKS_OLD = re.compile(rf"{_NUM} weeks? old")

# How long it has lasted, in hours.
_HOURS = {"分钟": 1 / 60, "小时": 1, "钟头": 1, "天": 24, "日": 24, "周": 168, "星期": 168,
          "礼拜": 168, "月": 720, "年": 8760, "minute": 1 / 60, "hour": 1, "day": 24,
          "week": 168, "month": 720, "year": 8760}
_DURATION = [
    # not an age (3个月大) nor how far a pregnancy is (怀孕32周, 30 weeks pregnant)
    re.compile(rf"(?<![孕\d.]){_NUM}(?:多)?个?(?:多)?(分钟|小时|钟头|天|日|周|星期|礼拜|月|年)"
               r"(?!大|的宝宝|的孩子)"),
    re.compile(rf"(?<![\d.]){_NUM} (?:more )?(minute|hour|day|week|month|year)s?\b"
               r"(?! old| pregnant| along)"),
]
_DURATION_WORDS = {"好几天": 72, "几天": 48, "好几个星期": 504, "几个星期": 336, "一整天": 24,
                   "整夜": 8, "since yesterday": 24, "all day": 12, "all night": 8,
                   "昨天开始": 24, "昨晚开始": 12, "从昨天": 24}


@dataclass(frozen=True)
class Quantities:
    temperature_c: float | None = None
    temperature_said: str = ""
    age_years: float | None = None
    age_said: str = ""
    duration_hours: float | None = None
    duration_said: str = ""
    gestation_weeks: float | None = None  # how far a pregnancy is (怀孕33周, 33 weeks pregnant)
    gestation_said: str = ""


def _to_celsius(value: float) -> float | None:
    if 34.0 <= value <= 44.0:
        return value
    if 93.0 <= value <= 112.0:
        return round((value - 32) * 5 / 9, 1)
    return None


def temperature(text: str) -> tuple[float | None, str]:
    """The highest fever-range reading said, in °C (102 °F -> 38.9)."""
    best: tuple[float | None, str] = (None, "")
    for pattern in _TEMP:
        for m in pattern.finditer(text):
            c = _to_celsius(float(m.group(1)))
            if c is not None and (best[0] is None or c > best[0]):
                best = (c, m.group(0))
    return best


def age(text: str) -> tuple[float | None, str]:
    """The patient's age in years, if said (``3个月大`` -> 0.25, ``my 2 year old`` -> 2)."""
    for patterns, scale in ((_AGE_DAYS, 1 / 365), (_AGE_MONTHS, 1 / 12), (_AGE_YEARS, 1.0)):
        for pattern in patterns:
            if m := pattern.search(text):
                value = float(m.group(1) or m.group(2) or 0) if m.lastindex else 0.0
                value = value * (7 if _WEEKS_OLD.fullmatch(m.group(0)) else 1)
                if pattern.pattern.startswith("in (?:his"):
                    value *= 10
                return round(value * scale, 3), m.group(0)
    return None, ""


def duration(text: str) -> tuple[float | None, str]:
    """How long the problem has lasted, in hours: the longest span said."""
    best: tuple[float | None, str] = (None, "")
    for pattern in _DURATION:
        for m in pattern.finditer(text):
            hours = float(m.group(1)) * _HOURS[m.group(2)]
            if best[0] is None or hours > best[0]:
                best = (hours, m.group(0))
    if best[0] is None:
        for words, hours in _DURATION_WORDS.items():
            if words in text:
                return float(hours), words
    return best


_GESTATION = [re.compile(r"(?:怀孕|孕|怀了)(?:已经)?(?:有)?(\d+)(?:多)?(?:个)?(?:周|星期|礼拜)"),
              re.compile(r"\b(\d+) (?:and a half )?weeks? (?:pregnant|gone|along)"),
              re.compile(r"\b(?:i am|i'm|she is|she's|at|about|only) (\d+) weeks?\b"
                         r"(?! (?:old|ago))")]


def gestation(text: str) -> tuple[float | None, str]:
    """Weeks of pregnancy said (20-42 only: a number of weeks outside is something else)."""
    for rx in _GESTATION:
        m = rx.search(text)
        if m and 4 <= float(m.group(1)) <= 42:
            return float(m.group(1)), m.group(0)
    return None, ""


def extract(text: str) -> Quantities:
    """All of them from one normalised utterance."""
    t, t_said = temperature(text)
    a, a_said = age(text)
    d, d_said = duration(text.replace(a_said, "") if a_said else text)
    g, g_said = gestation(text)
    return Quantities(t, t_said, a, a_said, d, d_said, g, g_said)

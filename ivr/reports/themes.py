"""Negative-feedback themes: which known complaints a (masked) text mentions.

A keyword count, not language understanding. Mandarin is written without spaces,
so each theme is a short list of phrases looked for as substrings; English
phrases match whole words, and a trailing ``*`` allows any ending (``wait*`` =
wait, waited, waiting). A text counts once per theme however often it says it.
Negation is not handled ("没有等太久" still counts as waiting): the report
shows how often a topic comes up, and a person reads the comments.

The list is small on purpose; add a phrase when the report misses a complaint
that callers keep making (ids match ``^[a-z][a-z0-9_]*$``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

# theme id -> (English label, Mandarin label, phrases per language)
THEMES: Mapping[str, tuple[str, str, Mapping[str, tuple[str, ...]]]] = {
    "waiting": ("waiting", "等待", {
        "zh": ("等待", "等候", "排队", "等太久", "等了", "等很久", "没人接", "打不通", "占线"),
        "en": ("wait*", "queue*", "on hold", "hold time", "took too long", "nobody answered",
               "no one answered"),
    }),
    "attitude": ("staff attitude", "态度", {
        "zh": ("态度", "不耐烦", "不礼貌", "冷漠", "凶", "敷衍"),
        "en": ("rude", "attitude", "impolite", "unfriendly", "impatient", "dismissive",
               "unhelpful"),
    }),
    "billing": ("billing", "收费", {
        "zh": ("收费", "费用", "账单", "医保", "多收", "退费", "太贵"),
        "en": ("bill*", "charge*", "fee", "fees", "insurance", "refund*", "expensive",
               "overcharg*"),
    }),
    "appointment": ("appointments", "预约", {
        "zh": ("预约", "挂号", "号源", "约不上", "挂不上"),
        "en": ("appointment*", "booking*", "book", "reschedul*", "cancelled my"),
    }),
    "information": ("unclear information", "信息不清", {
        "zh": ("说不清", "不清楚", "没说清", "信息不对", "说法不一"),
        "en": ("unclear", "confus*", "wrong information", "misinform*", "no information"),
    }),
    "voice_system": ("voice system", "语音系统", {
        "zh": ("听不懂", "识别", "机器人", "语音系统", "按键"),
        "en": ("robot*", "machine", "did not understand", "didn't understand", "kept asking",
               "voice system", "menu*"),
    }),
    "transfer": ("transfers, cut off", "转接", {
        "zh": ("转接", "转来转去", "挂断", "断线", "掉线"),
        "en": ("transferr*", "cut off", "hung up on", "disconnect*", "dropped"),
    }),
}

LANGUAGES = ("zh", "en")


def base_language(language: str) -> str:
    """``zh-CN`` -> ``zh``; empty or unknown stays as it is (lower case)."""
    return language.split("-")[0].split("_")[0].lower()


@cache
def _english(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w)
             for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def themes_in(text: str, language: str) -> set[str]:
    """The themes ``text`` mentions. A language other than zh/en tries both lists."""
    lang = base_language(language)
    langs = (lang,) if lang in LANGUAGES else LANGUAGES
    found: set[str] = set()
    lowered = text.lower()
    for theme, (_en, _zh, phrases) in THEMES.items():
        for lg in langs:
            if lg == "zh" and any(p in text for p in phrases.get("zh", ())):
                found.add(theme)
            elif lg == "en" and any(_english(p).search(lowered) for p in phrases.get("en", ())):
                found.add(theme)
    return found


def count_themes(texts: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{theme: {language: texts mentioning it}}`` for ``(text, language)`` pairs; every
    theme is present (zeros included) so tables and charts keep one shape."""
    counts = {theme: dict.fromkeys((*LANGUAGES, "other"), 0) for theme in THEMES}
    for text, language in texts:
        if not text.strip():
            continue
        lang = base_language(language)
        key = lang if lang in LANGUAGES else "other"
        for theme in themes_in(text, language):
            counts[theme][key] += 1
    return counts

"""Text normalisation shared by the rules (phrases) and the callers' words.

Both sides go through the same function, so a phrase written ``三十九度`` in the
rules matches ``39度`` said by a caller, and ``can't breathe`` matches ``cant
breathe``. What it does, in order:

- NFKC folding: full-width letters, digits and punctuation become half-width
  (``３９．５`` -> ``39.5``, ``，`` -> ``,``); lower case; curly quotes folded.
- No word spaces around Chinese or Korean characters (ASR output such as
  ``我 胸口 痛`` becomes ``我胸口痛``), single spaces between Latin words.
- Punctuation becomes a clause boundary ``|`` (phrases never match across it,
  negation never reaches past it); a decimal point between digits is kept.
- English contractions expanded (``can't``/``cant`` -> ``cannot``, ``won't`` ->
  ``will not``, ``n't`` -> `` not``) so negation sees ``not``.
- Numbers in a counting context become digits: Chinese numerals before a unit
  (``三十九度五`` -> ``39.5度``, ``两岁`` -> ``2岁``, ``三天`` -> ``3天``) and English
  number words before a unit (``three days`` -> ``3 days``). ``一边`` or ``一直``
  stay as they are: only a unit makes a numeral a number.
"""

from __future__ import annotations

import re
import unicodedata

BOUNDARY = "|"
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_CJK = f"[{CJK_CHARS}]"
_SPACE_NEAR_CJK = re.compile(rf"(?<={_CJK})\s+|\s+(?={_CJK})")
# Everything that is not a letter, digit, apostrophe, boundary or space ends a clause,
# except a decimal point between digits.
_PUNCT = re.compile(r"(?<!\d)\.|\.(?!\d)|[^\w\s'.|]|_")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BOUNDARIES = re.compile(r"\s*\|[\s|]*")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "[零〇一二两三四五六七八九十百千]"
# A Chinese numeral becomes a number only before one of these (or after 烧到/体温).
_CN_UNIT_AFTER = ("度|摄氏度|岁|周岁|多岁|个多月|个月|个星期|个礼拜|个小时|个钟头|多天|多个月|"
                  "来天|天|日|星期|礼拜|周|小时|钟头|分钟|年|次|斤|公斤|月大|个半")
_CN_NUMBER = re.compile(
    rf"(?P<n>{_CN_NUM}+(?:点{_CN_NUM}+)?)(?=(?:{_CN_UNIT_AFTER}))"
    rf"|(?<=烧到|体温|温度|高烧|发烧|血压|血糖)(?P<t>{_CN_NUM}+(?:点{_CN_NUM}+)?)")
# 三十九度五 / 39度5 -> 39.5度 (a fever reading, said the everyday way)
_DEGREE_TAIL = re.compile(rf"(\d+)度({_CN_NUM}|\d)(?![\d{_CN_NUM[1:-1]}个天岁月])")

_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "couple of": 2, "few": 3,
    "a couple of": 2, "a few": 3,
}
_EN_UNITS = r"(?:years?|months?|weeks?|days?|hours?|minutes?|degrees?|times)\b"
_EN_NUMBER = re.compile(
    r"\b(?P<word>a couple of|a few|couple of|few|"
    r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ -](?:one|two|three|four"
    r"|five|six|seven|eight|nine))?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|one|two|three|four|five|six|seven|eight|nine|ten|an?)"
    rf"(?=[ -]{_EN_UNITS})")
_CONTRACTIONS = [
    (re.compile(r"\b(?:can ?not|can'?t)\b"), "cannot"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\bain'?t\b"), "is not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should|must)n'?t\b"),
     r"\1 not"),
    (re.compile(r"\bi'?m\b"), "i am"),
    (re.compile(r"\b(it|he|she|that|there|what)'s\b"), r"\1 is"),
    (re.compile(r"\b(i|you|we|they)'ve\b"), r"\1 have"),
    (re.compile(r"\b(i|you|we|they|he|she)'ll\b"), r"\1 will"),
    (re.compile(r"\b(i|you|we|they|he|she)'d\b"), r"\1 would"),
]


def _cn_int(numeral: str) -> int:
    if not any(ch in _CN_UNITS for ch in numeral):  # digit by digit: 三九 -> 39
        value = 0
        for ch in numeral:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    total, current, last_unit, zero = 0, 0, 1, False
    for ch in numeral:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
            zero = zero or ch in "零〇"
        else:
            last_unit = _CN_UNITS[ch]
            total += (current or 1) * last_unit
            current, zero = 0, False
    if current and last_unit >= 100 and not zero:  # 一百八 = 180 (一百零八 = 108)
        current *= last_unit // 10
    return total + current


def cn_to_number(numeral: str) -> float:
    """A Chinese numeral to its value: 三十九 -> 39, 三十九点五 -> 39.5, 一百零二 -> 102."""
    whole, _, frac = numeral.partition("点")
    value: float = _cn_int(whole) if whole else 0
    if frac:
        value += float("0." + "".join(str(_CN_DIGITS[ch]) for ch in frac))
    return value


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _cn_numbers(text: str) -> str:
    text = _CN_NUMBER.sub(lambda m: _fmt(cn_to_number(m.group("n") or m.group("t"))), text)
    def decimal(m: re.Match[str]) -> str:
        tail = m.group(2)
        return f"{m.group(1)}.{tail if tail.isdigit() else _CN_DIGITS[tail]}度"

    return _DEGREE_TAIL.sub(decimal, text)


def _en_number(word: str) -> str:
    word = word.replace("-", " ")
    if word in _EN_NUMBERS:
        return str(_EN_NUMBERS[word])
    tens, _, ones = word.partition(" ")
    return str(_EN_NUMBERS[tens] + (_EN_NUMBERS[ones] if ones else 0))


def fold(text: str) -> str:
    """NFKC (full width to half width), lower case, one kind of apostrophe."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("’", "'").replace("‘", "'").replace("`", "'").replace("\u200b", "")


def normalise(text: str) -> str:
    """The form phrases and utterances are compared in (see the module docstring)."""
    text = fold(text)
    text = _SPACE_NEAR_CJK.sub("", _SPACES.sub(" ", text))
    text = text.replace("-", " ")
    text = _PUNCT.sub(BOUNDARY, text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = text.replace("'", "")
    text = _cn_numbers(text)
    text = _EN_NUMBER.sub(lambda m: _en_number(m.group("word")), text)
    text = _BOUNDARIES.sub(BOUNDARY, _SPACES.sub(" ", text))
    return text.strip(" " + BOUNDARY)


def is_cjk(text: str) -> bool:
    """Whether ``text`` has a Chinese or Korean character (matching then needs no spaces)."""
    return re.search(_CJK, text) is not None


def is_hangul(text: str) -> bool:
    return re.search("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]", text) is not None

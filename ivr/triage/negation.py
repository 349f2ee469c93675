"""Is a hit negated? "没有胸痛，只是咳嗽", "not chest pain, just a cough".

A hit is negated, in its own clause (clauses end at punctuation), when:

- a ``before`` cue comes at most ``window`` words (English) or characters
  (Chinese, Korean) before it, with no ``scope_ends`` word in between
  ("not X but Y": *but* ends the scope, so Y stands);
- a ``before_short`` cue comes right before it (不发烧, 不怎么咳: 2 characters);
- an ``after`` cue closes the clause right after it, at most one character
  between (胸痛倒没有，就是咳嗽; but 报告出来没有 is a question);
- a cue sits inside the hit's own wildcard gap (胸口不痛 matched by 胸口*痛).

``not_negation`` spans (不知道是不是, 停不下来, not sure) are blanked out first: a
cue inside one never negates. Pure string logic: the tests use literal sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.triage.matcher import Hit
from ivr.triage.normalize import BOUNDARY
from ivr.triage.rules import Negation, Rules

SHORT_CHARS = 2
SHORT_WORDS = 1
_PARTICLES = "了啊呀的呢吧요"


def _alternation(words: tuple[str, ...], latin: bool) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])" if latin else f"(?:{body})")


@dataclass(frozen=True)
class _Lang:
    latin: bool
    window: int
    before: re.Pattern[str] | None
    short: re.Pattern[str] | None
    after: re.Pattern[str] | None
    not_negation: re.Pattern[str] | None
    scope_ends: re.Pattern[str] | None
    gap_cues: re.Pattern[str] | None


def _compile(lang: str, neg: Negation) -> _Lang:
    from ivr.triage.normalize import normalise

    latin = lang == "en"

    def norm(words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in (normalise(w) for w in words) if n)

    gap = norm(neg.before) + norm(neg.before_short) + (("不", "没") if lang == "zh" else ())
    return _Lang(latin, neg.window, _alternation(norm(neg.before), latin),
                 _alternation(norm(neg.before_short), latin),
                 _alternation(norm(neg.after), latin),
                 _alternation(norm(neg.not_negation), latin),
                 _alternation(norm(neg.scope_ends), latin),
                 _alternation(gap, latin))


class NegationDetector:
    def __init__(self, rules: Rules) -> None:
        self._langs = {lang: _compile(lang, neg) for lang, neg in rules.negation.items()}

    def leading_cue(self, hit: Hit) -> str:
        """The negation cue a hit itself starts with (没有呼吸 starts with 没有), or ""."""
        lang = self._langs.get(hit.lang)
        if lang is None or lang.before is None:
            return ""
        m = lang.before.match(hit.said)
        return m.group(0) if m else ""

    def cue(self, text: str, hit: Hit) -> str:
        """The cue that negates ``hit`` in ``text``, or "" when it stands."""
        lang = self._langs.get(hit.lang)
        if lang is None:
            return ""
        start = text.rfind(BOUNDARY, 0, hit.start) + 1
        end = text.find(BOUNDARY, hit.end)
        end = len(text) if end < 0 else end
        clause = _blank(text[start:end], lang.not_negation)
        before, after = clause[:hit.start - start], clause[hit.end - start:]
        if lang.gap_cues is not None:
            for gap in hit.gaps:
                if m := lang.gap_cues.search(_blank(gap, lang.not_negation)):
                    return m.group(0)
        for pattern, limit in ((lang.before, lang.window),
                               (lang.short, SHORT_WORDS if lang.latin else SHORT_CHARS)):
            if pattern is None:
                continue
            for m in pattern.finditer(before):
                between = before[m.end():]
                distance = len(between.split()) if lang.latin else len(between)
                ends = lang.scope_ends is not None and lang.scope_ends.search(between)
                if distance <= limit and not ends:
                    return m.group(0)
        if lang.after is not None and not lang.latin:
            # one character at most between (胸痛倒没有): 报告出来没有 is a question
            m = re.match(rf"(.?)({lang.after.pattern})[{_PARTICLES}]{{0,2}}$", after)
            if m:
                return m.group(2)
        return ""


def _blank(text: str, pattern: re.Pattern[str] | None) -> str:
    """``text`` with the not-a-negation spans replaced by '_' (positions kept)."""
    if pattern is None:
        return text
    return pattern.sub(lambda m: "_" * len(m.group(0)), text)

"""Find every rules phrase in a normalised utterance, with where and how it matched.

One compiled alternation per entry keeps a decision fast (the shipped rules
have ~1,500 phrases); the phrase that matched is identified afterwards, for
the reasons a decision gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.triage.normalize import is_cjk, is_hangul
from ivr.triage.phrases import Phrase, alternation, parse, pattern
from ivr.triage.rules import CRISIS, MODIFIER, RED_FLAG, Rules


@dataclass(frozen=True)
class Hit:
    """One phrase of one entry found in the utterance."""

    entry: str
    kind: str
    phrase: str  # as written in the rules file
    said: str  # as found in the normalised utterance
    start: int
    end: int
    lang: str
    gaps: tuple[str, ...] = ()  # what the phrase's wildcards covered
    medicine: bool = False  # "止痛药", "blood pressure pills": a medicine's name


@dataclass(frozen=True)
class _Compiled:
    latin: re.Pattern[str] | None  # the entry's English phrases, one alternation
    cjk: re.Pattern[str] | None  # its Chinese and Korean phrases
    phrases: tuple[tuple[Phrase, str, re.Pattern[str]], ...]
    unless: re.Pattern[str] | None


def _lang(phrase: Phrase) -> str:
    if not phrase.cjk:
        return "en"
    return "ko" if is_hangul(phrase.raw) else "zh"


class Matcher:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._entries: dict[str, _Compiled] = {}
        for eid, entry in rules.entries.items():
            parsed = [parse(p) for lang in entry.phrases for p in entry.phrases[lang]]
            parsed.sort(key=lambda p: -len(p.literal))  # longest first within an entry
            by_script = [[p for p in parsed if not p.cjk], [p for p in parsed if p.cjk]]
            latin, cjk = (re.compile(alternation(group, rules.gap_words, rules.gap_chars))
                          if group else None for group in by_script)
            unless = [pattern(parse(p), rules.gap_words, rules.gap_chars)
                      for lang in entry.unless for p in entry.unless[lang]]
            self._entries[eid] = _Compiled(
                latin, cjk,
                tuple((p, _lang(p), re.compile(pattern(p, rules.gap_words, rules.gap_chars,
                                                       capture=True))) for p in parsed),
                re.compile("|".join(unless)) if unless else None)
        medicine = [pattern(parse(p), 0, 0) for lang in rules.medicine_words
                    for p in rules.medicine_words[lang]]
        self._medicine = re.compile(f" ?(?:{'|'.join(medicine)})") if medicine else None

    def _identify(self, compiled: _Compiled, text: str, start: int, end: int
                  ) -> tuple[Phrase, str, tuple[str, ...]]:
        for phrase, lang, regex in compiled.phrases:
            if m := regex.fullmatch(text, start, end):
                return phrase, lang, tuple(g or "" for g in m.groups())
        phrase, lang, _ = compiled.phrases[0]  # unreachable: the alternation matched one
        return phrase, lang, ()

    def find(self, text: str) -> list[Hit]:
        """All hits, minus those inside a longer hit of another entry (``_drop_contained``)."""
        hits: list[Hit] = []
        # Scan only the scripts present: most callers use one language.
        latin, cjk = re.search("[a-z]", text) is not None, is_cjk(text)
        for eid, compiled in self._entries.items():
            unless_spans: list[tuple[int, int]] | None = None
            found = [*(compiled.latin.finditer(text) if latin and compiled.latin else ()),
                     *(compiled.cjk.finditer(text) if cjk and compiled.cjk else ())]
            for m in found:
                if compiled.unless is not None:
                    if unless_spans is None:
                        unless_spans = [u.span() for u in compiled.unless.finditer(text)]
                    if any(a <= m.start() and m.end() <= b for a, b in unless_spans):
                        continue
                phrase, lang, gaps = self._identify(compiled, text, m.start(), m.end())
                entry = self.rules.entries[eid]
                medicine = bool(entry.kind not in (RED_FLAG, CRISIS, MODIFIER)
                                and self._medicine and self._medicine.match(text, m.end()))
                hits.append(Hit(eid, entry.kind, phrase.raw, m.group(0), m.start(), m.end(),
                                lang, gaps, medicine=medicine))
        return _drop_contained(hits)


def _dimension(kind: str) -> str:
    return "modifier" if kind == MODIFIER else "complaint"


def _drop_contained(hits: list[Hit]) -> list[Hit]:
    """A hit strictly inside a longer hit of another entry of the same dimension is the
    longer one's word (流鼻血 is a nosebleed, not generic bleeding). Red flags and crisis
    talk are never dropped this way: only an entry's own ``unless`` can do that."""
    kept = []
    for h in hits:
        inside = h.kind not in (RED_FLAG, CRISIS) and any(
            o.entry != h.entry and _dimension(o.kind) == _dimension(h.kind)
            and o.start <= h.start and h.end <= o.end and (o.end - o.start) > (h.end - h.start)
            for o in hits)
        if not inside:
            kept.append(h)
    return sorted(kept, key=lambda h: (h.start, -h.end))

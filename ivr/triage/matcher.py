"""Find every rules phrase in a normalised utterance, with where and how it matched.

One compiled alternation per entry keeps a decision fast (the shipped rules
have ~1,500 phrases); the phrase that matched is identified afterwards, for
the reasons a decision gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.triage.normalize import BOUNDARY, is_cjk, is_hangul
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
    by_sound: bool = False  # matched through pinyin, not the characters (凶口痛)


@dataclass(frozen=True)
class _Compiled:
    latin: re.Pattern[str] | None  # the entry's English phrases, one alternation
    cjk: re.Pattern[str] | None  # its Chinese and Korean phrases
    phrases: tuple[tuple[Phrase, str, re.Pattern[str]], ...]
    unless: re.Pattern[str] | None
    sound: tuple[tuple[Phrase, re.Pattern[str]], ...] = ()  # zh phrases by pinyin


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
            sound = tuple((p, re.compile(_sound_pattern(p, rules.gap_chars)))
                          for p in parsed if rules.pinyin and _lang(p) == "zh"
                          and entry.kind in (RED_FLAG, CRISIS) and _syllables(p) >= 2)
            self._entries[eid] = _Compiled(
                latin, cjk,
                tuple((p, _lang(p), re.compile(pattern(p, rules.gap_words, rules.gap_chars,
                                                       capture=True))) for p in parsed),
                re.compile("|".join(unless)) if unless else None, sound)
        self._sound = any(c.sound for c in self._entries.values())
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
        hits = self._find_literal(text)
        if self._sound and is_cjk(text):
            hits += self._find_by_sound(text, hits)
        return _drop_contained(hits)

    def _find_by_sound(self, text: str, literal: list[Hit]) -> list[Hit]:
        """Chinese phrases found by their toneless pinyin where the characters differ:
        a recogniser's homophone (凶口痛 for 胸口痛, 呼吸困南, 中疯). Only phrases of two
        syllables or more; a literal hit of the same entry over the span wins."""
        sounds, starts = _sounds(text)
        out: list[Hit] = []
        for eid, compiled in self._entries.items():
            if not compiled.sound:
                continue
            entry = self.rules.entries[eid]
            taken = [(h.start, h.end) for h in literal if h.entry == eid]
            for phrase, regex in compiled.sound:
                for m in regex.finditer(sounds):
                    a, b = starts[m.start()], starts[m.end()]
                    if any(x <= a < y or x < b <= y for x, y in taken):
                        continue
                    said = text[a:b]
                    if compiled.unless is not None and any(
                            u.start() <= a and b <= u.end()
                            for u in compiled.unless.finditer(text)):
                        continue
                    if BOUNDARY in said or re.search(regex_literal(phrase), said):
                        continue
                    # a misheard word keeps at least one character of the phrase: 凶口 for
                    # 胸口, 中疯 for 中风; 科学 is not 咳血, 相似 is not 想死
                    if not set(phrase.literal) & set(said):
                        continue
                    if _syllables(phrase) == 2 and not _same_tones(phrase, said, m, starts,
                                                                   text):
                        continue
                    gaps = tuple(text[starts[m.start(g)]:starts[m.end(g)]]
                                 for g in range(1, (m.lastindex or 0) + 1)
                                 if m.start(g) >= 0)
                    taken.append((a, b))
                    out.append(Hit(eid, entry.kind, phrase.raw, said, a, b, "zh", gaps,
                                   by_sound=True))
        return out

    def _find_literal(self, text: str) -> list[Hit]:
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
        return hits


# --- matching by sound (Chinese homophones) -------------------------------------------

def _pinyin(text: str) -> list[str]:
    """One toneless syllable per character (other characters stand for themselves)."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.NORMAL, errors=lambda chunk: list(chunk))


def _syllables(phrase: Phrase) -> int:
    return sum(len(re.findall(_CJK_CHAR, lit)) for lit, _ in phrase.parts)


_CJK_CHAR = "[\u4e00-\u9fff]"


def _sounds(text: str) -> tuple[str, dict[int, int]]:
    """``text`` as " syl syl syl " and, for each token's leading space (and the end), the
    character offset it stands for."""
    tokens = _pinyin(text)
    if len(tokens) != len(text):  # pypinyin keeps one item per character; be safe
        tokens = [t for ch in text for t in _pinyin(ch)[:1] or [ch]]
    out, starts, pos = [], {}, 0
    for i, tok in enumerate(tokens):
        starts[pos] = i
        out.append(" " + (tok if tok.strip() else "_"))
        pos += len(out[-1])
    starts[pos] = len(text)
    return "".join(out) + " ", starts


def _sound_pattern(phrase: Phrase, gap_chars: int) -> str:
    out = []
    for lit, join in phrase.parts:
        if lit:
            out.append("".join(" " + re.escape(t) for t in _pinyin(lit)))
        if join:  # a gap of up to gap_chars syllables, inside the clause
            out.append(f"((?: [^ {re.escape(BOUNDARY)}]+){{0,{gap_chars}}}?)")
    return "".join(out) + "(?= )"


def _tone(ch: str) -> str:
    from pypinyin import Style, pinyin

    return pinyin(ch, style=Style.TONE3)[0][0]


def _same_tones(phrase: Phrase, said: str, m: re.Match[str], starts: dict[int, int],
                text: str) -> bool:
    """A two-syllable phrase is short enough to be an everyday word said by sound (抽出
    is not 抽搐, 中度 is not 中毒): each character that differs must carry the tone too
    (凶口 for 胸口, 中疯 for 中风 pass)."""
    heard = list(said)
    for g in range((m.lastindex or 0), 0, -1):  # take the gaps out, last first
        if m.start(g) >= 0 and m.end(g) > m.start(g):
            a, b = starts[m.start(g)] - starts[m.start()], starts[m.end(g)] - starts[m.start()]
            del heard[a:b]
    meant = [ch for ch in phrase.literal]
    if len(heard) != len(meant):
        return False
    return all(h == w or _tone(h) == _tone(w) for h, w in zip(heard, meant, strict=True))


def regex_literal(phrase: Phrase) -> str:
    """The characters of a phrase with its gaps (to tell a literal match from a sound)."""
    return ".{0,8}".join(re.escape(lit) for lit, _ in phrase.parts if lit)


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

"""The phrase syntax of ``triage_rules.yaml``, parsed and compiled to regular expressions.

``chest * hurt*`` is three parts: the word ``chest``, a gap of up to N words, and
a word starting with ``hurt``. ``胸口*痛`` is 胸口, a gap of up to N characters,
痛. English parts match whole words; Chinese and Korean parts match anywhere.
A gap never crosses a clause boundary (``|`` in normalised text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.triage.normalize import BOUNDARY, is_cjk, normalise

GAP, SUFFIX, END = "gap", "suffix", ""
LATIN_EDGE_BEFORE = "(?<![a-z0-9])"
LATIN_EDGE_AFTER = "(?![a-z0-9])"


@dataclass(frozen=True)
class Phrase:
    """A parsed phrase: normalised literal parts, each followed by a join kind."""

    raw: str
    parts: tuple[tuple[str, str], ...]
    cjk: bool

    @property
    def key(self) -> str:
        """Canonical text, equal for phrases that match the same things."""
        return "".join(lit + {GAP: "*", SUFFIX: "~", END: ""}[join] for lit, join in self.parts)

    @property
    def literal(self) -> str:
        """The words without the wildcards (for negation checks inside a match)."""
        return "".join(lit for lit, _ in self.parts)

    def problem(self) -> str | None:
        """Why the phrase cannot be used, or None."""
        literals = [lit for lit, _ in self.parts]
        if not "".join(literals).strip():
            return "empty or only '*'"
        if any(BOUNDARY in lit for lit in literals):
            return "punctuation inside (it would never match: punctuation ends a clause)"
        if not literals[0].strip() or (self.parts[-1][1] == END and not literals[-1].strip()
                                       and len(self.parts) > 1 and self.parts[-2][1] == GAP):
            return "a gap '*' at the start or end matches nothing more"
        return None


def parse(raw: str) -> Phrase:
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in re.finditer(r"\*", raw):
        before = raw[m.start() - 1] if m.start() else ""
        after = raw[m.end()] if m.end() < len(raw) else ""
        join = SUFFIX if re.match(r"[A-Za-z]", before) and (not after or after.isspace()) \
            else GAP
        parts.append((normalise(raw[pos:m.start()]), join))
        pos = m.end()
    parts.append((normalise(raw[pos:]), END))
    return Phrase(raw, tuple(parts), is_cjk(raw))


def pattern(phrase: Phrase, gap_words: int, gap_chars: int, capture: bool = False,
            edges: bool = True) -> str:
    """Regex source for ``phrase``; with ``capture`` each gap is a group (negation looks
    in). ``edges=False`` leaves out the whole-word edges of English phrases, for an
    alternation that puts them around all its phrases once."""
    out = []
    for i, (lit, join) in enumerate(phrase.parts):
        if lit:
            if phrase.cjk:
                out.append(re.escape(lit))
            else:
                lead = " " if i and phrase.parts[i - 1][1] == GAP and out and not \
                    out[-1].endswith(" ") else ""
                # an English word part also matches its plural / third person: pain(s)
                plural = "" if join == SUFFIX else "(?:e?s)?"
                out.append(lead + re.escape(lit) + plural)
        if join == SUFFIX:
            out.append("[a-z0-9]*")
        elif join == GAP:
            # a gap stays in its clause; in English it never spans "but" ("not chest
            # pain but my stomach" holds no "pain ... stomach")
            gap = (f"[^{BOUNDARY}]{{0,{gap_chars}}}?" if phrase.cjk
                   else f"(?: (?!but )[^ {BOUNDARY}]+){{0,{gap_words}}}")
            out.append(f"({gap})" if capture else f"(?:{gap})")
    body = "".join(out)
    return body if phrase.cjk or not edges else LATIN_EDGE_BEFORE + body + LATIN_EDGE_AFTER


def alternation(phrases: list[Phrase], gap_words: int, gap_chars: int) -> str:
    """One regex source for phrases of one script (all English, or all Chinese/Korean)."""
    body = "|".join(pattern(p, gap_words, gap_chars, edges=False) for p in phrases)
    if phrases and not phrases[0].cjk:
        return f"{LATIN_EDGE_BEFORE}(?:{body}){LATIN_EDGE_AFTER}"
    return body

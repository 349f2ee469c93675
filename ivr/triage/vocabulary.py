"""The words a recogniser must be able to hear for the red-flag screen.

A menu listens in grammar mode (only its option phrases); a caller who says
"발작" there would be heard as nothing at all. The plain red-flag and crisis
phrases of the rules (no ``*`` gaps, which a grammar cannot express) are added
to every grammar, so the screen gets the words.
"""

from __future__ import annotations

from ivr.triage.rules import CRISIS, RED_FLAG, Rules

_last: tuple[Rules | None, dict[str, list[str]]] = (None, {})  # per rules object, by language


def red_flag_phrases(rules: Rules, lang: str) -> list[str]:
    """Plain red-flag and crisis phrases for ``lang`` ("ko-KR" or "ko"), in file order.
    Kept for the rules in use (every question of every call asks; a reload replaces it)."""
    global _last
    if _last[0] is not rules:
        _last = (rules, {})
    code = lang.split("-")[0].lower()
    if code not in _last[1]:
        out: list[str] = []
        for entry in rules.entries.values():
            if entry.kind in (RED_FLAG, CRISIS):
                out += [p for p in entry.phrases.get(code, ()) if "*" not in p]
        _last[1][code] = list(dict.fromkeys(out))
    return _last[1][code]

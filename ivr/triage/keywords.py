"""Menu-phrase normalisation for the flow runner's menus (``say:`` options, ask
grammars): lower case, full width folded, spaces and punctuation removed."""

from __future__ import annotations

import unicodedata


def phrase_key(text: str) -> str:
    """Lower case, full-width folded (NFKC), spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return "".join(ch for ch in folded if ch.isalnum() or ch == "'")

"""Menu-phrase normalisation, and the flows' historical name for the triage engine.

``normalise`` serves the flow runner's menus (``say:`` options, ask grammars):
lower case, full width folded, spaces and punctuation removed.

``KeywordTriager`` was a first phrase matcher; it is now an alias of
``ivr.triage.engine.RuleTriager`` so the runner, the simulator and the engine
keep working unchanged. New code should construct ``RuleTriager``.
"""

from __future__ import annotations

import unicodedata

from ivr.triage.engine import RuleTriager
from ivr.triage.rules import RULES_PATH

RULES = RULES_PATH
KeywordTriager = RuleTriager

__all__ = ["RULES", "KeywordTriager", "normalise"]


def normalise(text: str) -> str:
    """Lower case, full-width folded (NFKC), spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return "".join(ch for ch in folded if ch.isalnum() or ch == "'")

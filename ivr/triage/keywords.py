"""Phrase-matching triage over ``triage_rules.yaml``.

Red flags win over everything, then crisis talk, then clinical departments,
then administrative requests. Anything clinical it cannot place goes to general
medicine at routine urgency: doubt never sends a caller to an automated flow.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import yaml

from ivr.triage.decision import QUEUE_PRIORITY, TriageDecision

RULES = Path(__file__).resolve().parents[2] / "triage_rules.yaml"


def normalise(text: str) -> str:
    """Lower case, full-width folded (NFKC), spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return "".join(ch for ch in folded if ch.isalnum() or ch == "'")


class KeywordTriager:
    def __init__(self, path: Path = RULES) -> None:
        self.rules = yaml.safe_load(path.read_text(encoding="utf-8"))

    @staticmethod
    def _lang(lang: str) -> str:
        return lang.split("-")[0].lower()

    def _hits(self, table: dict[str, dict[str, list[str]]], text: str, lang: str
              ) -> list[tuple[str, str]]:
        out = []
        for name, phrases in table.items():
            for phrase in phrases.get(lang, []) + phrases.get("en", []) * (lang != "en"):
                if normalise(phrase) in text:
                    out.append((name, phrase))
        return out

    def decide(self, text: str, lang: str = "zh",
               context: dict[str, object] | None = None) -> TriageDecision:
        norm, lg = normalise(text), self._lang(lang)
        if hits := self._hits(self.rules["red_flags"], norm, lg):
            return TriageDecision(1, "emergency", QUEUE_PRIORITY[1],
                                  [f"red flag {n}: '{p}'" for n, p in hits])
        crisis = self._hits({"crisis": self.rules["crisis"]}, norm, lg)
        if crisis:
            return TriageDecision(1, "crisis", QUEUE_PRIORITY[1],
                                  [f"crisis phrase '{p}'" for _n, p in crisis], crisis=True)
        if hits := self._hits(self.rules["departments"], norm, lg):
            dept = hits[0][0]
            return TriageDecision(3, dept, QUEUE_PRIORITY[3],
                                  [f"symptom of {n}: '{p}'" for n, p in hits])
        if hits := self._hits(self.rules["administrative"], norm, lg):
            return TriageDecision(4, hits[0][0], QUEUE_PRIORITY[4],
                                  [f"request for {n}: '{p}'" for n, p in hits])
        return TriageDecision(3, "general_medicine", QUEUE_PRIORITY[3],
                              ["nothing recognised: a nurse decides"])

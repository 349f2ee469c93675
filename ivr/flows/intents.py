"""How well a menu understands callers' own words: each labelled utterance read by
the menu step itself (``Step.understood``: option phrases, then the clinical rules'
requests and complaints), so the figure is the line's, not a copy of it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flows.context import CallState, StepContext
from ivr.flows.listening import Reply
from ivr.flows.model import FlowSet
from ivr.flows.steps.menu import Step as Menu
from ivr.triage.decision import Triager

NONE = "none"  # "not one of the choices": the caller is asked again


@dataclass
class IntentReport:
    total: int = 0
    correct: int = 0
    by_lang: Counter[str] = field(default_factory=Counter)
    correct_by_lang: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    misses: list[dict[str, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "correct": self.correct,
                "accuracy": round(self.accuracy, 3),
                "by_language": {lang: {"total": n, "correct": self.correct_by_lang[lang]}
                                for lang, n in sorted(self.by_lang.items())},
                "confusion": [{"expected": e, "got": g, "count": n}
                              for (e, g), n in sorted(self.confusion.items())],
                "misses": self.misses}


def intent_of(menu: Menu, ctx: StepContext, words: str) -> str:
    """The option's name (its ``choice``, else where it goes); 'symptoms' for the
    clinical exit; NONE when the words are not one of the choices."""
    choice = menu.understood(ctx, Reply(words=words, confidence=0.9))
    if choice is None:
        return NONE
    if menu.clinical and choice.goto == menu.clinical:
        return "symptoms"
    return choice.set.get("choice") or choice.goto


def evaluate(flow_set: FlowSet, flow: str, step: str, path: Path,
             triager: Triager) -> IntentReport:
    menu = flow_set.flows[flow].steps[step]
    if not isinstance(menu, Menu):
        raise ValueError(f"{flow}.{step} is a {type(menu).__name__}, not a menu")
    report = IntentReport()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        state = CallState("intent-eval", flow_set, flow_set.flows[flow], None,  # type: ignore[arg-type]
                          vars={"lang": row["lang"]})
        got = intent_of(menu, StepContext(state, None, triager), row["text"])  # type: ignore[arg-type]
        report.total += 1
        report.by_lang[row["lang"]] += 1
        if got == row["intent"]:
            report.correct += 1
            report.correct_by_lang[row["lang"]] += 1
        else:
            report.confusion[(row["intent"], got)] += 1
            report.misses.append({"text": row["text"], "expected": row["intent"], "got": got})
    return report

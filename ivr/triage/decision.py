"""The triage contract shared by flows, the CLI and external checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

# 1 immediate (emergency lane / crisis), 2 urgent (a clinician today),
# 3 routine clinical, 4 non-clinical / administrative. The shipped rules file
# (``levels:``) says the same; this is the fallback for code without rules.
QUEUE_PRIORITY = {1: 10, 2: 6, 3: 3, 4: 1}


@dataclass(frozen=True)
class TriageDecision:
    urgency: int
    department: str
    queue_priority: int
    reasons: list[str] = field(default_factory=list)
    crisis: bool = False
    # The flow should ask "are you safe / is this an emergency?" (acoustic urgency).
    ask_safety: bool = False
    # Version of triage_rules.yaml that decided (0: not rule-based).
    rules_version: int = 0
    # Rule entries heard and not denied (symptoms, red flags): what reports count.
    symptoms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Triager(Protocol):
    def decide(self, text: str, lang: str, context: dict[str, object] | None = None
               ) -> TriageDecision: ...

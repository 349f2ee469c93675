"""The triage contract shared by flows, the CLI and external checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

# 1 immediate (emergency lane / crisis), 2 urgent (a clinician today),
# 3 routine clinical, 4 non-clinical / administrative.
QUEUE_PRIORITY = {1: 10, 2: 6, 3: 3, 4: 1}


@dataclass(frozen=True)
class TriageDecision:
    urgency: int
    department: str
    queue_priority: int
    reasons: list[str] = field(default_factory=list)
    crisis: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Triager(Protocol):
    def decide(self, text: str, lang: str, context: dict[str, object] | None = None
               ) -> TriageDecision: ...

"""What a simulated call did, in the few facts conversations check.

The only place that reads the simulator's events: when events become typed
objects (ivr/events.py), ``read_event`` is the one function to adapt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Heard:
    prompt: str  # prompt id, or "sound:<name>" for a played file
    text: str


@dataclass(frozen=True)
class Passed:
    flow: str
    step: str
    type: str

    def __str__(self) -> str:
        return f"{self.flow}.{self.step}"


@dataclass(frozen=True)
class Routed:
    queue: str
    priority: int | None
    summary: str


@dataclass(frozen=True)
class Triaged:
    urgency: int | None
    department: str


Fact = Heard | Passed | Routed | Triaged


def read_event(event: Any) -> Fact | None:
    """One simulator event as a fact, or None for events conversations do not check."""
    get = event.get if isinstance(event, dict) else lambda k, d=None: getattr(event, k, d)
    kind = get("kind")
    if kind == "prompt":
        sound = get("sound")
        return Heard(get("prompt") or (f"sound:{sound}" if sound else ""),
                     str(get("text") or ""))
    if kind == "step":
        return Passed(str(get("flow") or ""), str(get("step") or ""), str(get("type") or ""))
    if kind == "route":
        queue = get("queue") or (f"ext:{get('extension')}" if get("extension") else "")
        priority = get("priority")
        return Routed(str(queue), int(priority) if priority is not None else None,
                      str(get("summary") or ""))
    if kind == "triage":
        urgency = get("urgency")
        return Triaged(int(urgency) if urgency is not None else None,
                       str(get("department") or ""))
    return None

"""What a simulated call did, in the few facts conversations check.

The only place that reads the simulator's (typed, ``ivr.events``) events.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr import events as ev


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


def read_event(event: ev.Event) -> Fact | None:
    """One simulator event as a fact, or None for events conversations do not check."""
    match event:
        case ev.Prompt():
            return Heard(event.prompt or (f"sound:{event.sound}" if event.sound else ""),
                         event.text)
        case ev.Step():
            return Passed(event.flow, event.step, event.type)
        case ev.Route():
            queue = event.queue or (f"ext:{event.extension}" if event.extension else "")
            return Routed(queue, event.priority, event.summary)
        case ev.Triage():
            return Triaged(event.urgency, event.department)
    return None

"""Where each step can lead: the one place that knows every step's exits.

Validation, the safety analysis and the graph picture all read the flow
through these functions, so a new step type is described once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flows import schema as s

EMERGENCY_QUEUES = frozenset({"emergency", "crisis"})


@dataclass(frozen=True)
class Edge:
    label: str  # "next", "1", "no_input", "urgency 1", ...
    target: str  # step id in the same flow
    path: tuple[str | int, ...]  # where the target is written, under the step


def edges(step: s.StepBase) -> list[Edge]:
    match step:
        case s.Say() | s.Play() | s.SetVars() | s.Survey() | s.FollowUp() | s.History():
            return [Edge("next", step.next, ("next",))]
        case s.Menu():
            out = [Edge(o.key or "/".join(o.say[:1]), o.goto, ("options", i, "goto"))
                   for i, o in enumerate(step.options)]
            return [*out, Edge("no input", step.no_input.goto, ("no_input", "goto")),
                    Edge("no match", step.no_match.goto, ("no_match", "goto"))]
        case s.Ask():
            return [Edge("answer", step.next, ("next",)),
                    Edge("no input", step.no_input.goto, ("no_input", "goto")),
                    Edge("no match", step.no_match.goto, ("no_match", "goto"))]
        case s.Triage():
            out = [Edge("crisis", step.crisis, ("crisis",))]
            out += [Edge(f"urgency {k}", v, ("urgency", k)) for k, v in step.urgency.items()]
            out += [Edge(d, v, ("departments", d)) for d, v in step.departments.items()]
            if step.safety_check:
                out.append(Edge("sounds urgent", step.safety_check, ("safety_check",)))
            return out
        case s.Callback():
            return [Edge("accepted", step.accepted, ("accepted",)),
                    Edge("declined", step.declined, ("declined",))]
        case s.Switch():
            return [*(Edge(f"= {k}", v, ("cases", k)) for k, v in step.cases.items()),
                    Edge("default", step.default, ("default",))]
        case s.Branch():
            return [*(Edge(c.var, c.goto, ("when", i, "goto")) for i, c in enumerate(step.when)),
                    Edge("else", step.else_, ("else",))]
        case s.Verify():
            return [Edge("verified", step.verified, ("verified",)),
                    Edge("failed", step.failed, ("failed",))]
        case s.Goto():
            return [Edge("goto", step.target, ("target",))]
        case s.Schedule():
            return [Edge("open", step.open, ("open",)), Edge("closed", step.closed, ("closed",))]
    return []  # route, hangup, subflow: they end the flow (subflow continues elsewhere)


def terminal_kind(step: s.StepBase) -> str | None:
    """'emergency', 'human' or 'goodbye' for steps that end a path; None otherwise."""
    if isinstance(step, s.Route):
        if step.emergency or step.queue in EMERGENCY_QUEUES:
            return "emergency"
        return "human"
    if isinstance(step, s.Hangup):
        return "goodbye"
    return None


def prompt_refs(step: s.StepBase) -> list[tuple[str, tuple[str | int, ...]]]:
    """(prompt id, path under the step) for every prompt a step may speak."""
    refs: list[tuple[str, tuple[str | int, ...]]] = []
    for name in ("prompt", "confirm", "retry_prompt", "intro", "item", "open_item", "none"):
        value = getattr(step, name, None)
        if isinstance(value, str):
            refs.append((value, (name,)))
    for name in ("no_input", "no_match"):
        fb = getattr(step, name, None)
        if isinstance(fb, s.Fallback) and fb.prompt:
            refs.append((fb.prompt, (name, "prompt")))
    if isinstance(step, s.Survey):
        refs += [(q.prompt, ("questions", i, "prompt")) for i, q in enumerate(step.questions)]
    return refs

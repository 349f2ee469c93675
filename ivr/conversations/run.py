"""Running one conversation through the simulator and checking what it expects.

The caller's turns are given to the simulator one listening prompt at a time
(``SimChannel``'s ``ask``), so each turn knows which facts came before it: a
``hear`` line is checked between the turns it is written between, not anywhere
in the call. Every expectation is checked; each failure names the line it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.conversations import given
from ivr.conversations.facts import Fact, Heard, Passed, Routed, Triaged, read_event
from ivr.conversations.spec import Check, Conversation, Hear, Pos, StepRef, Turn
from ivr.flows.simulator import SimChannel, simulate

MAX_SHOWN = 12  # steps or prompts listed in a message


@dataclass(frozen=True)
class Failure:
    pos: Pos
    expected: str
    happened: str

    def __str__(self) -> str:
        return f"{self.pos}: expected {self.expected} / {self.happened}"


@dataclass
class Call:
    """What the simulated call did: its facts, where each turn was taken, its outcome."""

    outcome: str = ""
    facts: list[Fact] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)  # facts before turn i was taken

    def between(self, turn: int) -> list[Fact]:
        """The facts after turn ``turn - 1`` and before turn ``turn``."""
        start = self.marks[turn - 1] if turn > 0 else 0
        end = self.marks[turn] if turn < len(self.marks) else len(self.facts)
        return self.facts[start:end]

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.facts if isinstance(f, kind)]


def _answer(turn: Turn) -> str:
    """A turn as SimChannel's ``ask`` reads an answer typed at a terminal."""
    return {"key": turn.value, "say": f"say {turn.value}", "hangup": "hangup"}[turn.kind]


async def play(conv: Conversation, flow_set: Any) -> Call:
    call = Call()
    turns = conv.turns

    def ask(_prompt: str) -> str:
        call.marks.append(len(call.facts))
        i = len(call.marks) - 1
        return _answer(turns[i]) if i < len(turns) else ""  # then silence

    def on_event(event: Any) -> None:
        fact = read_event(event)
        if fact is not None:
            call.facts.append(fact)

    channel = SimChannel([], ask=ask, unanswered=set(conv.unanswered))
    result = await simulate(flow_set, conv.flow, channel, dict(conv.vars), conv.at, on_event,
                            prepare=given.prepare(conv.given))
    call.outcome = result.outcome
    return call


async def run_conversation(conv: Conversation, flow_set: Any) -> list[Failure]:
    try:
        call = await play(conv, flow_set)
    except Exception as exc:  # a broken engine is a failure of this conversation
        return [Failure(conv.pos, "the call to run", f"the simulator raised {exc!r}")]
    return [*_script(conv, call), *_steps(conv, call), *_checks(conv, call),
            *_clock(conv, call)]


# --- the call lines ------------------------------------------------------------------
def _script(conv: Conversation, call: Call) -> list[Failure]:
    failures: list[Failure] = []
    turn, seen = 0, 0  # turns before this line; facts of this gap already matched
    for line in conv.call:
        if isinstance(line, Turn):
            if turn >= len(call.marks):  # never asked: the call ended first
                return [*failures, Failure(line.pos, f"the caller to {line.text}",
                                           f"the call had ended: {_ending(call)}")]
            turn, seen = turn + 1, 0
            continue
        heard = [f for f in call.between(turn) if isinstance(f, Heard)]
        hit = next((k for k in range(seen, len(heard)) if _matches(line, heard[k])), None)
        if hit is None:
            failures.append(_not_heard(line, heard[seen:], conv.turns, turn))
        else:
            seen = hit + 1
    return failures


def _matches(line: Hear, heard: Heard) -> bool:
    return line.expected == heard.prompt or line.expected.casefold() in heard.text.casefold()


def _not_heard(line: Hear, heard: list[Heard], turns: list[Turn], turn: int) -> Failure:
    when = (f"before '{turns[turn].text}' (line {turns[turn].pos.line})" if turn < len(turns)
            else "after the last turn" if turns else "")
    got = ", ".join(h.prompt for h in heard[:MAX_SHOWN]) or "nothing"
    return Failure(line.pos, f"to hear '{line.expected}' {when}".rstrip(),
                   f"heard {got}" + (" ..." if len(heard) > MAX_SHOWN else ""))


# --- steps passed, and steps avoided -------------------------------------------------
def _is(ref: StepRef, passed: Passed) -> bool:
    return ref.step == passed.step and ref.flow in (None, passed.flow)


def _steps(conv: Conversation, call: Call) -> list[Failure]:
    path: list[Passed] = call.of(Passed)
    failures, at = [], 0
    for k, ref in enumerate(conv.passes):
        hit = next((i for i in range(at, len(path)) if _is(ref, path[i])), None)
        if hit is None:
            after = f" after '{conv.passes[k - 1]}'" if k else ""
            failures.append(Failure(ref.pos, f"to pass '{ref}'{after}",
                                    f"passed {_path(path[at:])}"))
            continue
        at = hit + 1
    for ref in conv.avoids:
        hit = next((i for i, p in enumerate(path) if _is(ref, p)), None)
        if hit is not None:
            failures.append(Failure(ref.pos, f"never to pass '{ref}'",
                                    f"passed it: {_path(path[max(0, hit - 3):hit + 1])}"))
    return failures


def _path(steps: list[Passed]) -> str:
    """``main: welcome, language; medication: medication_menu`` (the first few)."""
    if not steps:
        return "no further step"
    runs: list[tuple[str, list[str]]] = []
    for p in steps[:MAX_SHOWN]:
        if runs and runs[-1][0] == p.flow:
            runs[-1][1].append(p.step)
        else:
            runs.append((p.flow, [p.step]))
    text = "; ".join(f"{flow}: {', '.join(names)}" for flow, names in runs)
    return text + (" ..." if len(steps) > MAX_SHOWN else "")


# --- how the call ended --------------------------------------------------------------
def _ending(call: Call) -> str:
    routes: list[Routed] = call.of(Routed)
    path: list[Passed] = call.of(Passed)
    where = f" at {path[-1]}" if path else ""
    queue = f", queue {routes[-1].queue} priority {routes[-1].priority}" if routes else ""
    return f"outcome {call.outcome}{where}{queue}"


def _checks(conv: Conversation, call: Call) -> list[Failure]:
    routes: list[Routed] = call.of(Routed)
    triage: list[Triaged] = call.of(Triaged)
    route, decision = (routes[-1] if routes else None), (triage[-1] if triage else None)
    failures = []
    for check in conv.checks:
        problem = _check(check, call.outcome, route, decision)
        if problem is not None:
            failures.append(Failure(check.pos, _wanted(check), problem))
    return failures


def _wanted(check: Check) -> str:
    if check.what == "summary":
        return f"the agent's summary to contain '{check.value}'"
    prefix = "triage " if check.what in ("urgency", "department") else ""
    return f"{prefix}{check.what} {check.value}"


def _check(check: Check, outcome: str, route: Routed | None,
           decision: Triaged | None) -> str | None:
    """What happened instead, or None when the expectation holds."""
    want = check.value
    match check.what:
        case "outcome":
            ok = outcome == want or outcome.split(":")[0] == want
            return None if ok else f"outcome {outcome}" + (
                f" (queue {route.queue})" if route else "")
        case "queue" | "priority" | "summary":
            if route is None:
                return f"no queue (outcome {outcome})"
            if check.what == "queue":
                return None if route.queue == want else (
                    f"queue {route.queue} (priority {route.priority})")
            if check.what == "priority":
                return None if route.priority == want else (
                    f"priority {route.priority} (queue {route.queue})")
            ok = str(want).casefold() in route.summary.casefold()
            return None if ok else f"summary '{route.summary}'"
        case _:
            if decision is None:
                return "no triage decision"
            got = decision.urgency if check.what == "urgency" else decision.department
            return None if got == want else (
                f"urgency {decision.urgency}, department {decision.department}")


def _clock(conv: Conversation, call: Call) -> list[Failure]:
    """A schedule step without ``at:`` would pass or fail with the time of day."""
    if conv.at is not None:
        return []
    hours = [p for p in call.of(Passed) if p.type == "schedule"]
    if not hours:
        return []
    return [Failure(conv.pos, f"a time of day (at:) for schedule step '{hours[0]}'",
                    "none given: the result would change with the time the test runs")]

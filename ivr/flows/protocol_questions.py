"""Protocol questions at a ``triage`` step: ask, hear yes/no, raise the decision.

After ``decide()`` returns urgency 2 or 3 with a symptom that has a protocol in
``triage_protocols.yaml`` (``ivr.triage.protocols``), the step asks that
protocol's questions through the one listening path (``collect``: the
emergency key, "are you still there?", and the red-flag screen on every
answer work as at every question). Each answer is recorded as a
``protocol_answer`` event. Yes, "not sure", silence and the unrecognised raise
to the question's level; no keeps it; once the level is 1 no more is asked.

``prove`` is the validator's half: for every triage step that asks protocols,
every answer path of every protocol, from either level it may start at, ends
with a level and a step of the flow, and a path at level 1 ends at the step's
urgency 1 exit (which the safety analysis proves reaches the emergency team).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr import events as ev
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import Fallback
from ivr.triage.protocols import (
    ASKED_AT,
    Answer,
    Protocol,
    Protocols,
    apply,
    paths,
    protocols_for,
    raised,
)

if TYPE_CHECKING:
    from ivr.flows.context import StepContext
    from ivr.flows.model import FlowSet
    from ivr.flows.steps.base import Result
    from ivr.triage.decision import TriageDecision

MIN_CONFIDENCE = 0.5  # words heard less surely than this are asked again (then: unsure)
RETRIES = 1  # one more try after silence ("are you still there?") or words not understood
MAX_SECONDS = 6.0
# collect() wants fallbacks to say "are you still there?" at the first silence; the
# goto is never taken (a question with no answer counts as unsure, it does not branch)
_FALLBACKS = {"no_input": Fallback(goto="unused"), "no_match": Fallback(goto="unused")}


def prompt_id(protocol: Protocol, question_id: str) -> str:
    """The id a question's Prompt event carries (``hear`` in test conversations)."""
    return f"protocol_{protocol.id}_{question_id}"


async def ask_protocol(ctx: StepContext, decision: TriageDecision
                       ) -> tuple[TriageDecision, Result | None]:
    """The decision raised by the answers (unchanged without a protocol), or where the
    call goes instead (the emergency key, a red flag heard in an answer)."""
    rules = getattr(ctx.triager, "rules", None)
    protocols = protocols_for(rules)
    protocol = protocols.for_decision(decision) if protocols else None
    if protocols is None or protocol is None:
        return decision, None
    await ctx.say_text(protocols.intro_text(ctx.lang))
    level, answered = decision.urgency, []
    for question in protocol.questions:
        listen = Listen(prompt_id(protocol, question.id),
                        text=protocols.question_text(question, ctx.lang),
                        phrases=protocols.phrases(ctx.lang), max_seconds=MAX_SECONDS)
        got = await collect(ctx, listen, _interpret(protocols), retries=RETRIES,
                            fallbacks=_FALLBACKS)
        if got.diverted:
            return decision, got.diverted
        answer: Answer = got.value or "unsure"  # silence, the unrecognised: doubt escalates
        new = raised(level, question, answer)
        await ctx.record(ev.ProtocolAnswer(
            step=ctx.sid, text=got.reply.words, protocol=protocol.id,
            version=protocol.version, question=question.id, answer=answer,
            raised_to=new if new < level else None, dtmf=got.reply.key or None))
        answered.append((question.id, answer))
        level = new
        if level == 1:  # the emergency team now: nothing more to ask
            break
    return apply(decision, protocol, answered, rules), None


def _interpret(protocols: Protocols) -> Callable[[Reply], Answer | None]:
    def interpret(reply: Reply) -> Answer | None:
        if reply.key:
            return protocols.hear("", reply.key)
        if reply.words and reply.confidence < MIN_CONFIDENCE:
            return None
        return protocols.hear(reply.words)
    return interpret


@dataclass(frozen=True)
class PathEnd:
    flow: str
    step: str  # the triage step
    protocol: str
    start: int
    answers: tuple[str, ...]
    level: int
    department: str
    target: str | None  # the step the call goes to; None: none (a finding)

    def __str__(self) -> str:
        said = ", ".join(self.answers) or "-"
        return (f"{self.flow}.{self.step} {self.protocol} from {self.start}: {said} -> "
                f"level {self.level}, {self.department} -> {self.target}")


def prove(protocols: Protocols, flow_set: FlowSet) -> tuple[list[PathEnd], list[str]]:
    """Every answer path's end at every triage step that asks protocols, and the problems:
    a path without a level or a destination, or a level 1 away from the urgency 1 exit."""
    from ivr.flows.steps.triage import Step as Triage

    ends: list[PathEnd] = []
    problems: list[str] = []
    for flow in flow_set.flows.values():
        for sid, step in flow.steps.items():
            if not isinstance(step, Triage) or not step.protocols:
                continue
            for protocol in protocols.protocols:
                departments = _departments(protocol, step)
                for start in ASKED_AT:
                    for answers, level in paths(protocol, start):
                        for dept in departments:
                            department = "emergency" if level == 1 else dept
                            target = step.destination(level, department)
                            end = PathEnd(flow.name, sid, protocol.id, start, answers, level,
                                          department, target)
                            ends.append(end)
                            if level not in (1, 2, 3, 4) or target not in flow.steps:
                                problems.append(f"no destination: {end}")
                            elif level == 1 and target != step.urgency["1"]:
                                problems.append(f"level 1 away from the urgency 1 exit: {end}")
    return ends, problems


def _departments(protocol: Protocol, step: object) -> list[str]:
    """The departments a triggered decision can be in: the triggers' own, or any the step
    branches on and one it does not (``general_medicine`` stands for the rest)."""
    named = sorted({d for t in protocol.when for d in (t.departments or ())})
    if named and all(t.departments for t in protocol.when):
        return named
    branches = sorted(getattr(step, "departments", {}) or {})
    return list(dict.fromkeys([*named, *branches, "general_medicine"]))

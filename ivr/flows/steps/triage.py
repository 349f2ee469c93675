"""``triage``: score the caller's words (and voice), ask the protocol questions for the
complaint where the words are not decisive, and branch on urgency and department."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ivr import events as ev
from ivr.flows.steps.base import (
    ID,
    Edge,
    Path,
    Result,
    StepBase,
    StepId,
    keys_as_text,
)

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

URGENCY_LEVELS = ("1", "2", "3", "4")


class Step(StepBase):
    """Score the caller's words (and voice) and branch on urgency and department."""

    type: Literal["triage"]
    input: str = Field("utterance", pattern=ID, description="Variable holding the words.")
    urgency: dict[Literal["1", "2", "3", "4"], StepId] = Field(
        description="1 immediate (red flag) ... 4 administrative. Level 1 is required.")
    crisis: StepId = Field(description="Where suicidal or self-harm talk goes.")
    departments: dict[str, StepId] = Field(
        default_factory=dict, description="department -> step, checked before urgency 2-4.")
    safety_check: StepId | None = Field(
        None, description="Where a caller goes whose voice sounds urgent (acoustic urgency, "
        "triage_rules.yaml policy) while the words are no red flag: ask whether it is an "
        "emergency. Without it, the voice can only raise the level.")
    protocols: bool = Field(
        True, description="At urgency 2 or 3, ask the yes/no questions of the complaint's "
        "protocol (triage_protocols.yaml) before branching. Answers only raise the level "
        "(silence and 'not sure' count as yes), so this is on unless a flow turns it off.")
    model_config = ConfigDict(title="Triage")
    drawn_as: ClassVar[str] = "decision"

    @field_validator("urgency", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return keys_as_text(value)

    @model_validator(mode="after")
    def _red_flag_branch(self) -> Step:
        if "1" not in self.urgency:
            raise ValueError("a triage step must say where urgency 1 (red flags) goes")
        return self

    def exits(self) -> list[Edge]:
        out = [Edge("crisis", self.crisis, ("crisis",))]
        out += [Edge(f"urgency {k}", v, ("urgency", k)) for k, v in self.urgency.items()]
        out += [Edge(d, v, ("departments", d)) for d, v in self.departments.items()]
        if self.safety_check:
            out.append(Edge("sounds urgent", self.safety_check, ("safety_check",)))
        return out

    def red_flag_exits(self) -> list[Edge]:
        return [Edge("urgency 1", self.urgency["1"], ("urgency", "1")),
                Edge("crisis", self.crisis, ("crisis",))]

    def queues(self) -> list[tuple[str, Path]]:
        return [(d, ("departments", d)) for d in self.departments]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"scores {self.input}" + (", asks protocol questions" if self.protocols else "")

    def destination(self, urgency: int, department: str) -> str:
        """Where a decision goes (not crisis talk, no safety check): a department's entry
        at 2 to 4, else its level; a missing level escalates to the next more urgent one
        present (level 1 always is)."""
        if urgency > 1 and department in self.departments:
            return self.departments[department]
        for level in range(min(max(urgency, 1), 4), 0, -1):
            if str(level) in self.urgency:
                return self.urgency[str(level)]  # type: ignore[index]
        return self.urgency["1"]

    async def run(self, ctx: StepContext) -> Result:
        from ivr.flows.protocol_questions import ask_protocol

        text = str(ctx.vars.get(self.input, ""))
        decision = ctx.triager.decide(text, ctx.lang, {
            k: v for k, v in ctx.vars.items()
            if k.startswith("caller.") or k in ("asr_confidence", "acoustic_urgency")})
        self._keep(ctx, decision)
        await ctx.record(ev.Triage.from_decision(ctx.sid, text, ctx.lang, decision))
        if decision.crisis:
            return self.crisis, None
        if self.protocols and not decision.crisis and decision.urgency in (2, 3):
            asked, diverted = await ask_protocol(ctx, decision)
            if diverted:  # the emergency key, a red flag heard in an answer
                return diverted
            if asked is not decision:  # the final decision, raised or not
                decision = asked
                self._keep(ctx, decision)
                await ctx.record(ev.Triage.from_decision(ctx.sid, text, ctx.lang, decision))
        if decision.urgency > 1 and decision.ask_safety and self.safety_check:
            return self.safety_check, None  # the voice sounds urgent, the words do not
        return self.destination(decision.urgency, decision.department), None

    @staticmethod
    def _keep(ctx: StepContext, decision: Any) -> None:
        ctx.vars.update({"triage.urgency": decision.urgency,
                         "triage.department": decision.department,
                         "triage.priority": decision.queue_priority})

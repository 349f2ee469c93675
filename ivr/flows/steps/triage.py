"""``triage``: score the caller's words (and voice) and branch on urgency and department."""

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
        return f"scores {self.input}"

    async def run(self, ctx: StepContext) -> Result:
        text = str(ctx.vars.get(self.input, ""))
        decision = ctx.triager.decide(text, ctx.lang, {
            k: v for k, v in ctx.vars.items()
            if k.startswith("caller.") or k in ("asr_confidence", "acoustic_urgency")})
        ctx.vars.update({"triage.urgency": decision.urgency,
                         "triage.department": decision.department,
                         "triage.priority": decision.queue_priority})
        await ctx.record(ev.Triage.from_decision(ctx.sid, text, ctx.lang, decision))
        if decision.crisis:
            return self.crisis, None
        if decision.ask_safety and self.safety_check:  # the voice sounds urgent, words not
            return self.safety_check, None
        if decision.urgency > 1 and decision.department in self.departments:
            return self.departments[decision.department], None
        # A missing level escalates: the next more urgent branch takes the caller.
        for level in range(decision.urgency, 0, -1):
            if str(level) in self.urgency:
                return self.urgency[str(level)], None  # type: ignore[index]
        return self.urgency["1"], None

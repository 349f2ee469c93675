"""``ask``: listen to the caller's words and keep them (or the grammar value they match)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import (
    ID,
    Edge,
    Fallback,
    Path,
    PromptId,
    Result,
    Seconds,
    StepBase,
    StepId,
)
from ivr.triage.keywords import phrase_key

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Listen to the caller's words; store them (or the matched grammar value)."""

    type: Literal["ask"]
    prompt: PromptId
    into: str = Field(pattern=ID, description="Variable that receives the answer.")
    mode: Literal["free", "grammar"] = "free"
    grammar: dict[str, list[str]] = Field(
        default_factory=dict, description="value -> phrases (grammar mode).")
    min_confidence: float = Field(0.6, ge=0, le=1)
    max_seconds: Seconds = 15
    timeout: Seconds | None = None
    retries: int | None = Field(None, ge=0, le=5)
    dtmf_fallback: dict[str, str] = Field(
        default_factory=dict, description="key -> value, when speech fails.")
    no_input: Fallback
    no_match: Fallback
    next: StepId
    model_config = ConfigDict(title="Ask")
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt",)
    drawn_as: ClassVar[str] = "decision"

    @model_validator(mode="after")
    def _grammar_needed(self) -> Step:
        if self.mode == "grammar" and not self.grammar:
            raise ValueError("grammar mode needs a 'grammar' of value: [phrases]")
        return self

    def exits(self) -> list[Edge]:
        return [Edge("answer", self.next, ("next",)),
                Edge("no input", self.no_input.goto, ("no_input", "goto")),
                Edge("no match", self.no_match.goto, ("no_match", "goto"))]

    def answer_keys(self) -> list[tuple[str, Path]]:
        return [(k, ("dtmf_fallback", k)) for k in self.dtmf_fallback]

    def value_of(self, reply: Reply) -> str | None:
        """A key from ``dtmf_fallback``, the words (free mode), or their grammar value."""
        if reply.key:
            return self.dtmf_fallback.get(reply.key)
        if not reply.words or reply.confidence < self.min_confidence:
            return None
        if self.mode == "free":
            return reply.words
        said = phrase_key(reply.words)
        for value, phrases in self.grammar.items():
            if any(phrase_key(p) in said for p in phrases):
                return value
        return None

    async def run(self, ctx: StepContext) -> Result:
        listen = Listen(self.prompt, max_seconds=self.max_seconds, timeout=self.timeout,
                        phrases=[p for ps in self.grammar.values() for p in ps] or None,
                        free_speech=self.mode == "free")
        got = await collect(ctx, listen, self.value_of, retries=ctx.state.retries(self.retries),
                            fallbacks={"no_input": self.no_input, "no_match": self.no_match})
        if got.diverted:
            return got.diverted
        if got.value is None:
            return getattr(self, got.missed or "no_input").goto, None
        ctx.vars[self.into] = got.value
        if got.reply.words:
            ctx.vars["asr_confidence"] = got.reply.confidence
        return self.next, None

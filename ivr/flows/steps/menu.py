"""``menu``: the caller chooses by key or by voice, with retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import (
    Edge,
    Fallback,
    Finding,
    Path,
    PromptId,
    Result,
    Scope,
    Seconds,
    StepBase,
    StepId,
    Strict,
)
from ivr.triage.keywords import phrase_key

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class MenuOption(Strict):
    key: str | None = Field(None, pattern=r"^[0-9*#]$", description="The DTMF key.")
    say: list[str] = Field(default_factory=list, description="Phrases a caller may say.")
    goto: StepId
    set: dict[str, str] = Field(default_factory=dict, description="Variables to set.")
    means: list[str] = Field(default_factory=list, description="Requests the triage rules "
                             "recognise (pharmacy, appointments, results, billing, complaints, "
                             "operator) that choose this option when the caller says them in "
                             "their own words.")

    def serves(self, request: str) -> bool:
        return request in self.means or request in (self.set.get("choice"), self.goto)


@dataclass(frozen=True)
class Choice:
    """Where the caller's answer takes them, and what it sets."""

    goto: str
    set: dict[str, str]

    @model_validator(mode="after")
    def _key_or_phrase(self) -> MenuOption:
        if self.key is None and not self.say:
            raise ValueError("an option needs a 'key' or 'say' phrases")
        return self


class Step(StepBase):
    """Ask the caller to choose, by key or by voice, with retries."""

    type: Literal["menu"]
    prompt: PromptId
    options: list[MenuOption] = Field(min_length=1)
    timeout: Seconds | None = None
    retries: int | None = Field(None, ge=0, le=5)
    barge_in: bool = True
    listen: Literal["grammar", "free"] = Field(
        "grammar", description="grammar: the recogniser expects the option phrases (and "
        "red-flag phrases); free: it hears whatever the caller says, for an open question "
        "('How can I help you?') read by the option phrases and the clinical rules.")
    clinical: StepId | None = Field(
        None, description="Where a caller goes who describes a complaint instead of choosing "
        "(their words in 'utterance'), e.g. the triage step. Without it, a no-match.")
    no_input: Fallback
    no_match: Fallback
    model_config = ConfigDict(title="Menu", json_schema_extra={"examples": [{
        "type": "menu", "prompt": "main_menu",
        "options": [{"key": "1", "say": ["appointment"], "goto": "appointments"}],
        "no_input": {"prompt": "sorry_no_input", "goto": "to_operator"},
        "no_match": {"prompt": "sorry_no_match", "goto": "to_operator"}}]})
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt",)
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        out = [Edge(o.key or "/".join(o.say[:1]), o.goto, ("options", i, "goto"))
               for i, o in enumerate(self.options)]
        if self.clinical:
            out.append(Edge("describes a complaint", self.clinical, ("clinical",)))
        return [*out, Edge("no input", self.no_input.goto, ("no_input", "goto")),
                Edge("no match", self.no_match.goto, ("no_match", "goto"))]

    def answer_keys(self) -> list[tuple[str, Path]]:
        return [(o.key, ("options", i, "key")) for i, o in enumerate(self.options)
                if o.key is not None]

    def check(self, scope: Scope) -> list[Finding]:
        out: list[Finding] = []
        keys: dict[str, int] = {}
        phrases: dict[str, int] = {}
        for i, opt in enumerate(self.options):
            if opt.key is not None:
                if opt.key in keys:
                    out.append(Finding(("options", i, "key"), "IVR106",
                                       f"key '{opt.key}' is already option {keys[opt.key] + 1}"))
                keys.setdefault(opt.key, i)
            for phrase in opt.say:
                norm = " ".join(phrase.lower().split())
                if norm in phrases and phrases[norm] != i:
                    out.append(Finding(("options", i, "say"), "IVR106",
                                       f"phrase '{phrase}' already selects option "
                                       f"{phrases[norm] + 1}"))
                phrases.setdefault(norm, i)
        return out

    def option_for(self, reply: Reply) -> MenuOption | None:
        """The option chosen by a key, or by words containing one of its phrases."""
        if reply.key:
            return next((o for o in self.options if o.key == reply.key), None)
        if reply.words:
            said = phrase_key(reply.words)
            for option in self.options:
                if any(phrase_key(p) and phrase_key(p) in said for p in option.say):
                    return option
        return None

    def understood(self, ctx: StepContext, reply: Reply) -> Choice | None:
        """An option by key or phrase; otherwise the caller's own words read by the
        clinical rules (already screened for red flags): a complaint goes to
        ``clinical``, a request they recognise to the option that ``serves`` it."""
        option = self.option_for(reply)
        if option is not None:
            return Choice(option.goto, option.set)
        if not reply.words:
            return None
        decision = ctx.triager.decide(reply.words, ctx.lang, {
            "asr_confidence": reply.confidence,
            **{k: v for k, v in ctx.vars.items() if k == "caller.age_group"}})
        if decision.symptoms or decision.urgency <= 2:  # clinical words: a clinician's call
            return Choice(self.clinical, {"utterance": reply.words}) if self.clinical else None
        option = next((o for o in self.options if o.serves(decision.department)), None)
        return Choice(option.goto, option.set) if option else None

    async def run(self, ctx: StepContext) -> Result:
        phrases = [p for o in self.options for p in o.say] or None
        listen = Listen(self.prompt, phrases=phrases if self.listen == "grammar" else None,
                        timeout=self.timeout, max_seconds=8 if self.listen == "grammar" else 15,
                        free_speech=self.listen == "free")
        got = await collect(ctx, listen,
                            lambda reply: self.understood(ctx, reply),
                            retries=ctx.state.retries(self.retries),
                            fallbacks={"no_input": self.no_input, "no_match": self.no_match})
        if got.diverted:
            return got.diverted
        if got.value is None:
            return getattr(self, got.missed or "no_input").goto, None
        await ctx.assign(got.value.set)
        return got.value.goto, None

"""``menu``: the caller chooses by key or by voice, with retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from ivr.flows.context import fill
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.screening import read_words
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
from ivr.triage.protocols import protocols_for

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class MenuOption(Strict):
    key: str | None = Field(None, pattern=r"^[0-9*#]$", description="The DTMF key.")
    say: list[str] = Field(default_factory=list, description="Phrases a caller may say.")
    goto: StepId
    set: dict[str, str] = Field(default_factory=dict, description="Variables to set.")
    label: dict[str, str] = Field(default_factory=dict, description="language -> what the "
                                  "option does, in words for the menu's confirm prompt "
                                  "({choice}).")
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
    option: MenuOption | None = None  # chosen by what the rules made of the caller's words

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
    confirm: PromptId | None = Field(
        None, description="Asked ('{choice}' filled with the option's label) when the "
        "option was chosen from the caller's own words rather than a key or an option "
        "phrase: yes goes on; no, silence or an unclear answer take the no_match exit.")
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
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "confirm")
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
        decision = reply.reading or read_words(ctx, reply.words, reply.confidence)
        if decision is None:
            return None
        if decision.symptoms or decision.urgency <= 2:  # clinical words: a clinician's call
            return Choice(self.clinical, {"utterance": reply.words}) if self.clinical else None
        option = next((o for o in self.options if o.serves(decision.department)), None)
        return Choice(option.goto, option.set, option) if option else None

    async def unconfirmed(self, ctx: StepContext, option: MenuOption) -> Result | None:
        """None on yes to "You'd like <label>, is that right?" (keys 1/2 or the yes/no
        words of triage_protocols.yaml), or without a confirm prompt or a label; else
        where the call goes: a diversion (emergency key, red flag) or the no_match exit."""
        label = option.label.get(ctx.lang)
        answers = protocols_for(getattr(ctx.triager, "rules", None))
        if not self.confirm or not label or answers is None:
            return None
        listen = Listen(self.confirm, text=fill(ctx.text(self.confirm), {"choice": label}),
                        phrases=answers.phrases(ctx.lang), max_seconds=4,
                        timeout=self.timeout)
        got = await collect(ctx, listen, lambda r: answers.hear(r.words, r.key))
        if got.diverted:
            return got.diverted
        return None if got.value == "yes" else (self.no_match.goto, None)

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
        if got.value.option is not None and (
                elsewhere := await self.unconfirmed(ctx, got.value.option)):
            return elsewhere  # no, or doubt: the flow's way to a person
        await ctx.assign(got.value.set)
        return got.value.goto, None

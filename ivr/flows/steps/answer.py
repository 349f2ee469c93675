"""``answer``: the line answers a routine question itself from the knowledge base.

The caller's words (an earlier ``ask``'s variable, or heard here) find an entry of
``knowledge/answers/`` (ivr/kb/); its text is read at the caller's speech rate, then
"say repeat, or press 1 to hear it again; press 0 for a person". Another question is
answered the same way (up to ``max_questions``). The line never says more than an
entry's text: no entry close enough, an expired or withdrawn one, words that read as
a complaint (a clinician's call, ``clinical``), a request for a person, or silence
after an answer: the caller goes to ``person``. Every utterance is screened for red
flags on the way in (ivr.flows.listening), so an emergency said here still wins.

Each outcome is recorded (``ivr.events.Answer``: which entry and version was said,
and whether the caller then still asked for a person): the containment figure.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.context import fill
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.screening import read_words
from ivr.flows.steps.base import VAR, Edge, PromptId, Result, StepBase, StepId
from ivr.triage.keywords import phrase_key
from ivr.triage.protocols import protocols_for

if TYPE_CHECKING:
    from ivr.flows.context import StepContext
    from ivr.kb.search import Match

Choice = Literal["repeat", "person", "done"]
After = Literal["person", "done", "another", "silence"]  # how the caller left an answer
# what callers say after an answer (keys: 1 repeat, 2 done, 0 person)
WORDS: dict[Choice, tuple[str, ...]] = {
    "repeat": ("repeat", "again", "say that again", "pardon", "重复", "再说一遍", "再听一遍",
               "没听清"),
    "person": ("person", "operator", "someone", "nurse", "human", "agent", "人工", "转人工",
               "护士", "接线员", "找人"),
    "done": ("no thank you", "no thanks", "that's all", "thats all", "that is all",
             "goodbye", "bye", "谢谢", "没有了", "好的", "知道了", "再见"),
}
KEYS: dict[str, Choice] = {"1": "repeat", "0": "person", "2": "done"}


def _said(words: str, choice: Choice) -> bool:
    said = phrase_key(words)
    return any(phrase_key(p) and phrase_key(p) in said for p in WORDS[choice])


class Step(StepBase):
    """Answer a routine question from the knowledge base, or hand the caller on."""

    type: Literal["answer"]
    prompt: PromptId = Field(description="Asks the question (when `from` holds no words).")
    from_: str | None = Field(None, alias="from", pattern=VAR,
                              description="Variable holding the caller's words already.")
    topics: list[str] = Field(default_factory=list, description=(
        "Only entries of these topics or departments (empty: the whole knowledge base)."))
    after: PromptId = Field(description="Said after the answer: repeat (1), person (0).")
    not_found: PromptId = Field(description="Said before a person when nothing answers.")
    confirm: PromptId | None = Field(None, description=(
        "Asked when the match is not sure: 'You're asking about {topic}. Is that right?' "
        "(yes: the answer; no or unsure: a person). Empty: never asked."))
    max_questions: int = Field(3, ge=1, le=5)
    max_repeats: int = Field(2, ge=0, le=5)
    person: StepId = Field(description="A person: no answer, asked for, or silence.")
    clinical: StepId | None = Field(None, description=(
        "Words that read as a complaint (triage); empty: `person`."))
    next: StepId = Field(description="The caller is done after an answer.")
    model_config = ConfigDict(title="Answer", populate_by_name=True, json_schema_extra={
        "examples": [{"type": "answer", "prompt": "kb_question", "after": "kb_after",
                      "not_found": "kb_not_found", "person": "to_operator",
                      "clinical": "triage", "next": "goodbye"}]})
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "after", "not_found", "confirm")
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        out = [Edge("answered", self.next, ("next",)),
               Edge("a person", self.person, ("person",))]
        if self.clinical:
            out.append(Edge("describes a complaint", self.clinical, ("clinical",)))
        return out

    def answer_keys(self) -> list[tuple[str, tuple[str | int, ...]]]:
        return [(k, ("after",)) for k in KEYS]

    async def _heard(self, ctx: StepContext, prompt: str) -> tuple[Reply | None, Result | None]:
        got = await collect(ctx, Listen(prompt, max_seconds=15, free_speech=True),
                            lambda r: r if not r.empty else None,
                            retries=ctx.state.retries(None))
        return got.value, got.diverted

    async def run(self, ctx: StepContext) -> Result:
        from ivr.kb import live

        words = str(ctx.vars.get(self.from_, "") or "") if self.from_ else ""
        reading = None
        if not words:
            reply, diverted = await self._heard(ctx, self.prompt)
            if diverted:
                return diverted
            if reply is None or not reply.words:  # silence, or only a key: a person
                return self.person, None
            words, reading = reply.words, reply.reading
        knowledge = await asyncio.to_thread(live.current().index)
        for _question in range(self.max_questions):
            if _said(words, "person"):
                return self.person, None
            decision = reading or read_words(ctx, words, 0.9)
            if decision is not None and (decision.symptoms or decision.urgency <= 2):
                await ctx.record(ev.Answer(step=ctx.sid, text=words, outcome="clinical"))
                ctx.vars["utterance"] = words
                return self.clinical or self.person, None
            match = await asyncio.to_thread(knowledge.find, words, self.topics)
            if match is None or not match.entry.spoken(ctx.lang):
                await ctx.record(ev.Answer(step=ctx.sid, text=words, outcome="no_entry"))
                await ctx.speak(self.not_found)
                return self.person, None
            if (sure := await self._understood(ctx, match)) is not True:
                if sure is not False:
                    return sure  # diverted
                await ctx.record(ev.Answer(step=ctx.sid, text=words, outcome="not_confirmed",
                                           entry=match.entry.ref))
                await ctx.speak(self.not_found)
                return self.person, None
            choice, more = await self._say_and_ask(ctx, match, words)
            if isinstance(choice, tuple):  # diverted: a red flag, the emergency key
                return choice
            if choice in ("person", "silence"):
                outcome = "asked_person" if choice == "person" else "silence"
                await ctx.record(ev.Answer(step=ctx.sid, text=words, outcome=outcome,
                                           entry=match.entry.ref))
                return self.person, None
            if choice == "done":
                return self.next, None
            words, reading = more, None  # another question
        return self.person, None  # still asking after max_questions: a person takes it

    async def _understood(self, ctx: StepContext, match: Match) -> bool | Result:
        """Yes to "You're asking about <title>?" when the match is not sure (True at
        once for a sure one); False on no or doubt; a Result when diverted."""
        from ivr.kb.search import SURE

        title = match.entry.title.get(ctx.lang)
        answers = protocols_for(getattr(ctx.triager, "rules", None))
        if match.score >= SURE or not self.confirm or not title or answers is None:
            return True
        listen = Listen(self.confirm, text=fill(ctx.text(self.confirm), {"topic": title}),
                        phrases=answers.phrases(ctx.lang), max_seconds=4)
        got = await collect(ctx, listen, lambda r: answers.hear(r.words, r.key))
        if got.diverted:
            return got.diverted
        return got.value == "yes"

    async def _say_and_ask(self, ctx: StepContext, match: Match,
                           words: str) -> tuple[After | Result, str]:
        """Say the entry (again on "repeat"); then the caller's choice, or their next
        question's words (choice "another")."""
        entry = match.entry
        text = entry.spoken(ctx.lang)
        await ctx.record(ev.Answer(step=ctx.sid, text=words, outcome="spoken",
                                   entry=entry.ref, score=round(match.score, 3)))
        for _repeat in range(self.max_repeats + 1):
            await ctx.record(ev.Prompt(step=ctx.sid, text=text, prompt=f"kb:{entry.id}",
                                       lang=ctx.lang))
            await ctx.channel.say(text, ctx.lang, ctx.state.rate)
            reply, diverted = await self._heard(ctx, self.after)
            if diverted:
                return diverted, ""
            if reply is None:  # silence after the answer: doubt, so a person
                return "silence", ""
            choice = KEYS.get(reply.key) if reply.key else next(
                (c for c in ("person", "repeat", "done") if _said(reply.words, c)), None)
            if choice == "repeat":
                continue
            if choice is not None:
                return choice, ""
            if reply.words:
                return "another", reply.words
            return "person", ""  # a key that means nothing here
        return "person", ""  # still not heard it after every repeat: a person says it

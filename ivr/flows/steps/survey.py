"""``survey``: scored questions, by keypad or spoken ("five", "五分"), kept per dimension."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import ID, Edge, Path, PromptId, Result, Seconds, StepBase, StepId, Strict
from ivr.triage.keywords import phrase_key

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class SurveyQuestion(Strict):
    id: str = Field(pattern=ID)
    prompt: PromptId
    scale: int = Field(5, ge=2, le=9)


class Step(StepBase):
    """Ask scored questions (keypad 1..scale) and store the answers."""

    type: Literal["survey"]
    questions: list[SurveyQuestion] = Field(min_length=1)
    timeout: Seconds | None = None
    next: StepId
    model_config = ConfigDict(title="Survey")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def prompt_refs(self) -> list[tuple[str, Path]]:
        return [(q.prompt, ("questions", i, "prompt")) for i, q in enumerate(self.questions)]

    def answer_keys(self) -> list[tuple[str, Path]]:
        return [(str(k), ("questions", i, "scale")) for i, q in enumerate(self.questions)
                for k in range(1, q.scale + 1)]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"{len(self.questions)} question(s)"

    async def run(self, ctx: StepContext) -> Result:
        answers: dict[str, int | None] = {}
        modes: dict[str, str] = {}
        for q in self.questions:
            listen = Listen(q.prompt, timeout=self.timeout, max_seconds=4,
                            phrases=score_phrases(ctx.lang, q.scale))

            def score(reply: Reply, q: SurveyQuestion = q) -> int | None:
                if reply.words:  # out of grammar (no confidence): no number was said
                    return (spoken_score(reply.words, ctx.lang, q.scale)
                            if reply.confidence > 0 else None)
                key = reply.key[:1]
                return int(key) if key.isdigit() and 1 <= int(key) <= q.scale else None

            got = await collect(ctx, listen, score)
            if got.diverted:
                return got.diverted
            answers[q.id] = got.value
            modes[q.id] = "speech" if got.reply.words and got.reply.confidence > 0 else "dtmf"
            ctx.vars[f"survey.{q.id}"] = got.value
        await ctx.record(ev.Survey(step=ctx.sid, answers=answers, modes=modes,
                                   scales={q.id: q.scale for q in self.questions}))
        return self.next, None


SCORE_WORDS: dict[str, list[list[str]]] = {
    "en-US": [["one", "1"], ["two", "2"], ["three", "3"], ["four", "4"], ["five", "5"],
              ["six", "6"], ["seven", "7"], ["eight", "8"], ["nine", "9"]],
    "zh-CN": [["一分", "一"], ["两分", "二", "两"], ["三分", "三"], ["四分", "四"],
              ["五分", "五"], ["六"], ["七"], ["八"], ["九"]],
    "ko-KR": [["일"], ["이"], ["삼"], ["사"], ["오"], ["육"], ["칠"], ["팔"], ["구"]],
}


def score_phrases(lang: str, scale: int) -> list[str]:
    return [w for words in SCORE_WORDS.get(lang, SCORE_WORDS["en-US"])[:scale] for w in words]


def spoken_score(words: str, lang: str, scale: int) -> int | None:
    """The score a caller said; None when it is not a number on the scale."""
    said = phrase_key(words)
    table = SCORE_WORDS.get(lang, SCORE_WORDS["en-US"])[:scale]
    tokens = re.findall(r"\w+", words.lower())
    for score in range(len(table), 0, -1):
        for w in map(phrase_key, table[score - 1]):
            if w and (w == said or w in tokens  # "five", "I'd say five"
                      or (len(w) > 1 and not w.isascii() and w in said)):  # "我给五分"
                return score
    return None

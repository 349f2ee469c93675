"""The one listening path: every step that hears the caller goes through ``collect``.

Prompt out, barge-in, keys and speech together, the flow's emergency key,
retries with the no-input / no-match prompts, "are you still there?" at the
first silence, and the key pressed during an earlier prompt carried to the
next question. Everything the caller does passes through :func:`heard`, the
single place where a key or an utterance is recorded, and where every
utterance is screened for red flags before the step reads it
(``ivr.flows.screening``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from ivr import events as ev
from ivr.flows.screening import divert, read_words
from ivr.telephony.channel import Heard
from ivr.triage.vocabulary import red_flag_phrases

if TYPE_CHECKING:
    from ivr.flows.context import StepContext
    from ivr.flows.steps.base import Fallback, Result
    from ivr.triage.decision import TriageDecision

log = logging.getLogger(__name__)

STILL_THERE = "still_there"  # prompt id said at the first silence, when the catalog has it
T = TypeVar("T")
Missed = Literal["no_input", "no_match"]


@dataclass(frozen=True)
class Listen:
    """How one question is asked."""

    prompt: str  # prompt id
    retry_prompt: str | None = None  # said instead of ``prompt`` from the second attempt
    phrases: list[str] | None = None  # what the recogniser should expect (grammar mode)
    timeout: float | None = None  # the step's; the caller's profile is a floor
    max_seconds: float = 8  # longest utterance
    keys_only: bool = False  # keypad only (dates of birth, yes-by-key offers)
    max_digits: int = 1
    pending: Literal["take", "drop"] = "take"  # a key pressed during an earlier prompt
    free_speech: bool = False  # a free question (screened even where a flow narrows it)
    text: str | None = None  # words built at run time, said instead of the prompt's text
    # (protocol questions from triage_protocols.yaml); ``prompt`` still names it in records


@dataclass(frozen=True)
class Reply:
    """What the caller did at one attempt: a key, words, or nothing."""

    key: str = ""
    words: str = ""
    confidence: float = 0.0
    barge_in: bool = False  # the key was pressed during an earlier prompt
    # what the rules made of the words, when the red-flag screen read them
    reading: TriageDecision | None = field(default=None, compare=False)

    @property
    def empty(self) -> bool:
        return not self.key and not self.words


@dataclass(frozen=True)
class Collected(Generic[T]):
    """How a question ended: an answer, a diversion, or retries used up."""

    value: T | None = None
    diverted: Result | None = None  # what the step returns at once (the emergency key)
    missed: Missed | None = None
    reply: Reply = Reply()


Interpret = Callable[[Reply], "T | Awaitable[T | None] | None"]


async def collect(ctx: StepContext, listen: Listen, interpret: Interpret[T], *,
                  retries: int = 0,
                  fallbacks: Mapping[str, Fallback] | None = None) -> Collected[T]:
    """Ask until ``interpret`` accepts a reply (not None), at most ``retries`` + 1 times."""
    missed: Missed = "no_input"
    reply = Reply()
    for attempt in range(retries + 1):
        prompt = listen.retry_prompt if attempt and listen.retry_prompt else listen.prompt
        reply, diverted = await ask(ctx, listen, prompt)
        if diverted:
            return Collected(diverted=diverted, reply=reply)
        value = interpret(reply)
        if inspect.isawaitable(value):
            value = await value
        if value is not None:
            return Collected(value=value, reply=reply)  # type: ignore[arg-type]
        missed = "no_input" if reply.empty else "no_match"
        kind = ev.NoInput if missed == "no_input" else ev.NoMatch
        await ctx.record(kind(step=ctx.sid, dtmf=reply.key or reply.words, attempt=attempt + 1))
        if attempt < retries:
            await _before_retry(ctx, fallbacks, missed, attempt)
    return Collected(missed=missed, reply=reply)


async def ask(ctx: StepContext, listen: Listen, prompt: str) -> tuple[Reply, Result | None]:
    """One attempt: the reply, and where the call goes instead if it is diverted."""
    state = ctx.state
    if state.pending_digit:
        key, state.pending_digit = state.pending_digit, None
        if listen.pending == "take":
            return await heard(ctx, Heard(dtmf=key), listen, barge_in=True)
    text = listen.text if listen.text is not None else ctx.text(prompt)
    await ctx.record(ev.Prompt(step=ctx.sid, text=text, prompt=prompt, lang=state.lang))
    if listen.keys_only:
        key = await state.channel.collect_digits(text, listen.max_digits,
                                                 state.timeout(listen.timeout),
                                                 state.lang, state.rate)
        return await heard(ctx, Heard(dtmf=key), listen)
    answer = await state.channel.hear(text, state.lang, state.rate,
                                      timeout=state.timeout(listen.timeout),
                                      max_seconds=listen.max_seconds,
                                      phrases=_with_red_flags(ctx, listen.phrases))
    return await heard(ctx, answer, listen)


async def pressed(ctx: StepContext, key: str) -> Result | None:
    """A key pressed during a prompt nobody asked a question with (``say``, ``play``):
    diverted for the emergency key, otherwise kept for the next question."""
    _reply, diverted = await heard(ctx, Heard(dtmf=key), Listen(prompt=""), record=False)
    if not diverted:
        ctx.state.pending_digit = key
    return diverted


async def heard(ctx: StepContext, answer: Heard, listen: Listen, *, barge_in: bool = False,
                record: bool = True) -> tuple[Reply, Result | None]:
    """Every key and every utterance of every step passes here, recorded one way;
    the result is where the call goes instead of the step's answer, if anywhere.

    ``record=False``: a key kept for the next question is recorded when that
    question takes it (so it is recorded once), unless it is the emergency key.
    """
    key = answer.dtmf
    emergency = None
    if key and (len(key) == 1 or listen.max_digits == 1):
        emergency = ctx.emergency_step(key[:1])
    reading = None
    if answer.text:
        await _record_words(ctx, answer, listen.free_speech)
        if ctx.state.flow.spec.red_flag_screen == "every_answer" or listen.free_speech:
            reading = read_words(ctx, answer.text, answer.confidence)
            if reading is not None and reading.urgency == 1 and not (
                    reading.crisis and ctx.state.flow.spec.crisis_lane):  # whatever the step
                # waited for; crisis talk inside the crisis protocol is what it is there for
                return Reply(words=answer.text, confidence=answer.confidence), await divert(
                    ctx, answer.text, reading)
    if key and (record or emergency):
        await ctx.record(ev.Input(step=ctx.sid, dtmf=key, barge_in=barge_in or answer.barged_in,
                                  emergency_key=bool(emergency)))
    reply = Reply(key=key, words=answer.text, confidence=answer.confidence,
                  barge_in=barge_in or answer.barged_in, reading=reading)
    return reply, ((emergency, None) if emergency else None)


def _with_red_flags(ctx: StepContext, phrases: list[str] | None) -> list[str] | None:
    """A grammar hears only its phrases: add the red-flag ones so the screen gets them."""
    rules = getattr(ctx.triager, "rules", None)
    if phrases is None or rules is None:
        return phrases
    return list(dict.fromkeys([*phrases, *red_flag_phrases(rules, ctx.lang)]))


async def _record_words(ctx: StepContext, answer: Heard, score_voice: bool) -> None:
    """The words (masked when stored) and the audio, sealed. ``score_voice`` (free
    answers, which triage reads): how urgent the voice sounds against the caller's
    own first seconds, kept in ``acoustic_urgency``."""
    state = ctx.state
    acoustic: dict[str, Any] = {}
    if answer.audio:
        state.voice.add(answer.audio)
        if score_voice:
            try:
                found = await asyncio.to_thread(state.voice.urgency)
            except ImportError:  # the light EAGI install: words and keys only
                log.debug("acoustic urgency unavailable here", exc_info=True)
            else:
                state.vars["acoustic_urgency"] = max(
                    found.score, float(state.vars.get("acoustic_urgency", 0.0)))
                acoustic = {"acoustic": found.score, "acoustic_drivers": found.drivers[:3]}
    await ctx.record(ev.Turn(step=ctx.sid, text=answer.text,
                             confidence=round(answer.confidence, 3), barged_in=answer.barged_in,
                             speech_ms=answer.speech_ms, **acoustic))
    if answer.audio:
        await ctx.recorder.recording(state.call_id, answer.audio)


async def _before_retry(ctx: StepContext, fallbacks: Mapping[str, Fallback] | None,
                        missed: Missed, attempt: int) -> None:
    """Silence first gets "are you still there?"; then the step's own sorry-prompt."""
    fallback = (fallbacks or {}).get(missed)
    prompt = fallback.prompt if fallback else None
    if missed == "no_input" and attempt == 0 and fallbacks and ctx.has_prompt(STILL_THERE):
        prompt = STILL_THERE
    if prompt:
        await ctx.speak(prompt)

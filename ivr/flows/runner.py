"""Runs a flow on a call, one step type per method, recording each step as it happens.

The law of the engine: a failure never leaves the caller in silence. An error
in a step sends the call to the current flow's ``on_error`` step (checked to be
a person); a queue nobody answers escalates to the operator, then to the
emergency team; the flow's emergency key works at every menu.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ivr.departments import department_name
from ivr.flows import schema as s
from ivr.flows.model import Flow, FlowSet
from ivr.followups.window import span
from ivr.store.recorder import CallRecorder
from ivr.telephony.channel import ALL_KEYS, Channel, Heard, QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.triage.call_voice import CallVoice
from ivr.triage.decision import Triager
from ivr.triage.keywords import normalise

log = logging.getLogger(__name__)

STILL_THERE = "still_there"  # prompt id said at the first silence, when the catalog has it
MAX_STEPS = 500  # a runaway flow (a caller looping a menu all night) ends with a person


def escalation_chain(queue: str) -> list[str]:
    """Queues to try, in order, when ``queue`` cannot take the caller."""
    if queue == "emergency":
        return ["emergency"]
    if queue in ("operator", "crisis"):
        return [queue, "emergency"]
    return [queue, "operator", "emergency"]


@dataclass
class CallState:
    call_id: str
    flow_set: FlowSet
    flow: Flow
    channel: Channel
    vars: dict[str, Any] = field(default_factory=dict)
    pending_digit: str | None = None
    voice: CallVoice = field(default_factory=CallVoice)  # for acoustic urgency
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @property
    def lang(self) -> str:
        return str(self.vars.get("lang", self.flow.language))

    @property
    def rate(self) -> str:
        return str(self.vars.get("speech_rate", self.flow.spec.defaults.speech_rate))

    def timeout(self, step_timeout: float | None) -> float:
        """The step's timeout, never shorter than what the caller's profile asks for."""
        base = float(step_timeout or self.flow.spec.defaults.timeout)
        return max(base, float(self.vars.get("timeout", 0)))

    def retries(self, step_retries: int | None) -> int:
        if step_retries is not None:
            return step_retries
        return int(self.vars.get("retries", self.flow.spec.defaults.retries))


Result = tuple[str | None, str | None]  # (next step id, outcome when the call is finished)


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(value).lower() in (("true", "yes", "1") if expected else ("false", "no", "0"))
    return str(value) == str(expected)


def test_passes(test: s.Test, value: Any) -> bool:
    if value is None:
        return False
    if test.equals is not None:
        return _same(value, test.equals)
    if test.in_ is not None:
        return any(_same(value, v) for v in test.in_)
    try:
        return float(value) >= float(test.at_least)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def apply_profiles(flow: Flow, vars: dict[str, Any]) -> list[str]:
    """Caller-profile hook: adjust speech rate, timeouts and input mode for this caller."""
    applied = []
    for i, rule in enumerate(flow.spec.profiles):
        if test_passes(rule.when, vars.get(rule.when.var)):
            for key, value in rule.set.model_dump(exclude_none=True).items():
                vars[key] = value
            applied.append(f"profile {i + 1} ({rule.when.var})")
    return applied


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]*)\}")


def fill(template: str, vars: dict[str, Any]) -> str:
    """``{var}`` placeholders from call variables; unknown ones become '?'."""
    return _PLACEHOLDER.sub(lambda m: str(vars.get(m.group(1), "?")), template)


class FlowRunner:
    def __init__(self, recorder: CallRecorder, triager: Triager) -> None:
        self.recorder = recorder
        self.triager = triager

    async def run(self, state: CallState) -> str:
        """Run to the end; returns the outcome. CallerHangup propagates to the caller."""
        step_id: str | None = state.flow.start
        try:
            await state.channel.answer()
            applied = apply_profiles(state.flow, state.vars)
            if applied:
                await self._event(state, "profile", "", applied=applied,
                                  speech_rate=state.rate, timeout=state.timeout(None))
            for _ in range(MAX_STEPS):
                if step_id is None:
                    break
                step = state.flow.steps[step_id]
                await self._event(state, "step", step_id, type=step.type,  # type: ignore[attr-defined]
                                  flow=state.flow.name)
                step_id, outcome = await getattr(self, f"_{step.type}")(state, step_id, step)  # type: ignore[attr-defined]
                if outcome:
                    return outcome
            else:
                raise RuntimeError(f"more than {MAX_STEPS} steps in one call")
            raise RuntimeError(f"flow '{state.flow.name}' stopped without an end step")
        except CallerHangup:
            raise
        except Exception as exc:
            log.exception("call %s: step failed", state.call_id)
            await self._event(state, "error", step_id or "", text=repr(exc)[:500])
            target = state.flow.steps[state.flow.spec.on_error]
            if isinstance(target, s.Route):
                return await self._to_people(state, target)
            return await self._to_human(state, "operator", 5, "The automated line failed")

    async def emergency_override(self, state: CallState) -> str:
        """The global switch is on: every new call goes straight to the emergency lane."""
        await state.channel.answer()
        await self._event(state, "override", "", text="emergency override active")
        return await self._to_human(state, "emergency", 10, "Emergency override: all calls")

    async def _event(self, state: CallState, kind: str, step: str, text: str = "",
                     **detail: Any) -> None:
        await self.recorder.event(state.call_id, kind, step, text, **detail)

    # --- speaking and listening -----------------------------------------------------
    def _text(self, state: CallState, prompt_id: str) -> str:
        return state.flow_set.prompt_text(prompt_id, state.lang)

    async def _speak(self, state: CallState, step_id: str, prompt_id: str,
                     interrupt: bool = False) -> str | None:
        text = self._text(state, prompt_id)
        await self._event(state, "prompt", step_id, text=text, prompt=prompt_id, lang=state.lang)
        return await state.channel.say(text, state.lang, state.rate,
                                       interrupt=ALL_KEYS if interrupt else "")

    async def _turn(self, state: CallState, sid: str, heard: Heard,
                    score_voice: bool = False) -> None:
        """What the caller said: the words (masked when stored) and the audio, sealed.
        ``score_voice`` (free answers, which triage reads): how urgent the voice
        sounds against the caller's own first seconds, kept in ``acoustic_urgency``."""
        acoustic: dict[str, Any] = {}
        if heard.audio:
            state.voice.add(heard.audio)
            if score_voice:
                try:
                    found = await asyncio.to_thread(state.voice.urgency)
                except ImportError:  # the light EAGI install: words and keys only
                    log.debug("acoustic urgency unavailable here", exc_info=True)
                else:
                    state.vars["acoustic_urgency"] = max(
                        found.score, float(state.vars.get("acoustic_urgency", 0.0)))
                    acoustic = {"acoustic": found.score,
                                "acoustic_drivers": found.drivers[:3]}
        await self._event(state, "turn", sid, text=heard.text,
                          confidence=round(heard.confidence, 3), barged_in=heard.barged_in,
                          speech_ms=heard.speech_ms, **acoustic)
        if heard.audio:
            await self.recorder.recording(state.call_id, heard.audio)

    async def _read_key(self, state: CallState, step_id: str, prompt_id: str,
                        timeout: float | None, max_digits: int = 1) -> str:
        if state.pending_digit:
            key, state.pending_digit = state.pending_digit, None
            return key
        text = self._text(state, prompt_id)
        await self._event(state, "prompt", step_id, text=text, prompt=prompt_id, lang=state.lang)
        return await state.channel.collect_digits(text, max_digits, state.timeout(timeout),
                                                  state.lang, state.rate)

    def _emergency(self, state: CallState, key: str) -> str | None:
        spec = state.flow.spec
        return spec.emergency_step if spec.emergency_key and key == spec.emergency_key else None

    # --- steps: each returns (next step, outcome if the call is finished) ---------------
    async def _say(self, state: CallState, sid: str, step: s.Say) -> Result:
        digit = await self._speak(state, sid, step.prompt, step.barge_in)
        if digit:  # barge-in: the key answers the next menu
            if target := self._emergency(state, digit):
                await self._event(state, "input", sid, dtmf=digit, emergency_key=True)
                return target, None
            state.pending_digit = digit
        return step.next, None

    async def _play(self, state: CallState, sid: str, step: s.Play) -> Result:
        await self._event(state, "prompt", sid, sound=step.sound)
        digit = await state.channel.play(step.sound, ALL_KEYS if step.barge_in else "")
        if digit:
            if target := self._emergency(state, digit):
                return target, None
            state.pending_digit = digit
        return step.next, None

    async def _menu(self, state: CallState, sid: str, step: s.Menu) -> Result:
        retries = state.retries(step.retries)
        kind = "no_input"
        phrases = [p for o in step.options for p in o.say] or None
        for attempt in range(retries + 1):
            barge_in = bool(state.pending_digit)
            if state.pending_digit:
                key, words = state.pending_digit, ""
                state.pending_digit = None
            else:
                text = self._text(state, step.prompt)
                await self._event(state, "prompt", sid, text=text,
                                  prompt=step.prompt, lang=state.lang)
                heard = await state.channel.hear(text, state.lang, state.rate,
                                                 timeout=state.timeout(step.timeout),
                                                 max_seconds=8, phrases=phrases)
                key, words = heard.dtmf, heard.text
                if words:
                    await self._turn(state, sid, heard)
            if target := self._emergency(state, key[:1]):
                await self._event(state, "input", sid, dtmf=key, emergency_key=True)
                return target, None
            option = _match_option(step, key, words)
            if option is not None:
                await self._event(state, "input", sid, dtmf=key, said=words, barge_in=barge_in,
                                  goto=option.goto)
                await self._assign(state, sid, option.set)
                return option.goto, None
            key = key or words
            kind = "no_input" if not key else "no_match"
            await self._event(state, kind, sid, dtmf=key, attempt=attempt + 1)
            await self._before_retry(state, sid, step, kind, attempt, retries)
        return getattr(step, kind).goto, None

    async def _ask(self, state: CallState, sid: str, step: s.Ask) -> Result:
        retries = state.retries(step.retries)
        kind = "no_input"
        for attempt in range(retries + 1):
            text = self._text(state, step.prompt)
            await self._event(state, "prompt", sid, text=text, prompt=step.prompt)
            heard = await state.channel.hear(
                text, state.lang, state.rate, max_seconds=step.max_seconds,
                timeout=state.timeout(step.timeout),
                phrases=[p for ps in step.grammar.values() for p in ps] or None)
            if heard.dtmf:  # a key during listening is an answer too
                await self._event(state, "input", sid, dtmf=heard.dtmf)
                if target := self._emergency(state, heard.dtmf):
                    return target, None
                if heard.dtmf in step.dtmf_fallback:
                    state.vars[step.into] = step.dtmf_fallback[heard.dtmf]
                    return step.next, None
                kind = "no_match"
            elif heard.text:
                await self._turn(state, sid, heard, score_voice=step.mode == "free")
                value = (self._interpret(step, heard.text)
                         if heard.confidence >= step.min_confidence else None)
                if value is not None:
                    state.vars[step.into] = value
                    state.vars["asr_confidence"] = heard.confidence
                    return step.next, None
                kind = "no_match"
            else:
                kind = "no_input"
            await self._event(state, kind, sid, attempt=attempt + 1)
            await self._before_retry(state, sid, step, kind, attempt, retries)
        return getattr(step, kind).goto, None

    async def _before_retry(self, state: CallState, sid: str, step: s.Menu | s.Ask, kind: str,
                            attempt: int, retries: int) -> None:
        """Silence first gets "are you still there?"; then the step's own sorry-prompt."""
        if attempt >= retries:
            return
        fallback: s.Fallback = getattr(step, kind)
        prompt = fallback.prompt
        if kind == "no_input" and attempt == 0 and STILL_THERE in state.flow_set.prompts.get(
                state.lang, {}):
            prompt = STILL_THERE
        if prompt:
            await self._speak(state, sid, prompt)

    @staticmethod
    def _interpret(step: s.Ask, text: str) -> str | None:
        if step.mode == "free":
            return text
        said = normalise(text)
        for value, phrases in step.grammar.items():
            if any(normalise(p) in said for p in phrases):
                return value
        return None

    async def _triage(self, state: CallState, sid: str, step: s.Triage) -> Result:
        text = str(state.vars.get(step.input, ""))
        decision = self.triager.decide(text, state.lang, {
            k: v for k, v in state.vars.items()
            if k.startswith("caller.") or k in ("asr_confidence", "acoustic_urgency")})
        state.vars.update({"triage.urgency": decision.urgency,
                           "triage.department": decision.department,
                           "triage.priority": decision.queue_priority})
        await self._event(state, "triage", sid, text=text, lang=state.lang,
                          **decision.as_dict())
        await self.recorder.update(state.call_id, department=decision.department)
        if decision.crisis:
            return step.crisis, None
        if decision.ask_safety and step.safety_check:  # the voice sounds urgent, words not
            return step.safety_check, None
        if decision.urgency > 1 and decision.department in step.departments:
            return step.departments[decision.department], None
        # A missing level escalates: the next more urgent branch takes the caller.
        for level in range(decision.urgency, 0, -1):
            if str(level) in step.urgency:
                return step.urgency[str(level)], None  # type: ignore[index]
        return step.urgency["1"], None

    async def _route(self, state: CallState, sid: str, step: s.Route) -> Result:
        return None, await self._to_people(state, step)

    async def _callback(self, state: CallState, sid: str, step: s.Callback) -> Result:
        key = await self._read_key(state, sid, step.prompt, None)
        if target := self._emergency(state, key):
            return target, None
        if key != step.accept_key:
            await self._event(state, "callback", sid, accepted=False, dtmf=key)
            return step.declined, None
        await self._event(state, "callback", sid, accepted=True, queue=step.queue,
                          number=state.channel.caller_number)
        await self._speak(state, sid, step.confirm)
        return step.accepted, None

    async def _survey(self, state: CallState, sid: str, step: s.Survey) -> Result:
        """Scores by keypad or spoken ("five", "五分"); stored per question (dimension)."""
        answers: dict[str, int | None] = {}
        modes: dict[str, str] = {}
        for q in step.questions:
            key, words = "", ""
            if state.pending_digit:
                key, state.pending_digit = state.pending_digit, None
            else:
                text = self._text(state, q.prompt)
                await self._event(state, "prompt", sid, text=text, prompt=q.prompt,
                                  lang=state.lang)
                heard = await state.channel.hear(
                    text, state.lang, state.rate, timeout=state.timeout(step.timeout),
                    max_seconds=4, phrases=score_phrases(state.lang, q.scale))
                key, words = heard.dtmf[:1], heard.text
                if words:
                    await self._turn(state, sid, heard)
            if target := self._emergency(state, key):
                await self._event(state, "input", sid, dtmf=key, emergency_key=True)
                return target, None
            if words and heard.confidence <= 0:  # out of grammar: no number was said
                words = ""
            score = spoken_score(words, state.lang, q.scale) if words else (
                int(key) if key.isdigit() and 1 <= int(key) <= q.scale else None)
            answers[q.id] = score
            modes[q.id] = "speech" if words else "dtmf"
            state.vars[f"survey.{q.id}"] = score
        await self._event(state, "survey", sid, answers=answers, modes=modes,
                          scales={q.id: q.scale for q in step.questions})
        return step.next, None

    async def _followup(self, state: CallState, sid: str, step: s.FollowUp) -> Result:
        now = state.now()
        reason = fill(step.reason, state.vars)
        followup_id = await self.recorder.create_followup(
            number=state.channel.caller_number, kind=step.kind, flow=step.flow,
            due_at=now + span(step.after), deadline_at=now + span(step.deadline),
            reason=reason, language=state.lang, call_id=state.call_id,
            max_attempts=step.max_attempts)
        state.vars["followup.id"] = followup_id
        await self._event(state, "followup", sid, matter=step.kind, after=step.after,
                          flow=step.flow, followup_id=followup_id)
        return step.next, None

    async def _verify(self, state: CallState, sid: str, step: s.Verify) -> Result:
        """Date of birth (YYYYMMDD) by keypad, checked against the registry."""
        retries = state.retries(step.retries)
        for attempt in range(retries + 1):
            prompt = step.prompt if attempt == 0 or not step.retry_prompt else step.retry_prompt
            state.pending_digit = None  # a key pressed earlier is not a date of birth
            digits = await self._read_key(state, sid, prompt, step.timeout, max_digits=8)
            if len(digits) == 1 and (target := self._emergency(state, digits)):
                await self._event(state, "input", sid, dtmf=digits, emergency_key=True)
                return target, None
            ok = len(digits) == 8 and await asyncio.to_thread(
                self.recorder.verify_patient, state.channel.caller_number, digits)
            await self._event(state, "verify", sid, verified=ok, attempt=attempt + 1)
            if ok:
                state.vars["caller.verified"] = True
                return step.verified, None
        return step.failed, None

    async def _history(self, state: CallState, sid: str, step: s.History) -> Result:
        if not state.vars.get("caller.verified"):  # the validator forbids it; belt and braces
            raise RuntimeError("history step reached without verification")
        past = await asyncio.to_thread(self.recorder.history, state.channel.caller_number,
                                       state.call_id)
        await self._event(state, "history", sid, calls=len(past.calls),
                          open_followups=len(past.open_followups))
        if not past.calls and not past.open_followups:
            await self._speak(state, sid, step.none)
            return step.next, None
        await self._speak(state, sid, step.intro)
        for call in past.calls[:step.max_items]:
            topic = department_name(call.topic, state.lang)
            text = fill(self._text(state, step.item), {
                "date": spoken_date(call.started_at, state.lang), "topic": topic,
                "outcome": outcome_words(call.outcome, state.lang)})
            await self._say_text(state, sid, text)
        if step.open_item:
            for matter in past.open_followups[:step.max_items]:
                text = fill(self._text(state, step.open_item), {
                    "kind": matter.kind.replace("_", " "),
                    "due": spoken_date(matter.due_at, state.lang)})
                await self._say_text(state, sid, text)
        return step.next, None

    async def _say_text(self, state: CallState, step_id: str, text: str) -> None:
        await self._event(state, "prompt", step_id, text=text, lang=state.lang)
        await state.channel.say(text, state.lang, state.rate)

    async def _assign(self, state: CallState, sid: str, values: dict[str, Any]) -> None:
        if values:
            state.vars.update(values)
            await self._event(state, "set", sid, **{k.replace(".", "_"): v
                                                     for k, v in values.items()})
            if "choice" in values:
                await self.recorder.update(state.call_id, choice=str(values["choice"]))

    async def _set(self, state: CallState, sid: str, step: s.SetVars) -> Result:
        await self._assign(state, sid, step.vars)
        return step.next, None

    async def _switch(self, state: CallState, sid: str, step: s.Switch) -> Result:
        value = state.vars.get(step.var)
        return step.cases.get(str(value), step.default), None

    async def _branch(self, state: CallState, sid: str, step: s.Branch) -> Result:
        for cond in step.when:
            if test_passes(cond, state.vars.get(cond.var)):
                return cond.goto, None
        return step.else_, None

    async def _goto(self, state: CallState, sid: str, step: s.Goto) -> Result:
        return step.target, None

    async def _subflow(self, state: CallState, sid: str, step: s.Subflow) -> Result:
        state.flow = state.flow_set.flows[step.flow]
        await self._event(state, "subflow", sid, flow=step.flow, version=state.flow.version)
        return state.flow.start, None

    async def _schedule(self, state: CallState, sid: str, step: s.Schedule) -> Result:
        local = state.now().astimezone(ZoneInfo(step.timezone))
        is_open = is_open_at(step, local)
        await self._event(state, "schedule", sid, open=is_open, at=local.isoformat())
        return (step.open if is_open else step.closed), None

    async def _hangup(self, state: CallState, sid: str, step: s.Hangup) -> Result:
        if step.prompt:
            await self._speak(state, sid, step.prompt)
        await state.channel.hangup()
        return None, "goodbye"

    # --- people ------------------------------------------------------------------
    async def _to_people(self, state: CallState, step: s.Route) -> str:
        summary = fill(step.summary or "", state.vars)
        if state.vars.get("caller.history"):  # the agent sees what the caller said before
            # no colon: some SIP phones cut a header value at the first one
            summary = f"{summary} | history {state.vars['caller.history']}".lstrip(" |")
        if step.extension:
            await self._event(state, "route", "", extension=step.extension, summary=summary)
            await self.recorder.update(state.call_id, queue=f"ext:{step.extension}",
                                       outcome="routed")
            result = await state.channel.dial(step.extension, summary=summary,
                                              call_id=state.call_id)
            if result.answered:
                await self.recorder.update(state.call_id, outcome="answered", agent=result.agent)
                await state.channel.hangup()
                return "answered"
            return await self._to_human(state, "operator", max(step.priority, 3), summary)
        if step.emergency:
            return await self._to_human(state, "emergency", 10, summary)
        if step.triaged:
            dept = str(state.vars.get("triage.department", "general_medicine"))
            prio = int(state.vars.get("triage.priority", step.priority))
            return await self._to_human(state, dept, max(prio, step.priority), summary)
        return await self._to_human(state, str(step.queue), step.priority, summary)

    async def _to_human(self, state: CallState, queue: str, priority: int, summary: str) -> str:
        """Queue the caller; if the queue cannot take them, escalate until someone does."""
        result: QueueOutcome | None = None
        for attempt, q in enumerate(escalation_chain(queue)):
            await self._event(state, "route", q, queue=q, priority=priority, summary=summary,
                              escalation=attempt > 0)
            await self.recorder.update(state.call_id, queue=q, queue_priority=priority,
                                       department=q if attempt else None, outcome="routed")
            result = await state.channel.transfer_to_queue(
                q, priority, summary=summary, call_id=state.call_id)
            await self._event(state, "queue", q, queue=q, priority=priority,
                              status=result.status, agent=result.agent)
            if result.answered:
                await self.recorder.update(state.call_id, outcome="answered", agent=result.agent)
                await state.channel.hangup()
                return "answered"
        # Not marked done: the dialplan's own fallback (operator, emergency) takes over.
        return f"unanswered:{result.status if result else 'none'}"


def _match_option(step: s.Menu, key: str, words: str) -> s.MenuOption | None:
    """The option chosen by a key, or by words containing one of its phrases."""
    if key:
        return next((o for o in step.options if o.key == key), None)
    if words:
        said = normalise(words)
        for option in step.options:
            if any(normalise(p) and normalise(p) in said for p in option.say):
                return option
    return None


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
    said = normalise(words)
    table = SCORE_WORDS.get(lang, SCORE_WORDS["en-US"])[:scale]
    tokens = re.findall(r"\w+", words.lower())
    for score in range(len(table), 0, -1):
        for w in map(normalise, table[score - 1]):
            if w and (w == said or w in tokens  # "five", "I'd say five"
                      or (len(w) > 1 and not w.isascii() and w in said)):  # "我给五分"
                return score
    return None


def spoken_date(moment: dt.datetime, lang: str) -> str:
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    if lang == "zh-CN":
        return f"{local.month}月{local.day}日"
    return local.strftime("%d %B").lstrip("0")


OUTCOME_WORDS = {  # by the call's outcome, up to a colon ("unanswered:TIMEOUT")
    "en-US": {"answered": "you spoke with our staff", "goodbye": "the line answered you",
              "caller_hangup": "the call ended early",
              "routed": "the call ended while you waited for our staff",
              "unanswered": "our staff could not take the call",
              "other": "the call was recorded"},
    "zh-CN": {"answered": "工作人员接听了您的电话", "goodbye": "自助服务已处理",
              "caller_hangup": "通话提前结束", "routed": "您在等候转接时通话结束",
              "unanswered": "当时工作人员未能接听", "other": "通话已记录"},
}


def outcome_words(outcome: str | None, lang: str) -> str:
    words = OUTCOME_WORDS.get(lang, OUTCOME_WORDS["en-US"])
    return words.get((outcome or "").split(":")[0], words["other"])


DAY_INDEX = {d: i for i, d in enumerate(s.DAYS)}


def is_open_at(step: s.Schedule, local: dt.datetime) -> bool:
    if local.date().isoformat() in step.holidays:
        return False
    weekday = local.weekday()
    hhmm = local.strftime("%H:%M")
    for days, ranges in step.hours.items():
        first, _, last = days.partition("-")
        lo, hi = DAY_INDEX[first], DAY_INDEX[last or first]
        if lo <= weekday <= hi:
            for r in ranges:
                start, end = r.split("-")
                if start <= hhmm < end:
                    return True
    return False


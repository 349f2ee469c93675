"""The red-flag screen: every utterance at every listening step, before the step reads it.

Callers do not say "emergency"; they say what is happening, at whatever moment
they are asked anything ("my husband collapsed" at the language menu). So the
words of every answer go through the clinical rules first. A red flag or crisis
talk ends the step at once: one short line, then the emergency (or crisis) team,
whatever the step was waiting for. Only the words count here, with the patient's
age group: a repeat caller or an urgent-sounding voice raises a triage decision,
but does not turn "pharmacy" at a menu into an emergency.

A flow may narrow the screen (``red_flag_screen: free_answers``, a warned
setting); it cannot be switched off at the questions that take free speech.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr import events as ev
from ivr.triage.decision import TriageDecision

if TYPE_CHECKING:
    from ivr.flows.context import StepContext
    from ivr.flows.steps.base import Result

# Said before the transfer, when the prompt catalog has no text of its own
# (prompt ids ``red_flag_transfer`` / ``crisis_transfer``).
LINES = {
    "emergency": {
        "en-US": "That sounds urgent. I am putting you through to our emergency team now. "
                 "Please stay on the line.",
        "zh-CN": "您的情况可能很紧急，现在为您转接急诊团队，请不要挂机。",
        "ko-KR": "위급한 상황으로 보입니다. 지금 응급팀으로 연결합니다. 끊지 마세요.",
    },
    "crisis": {
        "en-US": "Thank you for telling me. I am putting you through to someone who can "
                 "help, right now. Please stay on the line.",
        "zh-CN": "谢谢您告诉我。现在为您转接可以帮助您的工作人员，请不要挂机。",
        "ko-KR": "말씀해 주셔서 고맙습니다. 지금 도와드릴 수 있는 분께 연결합니다. 끊지 마세요.",
    },
}
PROMPT_IDS = {"emergency": "red_flag_transfer", "crisis": "crisis_transfer"}
CONTEXT_KEYS = ("asr_confidence", "caller.age_group")  # words and the patient, no raises


def read_words(ctx: StepContext, words: str, confidence: float) -> TriageDecision | None:
    """What the rules make of an answer's words (None for no words): the screen's
    reading, which a menu then reuses to understand words that are no option."""
    if not words.strip():
        return None
    context: dict[str, object] = {k: ctx.vars[k] for k in CONTEXT_KEYS if k in ctx.vars}
    context["asr_confidence"] = confidence
    return ctx.triager.decide(words, ctx.lang, context)


def screen(ctx: StepContext, words: str, confidence: float) -> TriageDecision | None:
    """The decision when ``words`` hold a red flag or crisis talk, else None."""
    decision = read_words(ctx, words, confidence)
    return decision if decision is not None and decision.urgency == 1 else None


async def divert(ctx: StepContext, words: str, decision: TriageDecision) -> Result:
    """Crisis talk: the flow's crisis protocol (``crisis_step``) when it has one.
    Otherwise one short line, then the emergency or crisis team: the call's outcome."""
    from ivr.flows.people import to_human

    lane = "crisis" if decision.crisis else "emergency"
    ctx.vars.update({"triage.urgency": decision.urgency, "triage.department": lane,
                     "triage.priority": decision.queue_priority, "utterance": words})
    await ctx.record(ev.Triage.from_decision(ctx.sid, words, ctx.lang, decision))
    await ctx.record(ev.RedFlag(step=ctx.sid, text=words, lane=lane,
                                reasons=list(decision.reasons)))
    protocol = ctx.state.flow.spec.crisis_step
    if lane == "crisis" and protocol:
        return protocol, None
    prompt = PROMPT_IDS[lane]
    if ctx.has_prompt(prompt):
        await ctx.speak(prompt)
    else:
        await ctx.say_text(LINES[lane].get(ctx.lang, LINES[lane]["en-US"]))
    summary = (f"{'Crisis' if lane == 'crisis' else 'Red flag'} heard at {ctx.sid}: "
               f"'{_clip(words)}' - {headline(decision)}")
    return None, await to_human(ctx, lane, 10, summary.replace(":", " -"))


def _clip(words: str, most: int = 60) -> str:
    words = " ".join(words.split())
    return words if len(words) <= most else words[:most - 1] + "…"


def headline(decision: TriageDecision) -> str:
    """The reason an agent reads first: the red flag or crisis phrase the rules heard,
    else the rule or the meaning screen that raised it to 1, else the last reason."""
    reasons = decision.reasons
    for starts in (("red flag", "crisis"), ("rule ",), ("meaning close",)):
        found = next((r for r in reasons if r.startswith(starts)
                      and (starts != ("rule ",) or r.endswith("level 1"))), None)
        if found:
            return found.split(" (similarity")[0]
    return reasons[-1] if reasons else "red flag"

"""Handing the caller to people: queues with escalation, extensions, the emergency lane.

The law of the engine: a queue that cannot take the caller escalates to the
operator, then to the emergency team; nothing here ends a call in silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr import events as ev
from ivr.flows.context import fill
from ivr.telephony.channel import QueueOutcome
from ivr.telephony.handoff import Handoff, handoff_for

if TYPE_CHECKING:
    from ivr.flows.context import StepContext
    from ivr.flows.steps.route import Step as Route


def escalation_chain(queue: str) -> list[str]:
    """Queues to try, in order, when ``queue`` cannot take the caller."""
    if queue == "emergency":
        return ["emergency"]
    if queue in ("operator", "crisis"):
        return [queue, "emergency"]
    return [queue, "operator", "emergency"]


async def to_people(ctx: StepContext, step: Route) -> str:
    """Where a ``route`` step sends the caller; returns the call's outcome."""
    state = ctx.state
    summary = fill(step.summary or "", state.vars)
    if state.vars.get("caller.history"):  # the agent sees what the caller said before
        # no colon: some SIP phones cut a header value at the first one
        summary = f"{summary} | history {state.vars['caller.history']}".lstrip(" |")
    if step.extension:
        await ctx.record(ev.Route(extension=step.extension, summary=summary))
        result = await state.channel.dial(step.extension, summary=summary,
                                          call_id=state.call_id)
        where = f"ext:{step.extension}"
        await ctx.record(ev.QueueResult(step=where, queue=where, priority=step.priority,
                                        status=result.status, agent=result.agent))
        if result.answered:
            await state.channel.hangup()
            return "answered"
        return await to_human(ctx, "operator", max(step.priority, 3), summary)
    if step.emergency:
        return await to_human(ctx, "emergency", 10, summary)
    if step.triaged:
        dept = str(state.vars.get("triage.department", "general_medicine"))
        prio = int(state.vars.get("triage.priority", step.priority))
        return await to_human(ctx, dept, max(prio, step.priority), summary)
    return await to_human(ctx, str(step.queue), step.priority, summary)


def agent_handoff(variables: dict[str, Any], queue: str, lang: str) -> Handoff:
    """What the agent of ``queue`` is handed: the handset's caller-ID name, the whisper
    text (spoken only with agents.whisper) and the call's preferences (language, a
    child caller). Per attempt: an escalation names its own department."""
    try:  # the triage rules' words that are not symptoms ('child'): cached, read once
        # (imported here: ivr.reports pulls the report stack, which ivr-eagi's root lacks)
        from ivr.reports.labels import not_symptoms, symptom_names_zh

        skip, names_zh = not_symptoms(), symptom_names_zh()
    except Exception:  # labels only: the handoff goes on without them
        skip, names_zh = frozenset(), {}
    return handoff_for(variables, queue, lang, whisper=True, not_symptoms=skip,
                       names_zh=names_zh)


async def to_human(ctx: StepContext, queue: str, priority: int, summary: str) -> str:
    """Queue the caller; if the queue cannot take them, escalate until someone does."""
    state = ctx.state
    result: QueueOutcome | None = None
    for attempt, q in enumerate(escalation_chain(queue)):
        await ctx.record(ev.Route(step=q, queue=q, priority=priority, summary=summary,
                                  escalation=attempt > 0))
        result = await state.channel.transfer_to_queue(
            q, priority, summary=summary, call_id=state.call_id,
            handoff=agent_handoff(state.vars, q, state.lang))
        await ctx.record(ev.QueueResult(step=q, queue=q, priority=priority,
                                        status=result.status, agent=result.agent))
        if result.answered:
            await state.channel.hangup()
            return "answered"
    # Not marked done: the dialplan's own fallback (operator, emergency) takes over.
    return f"unanswered:{result.status if result else 'none'}"

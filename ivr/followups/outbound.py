"""The ``outbound`` AGI route: the patient answered a follow-up call; run its flow.

``agi://engine:4573/outbound?followup=<id>`` (``[ivr-outbound]`` in extensions.conf).
The call gets a complete record like any inbound one (direction ``outbound``), and
the attempt row names that record. What the patient chose is the ``followup.outcome``
call variable the flow sets (a ``set`` step), as the call left it; with how the call
ended it becomes the attempt's outcome (:func:`ivr.followups.outcomes.attempt_outcome`).

Every failure ends with a person: without a follow-up, a flow or a working engine,
this route returns without ``IVR_DONE`` and the dialplan puts the patient through to
the operator queue, as for inbound calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from ivr import events as ev
from ivr.calls import run_call
from ivr.flows.model import FlowSet
from ivr.flows.runner import FlowRunner
from ivr.followups import outcomes as o
from ivr.followups import store
from ivr.store.models import FollowUp
from ivr.store.recorder import CallRecorder
from ivr.telephony import variables as v
from ivr.telephony.channel import AgiCallControl

log = logging.getLogger(__name__)

ROUTE = "outbound"
ARG_FOLLOWUP = "followup"


class CallTracker(Protocol):
    """The scheduler's side: it keeps the slot taken while the patient is on the line."""

    def call_started(self, followup_id: str) -> bool: ...
    def call_ended(self, followup_id: str) -> None: ...


async def to_operator(channel: AgiCallControl, summary: str) -> None:
    """Leave the call to the dialplan's fallback (operator, then emergency) with a note
    for whoever answers."""
    try:
        await channel.set_variable(v.IVR_SUMMARY, summary[:200])
    except Exception:  # the patient hung up already: nothing more to say
        log.debug("could not set the summary for the operator", exc_info=True)


async def run_followup_call(recorder: CallRecorder, runner: FlowRunner, flow_set: FlowSet,
                            channel: AgiCallControl, *, followup_id: str, uniqueid: str,
                            channel_name: str, override_file: Path,
                            retry_after: Sequence[timedelta] = store.DEFAULT_RETRY_AFTER,
                            tracker: CallTracker | None = None,
                            on_start: Callable[[str], None] | None = None) -> str | None:
    """Run the follow-up's flow on the answered call and record the attempt.

    Returns the attempt's outcome (None if there is no such follow-up)."""
    if tracker is not None:
        tracker.call_started(followup_id)
    try:
        item = (await asyncio.to_thread(store.get, recorder.engine, followup_id)
                if followup_id else None)
        if item is None:
            log.error("outbound call %s: no follow-up %r: the operator takes the call",
                      uniqueid, followup_id[:8])
            await to_operator(channel, "Follow-up call: its record was not found; ask the "
                              "patient why we called")
            return None
        return await _run(recorder, runner, flow_set, channel, item, uniqueid=uniqueid,
                          channel_name=channel_name, override_file=override_file,
                          retry_after=retry_after, on_start=on_start)
    finally:
        if tracker is not None:
            tracker.call_ended(followup_id)


async def _run(recorder: CallRecorder, runner: FlowRunner, flow_set: FlowSet,
               channel: AgiCallControl, item: FollowUp, *, uniqueid: str,
               channel_name: str, override_file: Path, retry_after: Sequence[timedelta],
               on_start: Callable[[str], None] | None) -> str:
    short = item.id[:8]
    topic = item.kind.replace("_", " ")
    flow = flow_set.flows.get(item.flow)
    call_id: str | None = None
    outcome = o.OPERATOR_FALLBACK
    try:
        if flow is None:
            log.error("follow-up %s: no flow %r: the operator takes the call", short, item.flow)
            await to_operator(channel, f"Follow-up call about {topic}: the automated call "
                              "could not run; ask how the patient is")
            return outcome
        try:
            number = recorder.privacy.open_number(item.number_sealed, item.id)
        except Exception as exc:  # the record then shows 'unknown'; the call goes on
            log.warning("follow-up %s: number %s cannot be opened (%s)", short,
                        item.number_masked, type(exc).__name__)
            number = ""
        # Asterisk gives the engine's leg the hospital's caller id: the steps that look the
        # caller up (notices, verify, history...) must see the patient called
        channel.caller_number = number
        lang = item.language if item.language in flow.spec.languages else flow.language
        attempt = item.attempts + 1
        noted: list[asyncio.Task[None]] = []

        def started(new_call_id: str) -> None:
            nonlocal call_id
            call_id = new_call_id
            if on_start is not None:
                on_start(new_call_id)
            noted.append(asyncio.ensure_future(_note(recorder, new_call_id, item, lang,
                                                     attempt)))

        log.info("follow-up %s: %s answered; flow %s (%s), attempt %d", short,
                 item.number_masked, flow.name, lang, attempt)
        final: dict[str, Any] = {}
        call_outcome = await run_call(
            recorder, runner, flow_set, flow, channel, uniqueid=uniqueid,
            channel_name=recorder.privacy.mask(channel_name), caller_number=number,
            override_file=override_file,
            on_start=started, direction="outbound",
            extra_vars={"lang": lang, "followup.id": item.id, "followup.kind": item.kind,
                        "followup.topic": topic, "followup.reason": item.reason or topic,
                        "followup.attempt": attempt},
            vars_out=final)
        for failed in await asyncio.gather(*noted, return_exceptions=True):
            if failed is not None:
                log.warning("follow-up %s: call record note failed: %r", short, failed)
        chosen = final.get(o.OUTCOME_VAR)  # the call's own variables: no database read
        outcome = o.attempt_outcome(str(chosen) if chosen else None, call_outcome)
        return outcome
    finally:
        try:
            done = await asyncio.to_thread(store.record_attempt, recorder.engine, item.id,
                                           outcome, call_id, retry_after=retry_after)
            log.info("follow-up %s: %s (%s); now %s", short, outcome, item.number_masked,
                     done.status)
        except Exception:
            log.exception("follow-up %s: could not record outcome %s", short, outcome)


async def _note(recorder: CallRecorder, call_id: str, item: FollowUp, lang: str,
                attempt: int) -> None:
    """The call record says which follow-up it was for, and in which language. Runs as a
    task from ``run_call``'s on_start: the event takes its place in the call's sequence
    (allocated as the task starts, at run_call's next await) before the flow's steps."""
    await recorder.record(call_id, ev.FollowUpCall(followup_id=item.id, followup_kind=item.kind,
                                                   attempt=attempt, flow=item.flow))
    await recorder.update(call_id, language=lang)

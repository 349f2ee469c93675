"""One inbound call from first ring to closed record, whatever the channel (FastAGI
or EAGI): the caller's data, the emergency override, the flow run, and a record
that is complete however the call ends.

Set-up is on the caller's time, so the call is answered first and the caller's
past and the emergency switch are read meanwhile (one thread hop); the record's
writes go behind the call (``ivr.store.write_behind``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ivr import events as ev
from ivr.flows.model import Flow, FlowSet
from ivr.flows.runner import CallState, FlowRunner
from ivr.obs.logs import bind_call
from ivr.store.history import CallerHistory
from ivr.store.models import utcnow
from ivr.store.recorder import CallRecorder
from ivr.telephony import variables as v
from ivr.telephony.channel import AgiCallControl
from ivr.telephony.errors import CallerHangup

log = logging.getLogger(__name__)


async def run_call(recorder: CallRecorder, runner: FlowRunner, flow_set: FlowSet, flow: Flow,
                   channel: AgiCallControl, *, uniqueid: str, channel_name: str,
                   caller_number: str, override_file: Path,
                   on_start: Callable[[str], None] | None = None,
                   direction: str = "inbound",
                   extra_vars: dict[str, Any] | None = None,
                   vars_out: dict[str, Any] | None = None,
                   handed_off: Callable[[str], Awaitable[bool]] | None = None) -> str:
    """Run ``flow`` on the call; returns the outcome once the record is closed.
    ``vars_out`` receives the call variables as the call left them (what the caller
    chose), even when the records are only journalled. ``handed_off(call_id)``, asked
    when the AGI session ends while the caller is with an agent: True once a caller who
    was moved on (an emergency room, ivr/emergency/) is done there - not a hang-up."""
    call_id = await recorder.start(uniqueid, channel_name, caller_number, flow.name,
                                   flow_set.version, language=flow.language,
                                   direction=direction)
    bind_call(call_id)  # every log record of this call carries its id (ivr.obs.logs)
    if on_start is not None:
        on_start(call_id)
    lookup = asyncio.ensure_future(asyncio.to_thread(
        _before_the_flow, recorder, caller_number, call_id, override_file))
    outcome = "error"
    state: CallState | None = None
    try:
        answered = False
        try:
            await channel.answer()  # while the past is read
            answered = True
        except CallerHangup:
            raise
        except Exception:  # the runner answers again, and sends any failure to a person
            log.warning("call %s: answer failed", call_id, exc_info=True)
        past, override = await lookup
        state = CallState(call_id, flow_set, flow, channel, answered=answered, vars={
            "caller.number": caller_number,
            **past.as_vars(utcnow()),
            "lang": flow.language,
            **(extra_vars or {}),
        })
        if past.calls or past.open_followups:
            await recorder.record(call_id, ev.History(calls=len(past.calls),
                                                      open_followups=len(past.open_followups),
                                                      summary=past.summary()))
        if override:
            outcome = await runner.emergency_override(state)
        else:
            outcome = await runner.run(state)
    except CallerHangup:
        outcome = "caller_hangup"
        agent = None
        with contextlib.suppress(Exception):
            agent = await channel.get_variable(v.MEMBERINTERFACE, after_hangup=True)
        # with an agent, the session also ends when the caller is moved into an emergency
        # room: then the record stays open until they leave it, and it is no hang-up
        if not (agent and handed_off is not None and await handed_off(call_id)):
            await recorder.record(call_id, ev.Hangup(text="caller hung up"))
        if agent:  # hung up after talking to an agent: the call was answered
            outcome = "answered"
            await recorder.update(call_id, agent=agent)
    finally:
        if not lookup.done():
            with contextlib.suppress(Exception):
                await lookup  # a thread cannot be cancelled: let it end before closing
        if vars_out is not None and state is not None:
            vars_out.update(state.vars)
        await recorder.finish(call_id, outcome)
    return outcome


def _before_the_flow(recorder: CallRecorder, caller_number: str, call_id: str,
                     override_file: Path) -> tuple[CallerHistory, bool]:
    """The caller's past (without this call) and the emergency switch, in one thread."""
    try:
        past = recorder.history(caller_number, exclude_call=call_id)
    except Exception:  # records down (journalling): the call goes on without history
        log.warning("caller history unavailable", exc_info=True)
        past = CallerHistory()
    return past, override_file.exists()

"""One inbound call from first ring to closed record, whatever the channel (FastAGI
or EAGI): the caller's data, the emergency override, the flow run, and a record
that is complete however the call ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr import events as ev
from ivr.flows.model import Flow, FlowSet
from ivr.flows.runner import CallState, FlowRunner
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
                   vars_out: dict[str, Any] | None = None) -> str:
    """Run ``flow`` on the call; returns the outcome once the record is closed.
    ``vars_out`` receives the call variables as the call left them (what the caller
    chose), even when the records are only journalled."""
    try:  # before the record exists, so this call is not its own history
        past = await asyncio.to_thread(recorder.history, caller_number)
    except Exception:  # records down (journalling): the call goes on without history
        log.warning("caller history unavailable", exc_info=True)
        past = CallerHistory()
    call_id = await recorder.start(uniqueid, channel_name, caller_number, flow.name,
                                   flow_set.version, language=flow.language,
                                   direction=direction)
    if on_start is not None:
        on_start(call_id)
    outcome = "error"
    state: CallState | None = None
    try:
        state = CallState(call_id, flow_set, flow, channel, vars={
            "caller.number": caller_number,
            **past.as_vars(utcnow()),
            "lang": flow.language,
            **(extra_vars or {}),
        })
        if past.calls or past.open_followups:
            await recorder.record(call_id, ev.History(calls=len(past.calls),
                                                      open_followups=len(past.open_followups),
                                                      summary=past.summary()))
        if await asyncio.to_thread(override_file.exists):
            outcome = await runner.emergency_override(state)
        else:
            outcome = await runner.run(state)
    except CallerHangup:
        outcome = "caller_hangup"
        await recorder.record(call_id, ev.Hangup(text="caller hung up"))
        agent = None
        with contextlib.suppress(Exception):
            agent = await channel.get_variable(v.MEMBERINTERFACE, after_hangup=True)
        if agent:  # hung up after talking to an agent: the call was answered
            outcome = "answered"
            await recorder.update(call_id, agent=agent)
    finally:
        if vars_out is not None and state is not None:
            vars_out.update(state.vars)
        await recorder.finish(call_id, outcome)
    return outcome

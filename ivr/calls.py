"""One inbound call from first ring to closed record, whatever the channel (FastAGI
or EAGI): the caller's data, the emergency override, the flow run, and a record
that is complete however the call ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from ivr.flows.model import Flow, FlowSet
from ivr.flows.runner import CallState, FlowRunner
from ivr.store.recorder import CallRecorder
from ivr.telephony import variables as v
from ivr.telephony.channel import AgiCallControl
from ivr.telephony.errors import CallerHangup


async def run_call(recorder: CallRecorder, runner: FlowRunner, flow_set: FlowSet, flow: Flow,
                   channel: AgiCallControl, *, uniqueid: str, channel_name: str,
                   caller_number: str, override_file: Path,
                   on_start: Callable[[str], None] | None = None) -> str:
    """Run ``flow`` on the call; returns the outcome once the record is closed."""
    repeat = await asyncio.to_thread(recorder.recent_calls, caller_number)
    call_id = await recorder.start(uniqueid, channel_name, caller_number, flow.name,
                                   flow_set.version)
    if on_start is not None:
        on_start(call_id)
    outcome = "error"
    try:
        state = CallState(call_id, flow_set, flow, channel, vars={
            "caller.number": caller_number,
            "caller.repeat_calls_24h": repeat,
            "lang": flow.language,
        })
        if await asyncio.to_thread(override_file.exists):
            outcome = await runner.emergency_override(state)
        else:
            outcome = await runner.run(state)
    except CallerHangup:
        outcome = "caller_hangup"
        await recorder.event(call_id, "hangup", text="caller hung up")
        agent = None
        with contextlib.suppress(Exception):
            agent = await channel.get_variable(v.MEMBERINTERFACE, after_hangup=True)
        if agent:  # hung up after talking to an agent: the call was answered
            outcome = "answered"
            await recorder.update(call_id, agent=agent)
    finally:
        await recorder.finish(call_id, outcome)
    return outcome

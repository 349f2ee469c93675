"""Simulated patients: AMI Originate of a Local channel whose far side (in the
``sim-patient`` context of extensions_sim.conf) answers, presses keys and talks.
The near side enters ``hospital-inbound`` exactly like a call from a trunk."""

from __future__ import annotations

import time
import uuid

from ivr.telephony.ami import AmiClient

SCENARIOS = {
    "press1": "appointments", "press2": "pharmacy", "press3": "results",
    "press4": "nurse", "press9": "emergency", "silent": "says nothing (no-input path)",
}


async def place_patient_call(ami: AmiClient, scenario: str, caller_number: str,
                             name: str = "Patient", context: str = "hospital-inbound",
                             exten: str = "s") -> str:
    """Start the call; returns the Asterisk uniqueid the engine will see."""
    # shaped like Asterisk's own (name-epoch.sequence): FastAGI refuses any other
    uniqueid = f"sim-{int(time.time())}.{uuid.uuid4().int % 10**12}"
    await ami.originate(
        channel=f"Local/{scenario}@sim-patient",
        context=context, exten=exten,
        caller_id=f'"{name}" <{caller_number}>',
        channel_id=uniqueid,
        timeout_ms=15000,
    )
    return uniqueid

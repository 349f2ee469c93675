"""A queue member's state as a supervisor reads it, from what app_queue reports.

Asterisk reports a member's device as a number (``Status``, ``enum ast_device_state``)
with ``Paused``/``PausedReason`` and ``InCall`` beside it, in QueueMemberStatus,
QueueMemberAdded, QueueMemberPause and the QueueMember events of a QueueStatus action:

    Event: QueueMemberStatus
    Queue: emergency
    MemberName: Agent 1002
    Interface: PJSIP/1002
    StateInterface: PJSIP/1002
    Status: 6
    Paused: 0
    PausedReason:
    InCall: 0

Pure: the board feeds it the event dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class AgentState(StrEnum):
    REGISTERED = "registered"  # the handset is there and free
    UNAVAILABLE = "unavailable"  # not registered (or an unknown device)
    RINGING = "ringing"
    IN_CALL = "in_call"
    PAUSED = "paused"


# enum ast_device_state (include/asterisk/devicestate.h)
_DEVICE: Mapping[str, AgentState] = {
    "0": AgentState.UNAVAILABLE,  # UNKNOWN: PJSIP says so for a contact never seen
    "1": AgentState.REGISTERED,  # NOT_INUSE
    "2": AgentState.IN_CALL,  # INUSE
    "3": AgentState.IN_CALL,  # BUSY
    "4": AgentState.UNAVAILABLE,  # INVALID
    "5": AgentState.UNAVAILABLE,  # UNAVAILABLE
    "6": AgentState.RINGING,  # RINGING
    "7": AgentState.RINGING,  # RINGINUSE
    "8": AgentState.IN_CALL,  # ONHOLD
}


def member_state(event: Mapping[str, str]) -> AgentState:
    """The state a member event says; a pause outranks the device (the supervisor needs
    to see who chose not to take calls), except a call already in progress."""
    device = _DEVICE.get(str(event.get("Status", "")), AgentState.UNAVAILABLE)
    if str(event.get("InCall", "0")) == "1" and device != AgentState.RINGING:
        device = AgentState.IN_CALL
    if str(event.get("Paused", "0")) == "1" and device != AgentState.IN_CALL:
        return AgentState.PAUSED
    return device


def extension_of(interface: str) -> str:
    """``PJSIP/1002`` -> ``1002``; ``Local/1002@agents/n`` -> ``1002``; else as given."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split("-", 1)[0] if "/" in interface else interface


def member_interface(event: Mapping[str, str]) -> str:
    """The member's interface: ``Interface`` in member events, ``Location`` in QueueStatus."""
    return str(event.get("Interface") or event.get("Location") or "")


def member_name(event: Mapping[str, str]) -> str:
    return str(event.get("MemberName") or event.get("Name") or "")

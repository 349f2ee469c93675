"""Start the emergency room from the console: contract 5 of issue 14.

Both actions are one AMI Redirect into ``[ivr-emergency-room]`` (extensions_emergency.conf),
the same extensions the handset's feature codes (*9, *8) reach with ChannelRedirect: the
caller's branch rings the emergency team into the room and keeps the caller connected
until a human is there. Nothing here waits for the team: the room's steps arrive as
UserEvents (:mod:`ivr.emergency.rooms`).
"""

from __future__ import annotations

from ivr.telephony import variables as v
from ivr.telephony.ami import AmiClient

ROOM_CONTEXT = "ivr-emergency-room"


def room_exten(role: str, room: str) -> str:
    """``caller-<room>`` / ``staff-<room>``: the extension each side enters the room by.

    >>> room_exten("caller", "4f1c")
    'caller-4f1c'
    """
    if role not in ("caller", "staff"):
        raise ValueError(f"unknown room role {role!r}")
    if not room or any(c in room for c in ",|/@ \t\r\n"):
        raise ValueError(f"bad room name {room!r}: the call id, as IVR_CALL_ID holds it")
    return f"{role}-{room}"


async def _announce(ami: AmiClient, room: str, mode: str, caller_channel: str,
                    agent_channel: str = "") -> None:
    """The same 'requested' step the handset's feature code raises, for the call record."""
    await ami.action({"Action": "UserEvent", "UserEvent": v.CONFERENCE_EVENT, "Room": room,
                      "State": "requested", "By": "console", "Mode": mode,
                      "Agent": agent_channel, "Caller": caller_channel})


async def bring_emergency_team(ami: AmiClient, caller_channel: str, agent_channel: str,
                               room: str) -> None:
    """A three-way call: caller and agent into the room (``room``: the call id), where
    the caller's branch rings the emergency team. If nobody from the team answers,
    caller and agent stay together; if the agent leaves first, the caller waits in the
    room for the team, then goes to the fallback - never alone in silence."""
    await _announce(ami, room, "conference", caller_channel, agent_channel)
    await move_into_room(ami, caller_channel, agent_channel, room)


async def move_into_room(ami: AmiClient, caller_channel: str, agent_channel: str,
                         room: str) -> None:
    """The Redirect itself, also done for the handset's *9 (the engine hears its
    UserEvent): one action, so both leave the agent's bridge together and neither is
    hung up by the bridge ending."""
    caller_exten, staff_exten = room_exten("caller", room), room_exten("staff", room)
    await ami.action({"Action": "Redirect", "Channel": caller_channel,
                      "Context": ROOM_CONTEXT, "Exten": caller_exten, "Priority": "1",
                      "ExtraChannel": agent_channel, "ExtraContext": ROOM_CONTEXT,
                      "ExtraExten": staff_exten, "ExtraPriority": "1"})


async def transfer_to_emergency(ami: AmiClient, caller_channel: str, room: str) -> None:
    """Hand the caller to the emergency team in one action: the caller goes into the room
    (hold music) while the team is rung, and the agent's leg ends. If nobody at all can
    come, the caller goes on to the fallback (operator, emergency, last resort)."""
    await _announce(ami, room, "transfer", caller_channel)
    await ami.action({"Action": "Redirect", "Channel": caller_channel,
                      "Context": ROOM_CONTEXT, "Exten": room_exten("caller", room),
                      "Priority": "1"})

"""Listen, whisper, barge: a supervisor joins a live call from their own handset.

An AMI Originate rings the supervisor's phone (``PJSIP/<extension>``); when they pick
up, their channel runs ``ChanSpy`` on the target channel:

- ``listen`` (``q``): they hear both sides, nobody hears them;
- ``whisper`` (``qw``): they hear both sides, and only the target channel's party
  hears them - spy on the AGENT's channel to coach the agent without the caller
  hearing;
- ``barge`` (``qB``): they hear both sides and both sides hear them.

``E`` ends the spy when the target hangs up. Nothing here checks who may spy: the
console or wallboard does (role check and audit entry) before calling :func:`spy`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from ivr.telephony.errors import AmiError

SpyMode = Literal["listen", "whisper", "barge"]
OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
RING_MS = 30000  # the supervisor's phone rings this long
EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
# a channel name as Asterisk makes them (Tech/resource-suffix): nothing ChanSpy's
# argument parser or the dialplan would read as a separator
CHANNEL = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_@;.:+-]{1,120}$")


class SpyError(ValueError):
    """A spy request that cannot be right (mode, extension or channel)."""


def spy_originate(supervisor_extension: str, target_channel: str, mode: str,
                  channel_id: str) -> dict[str, str]:
    """The AMI Originate action for :func:`spy` (checked; raises :class:`SpyError`).

    >>> spy_originate("1004", "PJSIP/1001-0000002a", "whisper", "spy-1")["Data"]
    'PJSIP/1001-0000002a,qwE'
    """
    if mode not in OPTIONS:
        raise SpyError(f"spy mode must be one of {', '.join(OPTIONS)}, not {mode!r}")
    if not EXTENSION.match(supervisor_extension):
        raise SpyError(f"not a handset extension: {supervisor_extension!r}")
    if not CHANNEL.match(target_channel):
        raise SpyError(f"not an Asterisk channel name: {target_channel!r}")
    return {"Action": "Originate", "Channel": f"PJSIP/{supervisor_extension}",
            "Application": "ChanSpy", "Data": f"{target_channel},{OPTIONS[mode]}",
            "CallerID": f'"{mode.capitalize()}" <{supervisor_extension}>',
            "ChannelId": channel_id, "Async": "true", "Timeout": str(RING_MS)}


async def spy(ami: Any, supervisor_extension: str, target_channel: str,
              mode: SpyMode = "listen") -> str:
    """Ring the supervisor's handset; on answer it spies on ``target_channel``. Returns
    the uniqueid of the supervisor's leg (hang it up to stop). Raises
    :class:`SpyError` for a bad request, :class:`AmiError` if Asterisk refuses."""
    channel_id = f"spy-{uuid.uuid4().hex[:16]}"
    action = spy_originate(supervisor_extension, target_channel, mode, channel_id)
    try:
        await ami.action(action)
    except AmiError as exc:
        raise AmiError(f"spy on {target_channel} for {supervisor_extension}: {exc}") from exc
    return channel_id

"""AMI client: queues, agents and call origination, over panoramisk's Manager.

panoramisk reconnects by itself after a lost connection; this wrapper adds
what the engine needs on top: waiting for the login, a clean close that does
not trigger a reconnect, and typed helpers for the few actions we use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

from ivr.telephony.errors import AmiError

log = logging.getLogger(__name__)

EventCallback = Callable[[Manager, Any], Any]


def flatten_repeats(event: Any) -> Any:
    """``event`` with each repeated header (a list) reduced to its last value."""
    repeated = [key for key, value in event.items() if isinstance(value, list)]
    for key in repeated:
        values = event[key]
        event[key] = str(values[-1]) if values else ""
    return event


class _Manager(Manager):
    """panoramisk's Manager that stays closed once closed."""

    closing = False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        super().connection_lost(exc)


class AmiClient:
    def __init__(self, host: str, port: int, username: str, secret: str,
                 reconnect_timeout: int = 2) -> None:
        self.logged_in = asyncio.Event()
        self._manager = _Manager(
            loop=asyncio.get_running_loop(), host=host, port=port, username=username,
            secret=secret, ping_delay=10, reconnect_timeout=reconnect_timeout,
            on_login=lambda _m: self.logged_in.set(),
            on_disconnect=self._on_disconnect,
        )
        self.address = f"{host}:{port}"

    def _on_disconnect(self, _manager: Manager, exc: Exception | None) -> None:
        self.logged_in.clear()
        log.warning("AMI connection to %s lost (%s); reconnecting", self.address, exc)

    async def connect(self, timeout: float = 15.0, *, keep_trying: bool = False) -> None:
        """Connect and log in. With ``keep_trying``, a timeout still raises, but the
        client goes on reconnecting in the background (an engine may start first)."""
        self._manager.connect()
        try:
            await asyncio.wait_for(self.logged_in.wait(), timeout)
        except TimeoutError as exc:
            if not keep_trying:
                self.close()
            raise AmiError(f"no AMI login at {self.address} within {timeout} s "
                           "(is Asterisk up? is the secret right?)") from exc

    def close(self) -> None:
        self._manager.closing = True
        self._manager.close()

    def on(self, pattern: str, callback: EventCallback) -> None:
        """Call ``callback(manager, event)`` for each event whose name matches.

        panoramisk turns a header sent twice into a list; every handler here reads
        single values, so the event it gets keeps the last one (as Asterisk's own
        parsers do) instead of failing on a list."""
        def single_valued(manager: Manager, event: Any) -> Any:
            return callback(manager, flatten_repeats(event))
        self._manager.register_event(pattern, single_valued)

    async def action(self, action: dict[str, str], as_list: bool = False,
                     timeout: float = 10.0) -> Any:
        """Send one action; ``as_list`` for actions answered by an event list.

        The answer kind is always explicit: panoramisk guesses from the message text
        and waits forever on "Added interface to queue" or "successfully queued".
        """
        await asyncio.wait_for(self.logged_in.wait(), timeout)
        resp = await asyncio.wait_for(self._manager.send_action(action, as_list=as_list),
                                      timeout)
        first = resp[0] if isinstance(resp, list) else resp
        if first.get("Response") == "Error":
            raise AmiError(f"{action['Action']} failed: {first.get('Message')}")
        return resp

    async def originate(self, channel: str, context: str, exten: str, *, priority: int = 1,
                        caller_id: str = "", channel_id: str = "", timeout_ms: int = 30000,
                        variables: dict[str, str] | None = None) -> None:
        """Place a call (asynchronously: the outcome arrives as events)."""
        act = {"Action": "Originate", "Channel": channel, "Context": context, "Exten": exten,
               "Priority": str(priority), "Async": "true", "Timeout": str(timeout_ms)}
        if caller_id:
            act["CallerID"] = caller_id
        if channel_id:
            act["ChannelId"] = channel_id
        if variables:
            act["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        await self.action(act)

    async def queue_add(self, queue: str, interface: str, member_name: str = "",
                        penalty: int = 0) -> None:
        """Log an agent's handset into a queue (start of shift). Idempotent."""
        try:
            await self.action({"Action": "QueueAdd", "Queue": queue, "Interface": interface,
                               "MemberName": member_name or interface,
                               "Penalty": str(penalty), "StateInterface": interface})
        except AmiError as exc:
            if "Already there" not in str(exc):
                raise

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self.action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})

    async def queue_members(self, queue: str) -> list[dict[str, str]]:
        """The queue's members with their status (QueueStatus / QueueMember events)."""
        events = await self.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        return [dict(e) for e in events if e.get("Event") == "QueueMember"]

    async def command(self, cli: str) -> str:
        resp = await self.action({"Action": "Command", "Command": cli})
        output = resp.get("Output", "")
        return "\n".join(output) if isinstance(output, list) else str(output)

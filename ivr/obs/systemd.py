"""systemd's service notifications for ``ivr serve``: ``READY=1`` once every prompt is
rendered (``Type=notify``), then ``WATCHDOG=1`` from the event loop every half
``WatchdogSec``. An engine whose loop is frozen - alive, accepting Asterisk's
connections, answering nothing - stops sending it, and systemd kills and restarts it:
a dead engine is a refused connect, which the dialplan skips at once
(deploy/README.md). Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.

The protocol is one datagram on a Unix socket (sd_notify(3)); the standard library
does it, so no binding to libsystemd is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str, env: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to systemd; False when not under systemd."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("systemd notification %r not sent: %s", state, exc)
        return False
    return True


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WatchdogSec``), or None when
    systemd asks for none (or asks another process: ``WATCHDOG_PID``)."""
    env = env if env is not None else os.environ
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


async def keep_watchdog_fed(interval: float) -> None:
    """Ping the watchdog from the event loop until cancelled."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def start_watchdog() -> asyncio.Task[None] | None:
    if (interval := watchdog_interval()) is None:
        return None
    return asyncio.ensure_future(keep_watchdog_fed(interval))


async def stop_watchdog(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

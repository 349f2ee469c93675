"""What belongs to one call, released when the call ends.

The FastAGI server opens a scope per session; whatever a call acquires on the
way (an AudioSocket stream, a UUID waiting for Asterisk to connect) registers
its clean-up here, and the server runs them all when the session ends - however
it ends (hangup, flow error, reply timeout, cancellation). The scope travels in
a context variable, which asyncio copies into every task the call starts, so
the layers between (channel, steps) need not hand it down.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)

Cleanup = Callable[[], Awaitable[None]]


class CallScope:
    """Clean-ups of one call, run once, newest first."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cleanups: list[Cleanup] = []
        self.closed = False

    def on_close(self, cleanup: Cleanup) -> None:
        self._cleanups.append(cleanup)

    async def aclose(self) -> None:
        self.closed = True
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                await cleanup()
            except Exception:
                log.exception("call %s: clean-up failed", self.name)


_current: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar(
    "ivr_call_scope", default=None)


def current() -> CallScope | None:
    """The scope of the call running this code, if any."""
    return _current.get()


@contextlib.asynccontextmanager
async def call_scope(name: str) -> AsyncIterator[CallScope]:
    scope = CallScope(name)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
        await scope.aclose()

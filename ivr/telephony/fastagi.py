"""FastAGI server on panoramisk's route table, hardened for a live phone line.

panoramisk 1.4 reads the header block in a loop that spins forever when a peer
closes early (a load-balancer health probe does exactly that), and reads one
line per command, so a ``HANGUP`` line or a multi-line 520 reply shifts every
later reply by one. :class:`AgiSession` reads replies itself, through the
:class:`~ivr.telephony.agi_protocol.ReplyReader` the EAGI path also uses:
``HANGUP`` lines are noted and skipped, ``100 Trying`` is skipped, 520 usage
text is consumed to its end, and a hangup reaches the flow once, as
:class:`CallerHangup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from panoramisk.fast_agi import Application

from ivr.telephony.agi_protocol import (
    AgiReply,
    ReplyReader,
    check_reply,
    parse_env,
    split_script,
)
from ivr.telephony.errors import CallerHangup

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 5.0
MAX_HEADER_BYTES = 16 * 1024


class AgiSession:
    """One FastAGI connection: the call's environment and a command/reply channel."""

    def __init__(self, env: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, encoding: str = "utf-8") -> None:
        self.env = env
        self.path, self.args = split_script(env.get("agi_network_script", ""))
        self.reader = reader
        self.writer = writer
        self.encoding = encoding
        self.hung_up = False
        self._lock = asyncio.Lock()

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def caller_number(self) -> str:
        return self.env.get("agi_callerid", "unknown")

    async def command(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        """Send one command and return its reply.

        Raises CallerHangup if the caller is gone (before or during the command),
        unless ``on_dead_channel`` (clean-up commands after a hangup).
        """
        async with self._lock:
            if self.hung_up and not on_dead_channel:
                self._raise_hangup()
            self.writer.write(line.encode(self.encoding) + b"\n")
            try:
                await self.writer.drain()
            except ConnectionError as exc:
                self.hung_up = True
                raise CallerHangup(f"AGI connection lost sending {line!r}") from exc
            reply = await self._read_reply(line)
        return check_reply(line, reply, gone=self.hung_up, on_dead_channel=on_dead_channel,
                           channel=self.channel)

    def _raise_hangup(self) -> None:
        raise CallerHangup(f"caller hung up ({self.channel})")

    async def _read_line(self) -> str:
        raw = await self.reader.readline()
        if not raw:
            self.hung_up = True
            raise CallerHangup("AGI connection closed by Asterisk")
        return raw.decode(self.encoding, errors="replace").rstrip("\r\n")

    async def _read_reply(self, sent: str) -> AgiReply:
        reader = ReplyReader(sent)
        try:
            while (reply := reader.feed(await self._read_line())) is None:
                pass
        finally:  # a HANGUP line counts even when the reply never comes
            self.hung_up = self.hung_up or reader.caller_gone
        return reply

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()


Handler = Callable[[AgiSession], Awaitable[None]]


class FastAgiServer(Application):
    """Routes ``agi://host:port/<path>`` to handlers; the query string becomes ``args``.

    Any error in a handler ends the AGI session without ``IVR_DONE``; the
    dialplan then sends the caller to the operator queue, never to silence.
    """

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__(default_encoding=encoding, loop=asyncio.get_running_loop())
        self.sessions: set[AgiSession] = set()
        self._server: asyncio.Server | None = None

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add_route(path, handler)
            return handler
        return register

    async def start(self, host: str, port: int) -> asyncio.Server:
        self._server = await asyncio.start_server(self.handler, host, port)
        return self._server

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            block = await asyncio.wait_for(reader.readuntil(b"\n\n"), HEADER_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            log.debug("FastAGI peer %s closed or stalled before its headers: ignored", peer)
            writer.close()
            return
        session = AgiSession(parse_env(block, self.default_encoding), reader, writer,
                             self.default_encoding)
        handler = self._route.get(session.path)
        if handler is None:
            log.error("FastAGI: no route for %r (from %s); caller goes to fallback",
                      session.path, peer)
            await session.close()
            return
        self.sessions.add(session)
        try:
            await handler(session)
        except CallerHangup:
            log.info("call %s: caller hung up", session.uniqueid)
        except Exception:
            log.exception("call %s: flow failed; the dialplan falls back to a human",
                          session.uniqueid)
        finally:
            self.sessions.discard(session)
            await session.close()

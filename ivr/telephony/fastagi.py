"""FastAGI server on panoramisk's route table, hardened for a live phone line.

panoramisk 1.4 reads the header block in a loop that spins forever when a peer
closes early (a load-balancer health probe does exactly that), and reads one
line per command, so a ``HANGUP`` line or a multi-line 520 reply shifts every
later reply by one. :class:`AgiSession` reads replies itself, through the
:class:`~ivr.telephony.agi_protocol.ReplyReader` the EAGI path also uses:
``HANGUP`` lines are noted and skipped, ``100 Trying`` is skipped, 520 usage
text is consumed to its end, and a hangup reaches the flow once, as
:class:`CallerHangup`.

Only our Asterisk may drive a call (:mod:`ivr.telephony.agi_auth`: peer allowlist
and a per-call token, checked before any command), and every reply has a deadline
(:func:`reply_timeout`): a stalled peer ends the session like a hangup, and the
dialplan's fallback seats the caller with a person. Whatever the call acquired
(AudioSocket streams) is released when its session ends (:mod:`call_scope`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from panoramisk.fast_agi import Application

from ivr.telephony.agi_auth import AgiAuth, Refused
from ivr.telephony.agi_protocol import (
    AgiReply,
    ReplyReader,
    check_reply,
    parse_env,
    split_script,
)
from ivr.telephony.call_scope import call_scope
from ivr.telephony.errors import AgiProtocolError, CallerHangup

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 5.0
MAX_HEADER_BYTES = 16 * 1024
# How long Asterisk may take to reply. Most commands answer at once; a prompt plays to
# its end (plus a GET DATA's wait); Queue() and Dial() return only when the caller's
# conversation with a person ends, so they get hours, not minutes.
REPLY_TIMEOUT = 15.0
PLAYBACK_TIMEOUT = 600.0
CONVERSATION_TIMEOUT = 4 * 3600.0
_PLAYBACK = ("STREAM FILE", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "WAIT FOR DIGIT",
             "RECORD FILE", "SAY ", "SPEECH RECOGNIZE", "EXEC")
_CONVERSATION = ("EXEC QUEUE", "EXEC DIAL", 'EXEC "QUEUE"', 'EXEC "DIAL"')


def reply_timeout(line: str) -> float:
    """The deadline for the reply to ``line``, by what the command does.

    >>> reply_timeout('GET VARIABLE "X"'), reply_timeout('STREAM FILE "hello" ""')
    (15.0, 600.0)
    >>> reply_timeout('EXEC Queue "pharmacy,b(ivr-agent-predial^s^1),,,"')
    14400.0
    """
    upper = line.lstrip().upper()
    if upper.startswith(_CONVERSATION):
        return CONVERSATION_TIMEOUT
    if upper.startswith(_PLAYBACK):
        return PLAYBACK_TIMEOUT
    return REPLY_TIMEOUT


Observer = Callable[[str, float], None]


class AgiTimeout(AgiProtocolError):
    """Asterisk did not reply in time: the session is dead (the dialplan falls back)."""


class AgiSession:
    """One FastAGI connection: the call's environment and a command/reply channel."""

    def __init__(self, env: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, encoding: str = "utf-8",
                 observe: Observer | None = None) -> None:
        self.env = env
        self.observe = observe  # (command line, seconds): AGI latency metrics
        self.path, self.args = split_script(env.get("agi_network_script", ""))
        self.reader = reader
        self.writer = writer
        self.encoding = encoding
        self.hung_up = False
        self.timed_out: str | None = None  # the command whose reply never came
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

    async def command(self, line: str, *, on_dead_channel: bool = False,
                      timeout: float | None = None) -> AgiReply:
        """Send one command and return its reply.

        Raises CallerHangup if the caller is gone (before or during the command),
        unless ``on_dead_channel`` (clean-up commands after a hangup); AgiTimeout if
        the reply takes longer than ``timeout`` (default: :func:`reply_timeout`), after
        which every command fails at once.
        """
        async with self._lock:
            if self.timed_out is not None:
                raise AgiTimeout(f"AGI session dead: no reply to {self.timed_out!r}")
            if self.hung_up and not on_dead_channel:
                self._raise_hangup()
            limit = reply_timeout(line) if timeout is None else timeout
            self.writer.write(line.encode(self.encoding) + b"\n")
            sent_at = time.monotonic()
            try:
                async with asyncio.timeout(limit):
                    await self.writer.drain()
                    reply = await self._read_reply(line)
                if self.observe is not None:
                    self.observe(line, time.monotonic() - sent_at)
            except ConnectionError as exc:
                self.hung_up = True
                raise CallerHangup(f"AGI connection lost sending {line!r}") from exc
            except TimeoutError:
                self.timed_out = line
                raise AgiTimeout(f"no reply to {line!r} within {limit:g} s") from None
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

    def __init__(self, encoding: str = "utf-8", *, auth: AgiAuth | None = None,
                 observe: Observer | None = None) -> None:
        """``auth``: the secret and peer allowlist every session must satisfy (the
        engine always passes one; None only for protocol tests). ``observe(line,
        seconds)``: told each command's round trip (the engine's metrics)."""
        super().__init__(default_encoding=encoding, loop=asyncio.get_running_loop())
        self.sessions: set[AgiSession] = set()
        self._server: asyncio.Server | None = None
        self.auth = auth
        self.observe = observe
        self.refused = 0
        self._refusal_logged = 0.0

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
        env = parse_env(block, self.default_encoding)
        if self.auth is not None:
            try:
                self.auth.check(peer, env)
            except Refused as why:
                self._refuse(peer, env, str(why))
                writer.close()
                return
        session = AgiSession(env, reader, writer, self.default_encoding, self.observe)
        handler = self._route.get(session.path)
        if handler is None:
            log.error("FastAGI: no route for %r (from %s); caller goes to fallback",
                      session.path, peer)
            await session.close()
            return
        self.sessions.add(session)
        try:
            async with call_scope(session.uniqueid):
                await handler(session)
        except CallerHangup:
            log.info("call %s: caller hung up", session.uniqueid)
        except AgiTimeout as exc:
            log.error("call %s: %s; the dialplan falls back to a human", session.uniqueid, exc)
        except Exception:
            log.exception("call %s: flow failed; the dialplan falls back to a human",
                          session.uniqueid)
        finally:
            self.sessions.discard(session)
            await session.close()

    def _refuse(self, peer: object, env: dict[str, str], why: str) -> None:
        """Log a refused session - at most once a second, so a flood cannot fill the
        disk - without its caller number or token."""
        self.refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= 1.0:
            self._refusal_logged = now
            log.warning("FastAGI: refused session from %s (route %r, uniqueid %r): %s; "
                        "%d refused so far", peer, env.get("agi_network_script", "")[:64],
                        env.get("agi_uniqueid", "")[:64], why, self.refused)

"""AudioSocket media: the caller's audio in, prompt audio out, over TCP.

Asterisk's ``AudioSocket(<uuid>,host:port)`` connects to us and exchanges
frames ``type(1) | length(2, big-endian) | payload``:

    0x00  hang up (no payload)           0x10  audio: 8 kHz 16-bit mono slin
    0x01  the call's UUID (16 bytes)     0xff  error (1 byte code)
    0x03  DTMF digit (1 ASCII byte)

Asterisk sends a 320-byte (20 ms) audio frame every 20 ms and gives up after
2 s without a frame from us, so the stream keeps sending 20 ms frames: queued
prompt audio, or silence. A connection with a UUID nobody expects is refused, as
is one from a peer off the allowlist (``engine.peers``). A UUID and its stream
belong to the call that asked for them (:mod:`ivr.telephony.call_scope`): when
that call ends, the stream is closed and the UUID is no longer accepted, so no
stream outlives its call sending silence to a caller nobody is listening to.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from ivr.telephony import call_scope
from ivr.telephony.agi_auth import Network, peer_allowed
from ivr.telephony.errors import AudioSocketError

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * 2 * FRAME_MS // 1000  # 320
SILENCE = bytes(FRAME_BYTES)
_HEADER = struct.Struct(">BH")


class Kind(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes = b""


def encode(kind: int, payload: bytes = b"") -> bytes:
    """>>> encode(Kind.DTMF, b"5").hex()
    '03000135'"""
    return _HEADER.pack(kind, len(payload)) + payload


def decode_header(header: bytes) -> tuple[int, int]:
    """(kind, payload length) from the 3 header bytes."""
    if len(header) != _HEADER.size:
        raise ValueError(f"AudioSocket header needs 3 bytes, got {len(header)}")
    return _HEADER.unpack(header)


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """Next frame, or None when the peer closed."""
    try:
        kind, length = decode_header(await reader.readexactly(_HEADER.size))
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        return None
    return Frame(kind, payload)


class AudioStream:
    """One call's media: ``audio_in`` gets caller frames, :meth:`play` sends audio."""

    def __init__(self, call_uuid: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.uuid = call_uuid
        self.reader = reader
        self.writer = writer
        self.audio_in: asyncio.Queue[bytes] = asyncio.Queue()
        self.dtmf_in: asyncio.Queue[str] = asyncio.Queue()
        self._out = bytearray()
        self._out_done = asyncio.Event()
        self._out_done.set()
        self.closed = asyncio.Event()
        self.bytes_in = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._pace())]

    def play(self, pcm: bytes) -> asyncio.Event:
        """Queue 8 kHz slin audio; the returned event is set when it has all been sent."""
        self._out += pcm
        self._out_done.clear()
        return self._out_done

    def stop_playback(self) -> None:
        """Barge-in: drop what is left of the prompt."""
        self._out.clear()
        self._out_done.set()

    async def _receive(self) -> None:
        try:
            while (frame := await read_frame(self.reader)) is not None:
                if frame.kind == Kind.AUDIO:
                    self.bytes_in += len(frame.payload)
                    self.audio_in.put_nowait(frame.payload)
                elif frame.kind == Kind.DTMF:
                    self.dtmf_in.put_nowait(frame.payload.decode("ascii", "replace"))
                elif frame.kind == Kind.HANGUP:
                    break
                elif frame.kind == Kind.ERROR:
                    log.warning("AudioSocket %s: error frame %s", self.uuid, frame.payload.hex())
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            # Asterisk hung up or the peer went away: our side of the socket goes too
            with contextlib.suppress(Exception):
                self.writer.close()

    async def _pace(self) -> None:
        """Send one 20 ms frame every 20 ms, on a clock that does not drift."""
        loop = asyncio.get_running_loop()
        tick = loop.time()
        try:
            while not self.closed.is_set():
                if self._out:
                    chunk = bytes(self._out[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
                    del self._out[:FRAME_BYTES]
                    if not self._out:
                        self._out_done.set()
                else:
                    chunk = SILENCE
                self.writer.write(encode(Kind.AUDIO, chunk))
                tick += FRAME_MS / 1000
                await asyncio.sleep(max(0.0, tick - loop.time()))
        except ConnectionError:
            self.closed.set()

    async def close(self) -> None:
        """End the stream: Asterisk's AudioSocket app returns to the dialplan/AGI."""
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self.writer.write(encode(Kind.HANGUP))
            await self.writer.drain()
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()
        self.closed.set()
        self._out_done.set()


class AudioSocketServer:
    """Accepts AudioSocket connections and hands each to the call that expects it."""

    def __init__(self, allowed: list[Network] | None = None) -> None:
        """``allowed``: peer networks that may connect (None: any; the engine passes
        its allowlist)."""
        self._expected: dict[str, asyncio.Future[AudioStream]] = {}
        self._server: asyncio.Server | None = None
        self.allowed = allowed
        self.streams: set[AudioStream] = set()  # open now
        self.refused = 0

    async def start(self, host: str, port: int) -> asyncio.Server:
        self._server = await asyncio.start_server(self._accept, host, port)
        return self._server

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def expect(self) -> tuple[str, asyncio.Future[AudioStream]]:
        """A fresh UUID for ``AudioSocket()`` and a future that gets its stream."""
        call_uuid = str(uuid.uuid4())
        fut: asyncio.Future[AudioStream] = asyncio.get_running_loop().create_future()
        self._expected[call_uuid] = fut
        fut.add_done_callback(lambda _f: self._expected.pop(call_uuid, None))
        scope = call_scope.current()
        if scope is not None:
            scope.on_close(lambda: _release(fut))
        return call_uuid, fut

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.allowed is not None and not peer_allowed(peer, self.allowed):
            self.refused += 1
            log.warning("AudioSocket: refused connection from %s (not allowed)", peer)
            writer.close()
            return
        try:
            first = await asyncio.wait_for(read_frame(reader), 2.0)
        except (TimeoutError, ConnectionError):
            first = None
        call_uuid = str(uuid.UUID(bytes=first.payload)) if (
            first is not None and first.kind == Kind.UUID and len(first.payload) == 16) else None
        fut = self._expected.get(call_uuid) if call_uuid else None
        if fut is None or fut.done():
            self.refused += 1
            log.warning("AudioSocket: refused connection with unknown UUID %s", call_uuid)
            with contextlib.suppress(Exception):
                writer.write(encode(Kind.HANGUP))
                writer.close()
            return
        stream = AudioStream(call_uuid, reader, writer)
        stream.start()
        self.streams.add(stream)
        asyncio.ensure_future(stream.closed.wait()).add_done_callback(
            lambda _f: self.streams.discard(stream))
        fut.set_result(stream)


async def _release(fut: asyncio.Future[AudioStream]) -> None:
    """The call is over: its UUID is refused from now on; its stream, if one came, is
    closed (Asterisk's AudioSocket app returns)."""
    if not fut.done():
        fut.cancel()
    elif not fut.cancelled() and fut.exception() is None:
        await fut.result().close()


async def wait_stream(fut: asyncio.Future[AudioStream], timeout: float) -> AudioStream:
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except TimeoutError as exc:
        fut.cancel()
        raise AudioSocketError(f"Asterisk did not open the AudioSocket within {timeout} s") from exc
    except asyncio.CancelledError:  # the call's task ended while waiting: nobody will read it
        if not fut.done():
            fut.cancel()
        elif not fut.cancelled() and fut.exception() is None:
            await fut.result().close()
        raise


async def collect_audio(stream: AudioStream | Any, seconds: float) -> bytes:
    """Everything the caller sends for ``seconds`` (or until the stream closes)."""
    audio = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0 and not stream.closed.is_set():
        with contextlib.suppress(TimeoutError):
            audio += await asyncio.wait_for(stream.audio_in.get(), left)
    return bytes(audio)

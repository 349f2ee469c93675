"""Caller audio from EAGI file descriptor 3, shaped as a media stream for ``take_turn``.

With ``EAGI(...)`` Asterisk writes the caller's audio (8 kHz signed 16-bit
little-endian mono, what res_agi sets as the read format) to fd 3 of the
script, but only while it is idle waiting for the next AGI command: during
STREAM FILE or GET DATA the application consumes the frames and nothing
reaches fd 3. Asterisk writes without blocking and drops what does not fit,
so audio left in the pipe between commands is stale and must be drained
before a turn starts. A pipe read returns whatever bytes are there, not whole
frames, so the bytes are re-cut into 20 ms frames here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

EAGI_AUDIO_FD = 3
RATE = 8000
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
READ_SIZE = 65536


class FrameSplitter:
    """Re-cuts an arbitrary byte stream into fixed-size frames.

    >>> s = FrameSplitter(4)
    >>> s.feed(b"abcdef"), s.feed(b"gh"), s.pending
    ([b'abcd'], [b'efgh'], 0)
    """

    def __init__(self, frame_bytes: int = FRAME_BYTES) -> None:
        self.frame_bytes = frame_bytes
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        n = len(self._buf) // self.frame_bytes * self.frame_bytes
        out = [bytes(self._buf[i:i + self.frame_bytes]) for i in range(0, n, self.frame_bytes)]
        del self._buf[:n]
        return out

    def reset(self) -> None:
        self._buf.clear()


def drain(fd: int) -> int:
    """Discard what is waiting on ``fd`` (stale audio); returns how many bytes."""
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    dropped = 0
    try:
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                break
            dropped += len(chunk)
    finally:
        os.set_blocking(fd, was_blocking)
    return dropped


class Fd3Stream:
    """A :class:`ivr.speech.turn.MediaStream` over fd 3: frames into ``audio_in``.

    Prompts cannot be played through it (EAGI audio is one-way), so ``play`` is a
    no-op that reports "finished"; the channel plays prompts with STREAM FILE first.
    ``closed`` is set at end of file on fd 3 or when the channel reports a hangup.
    """

    def __init__(self, fd: int = EAGI_AUDIO_FD) -> None:
        self.fd = fd
        self.audio_in: asyncio.Queue[bytes] = asyncio.Queue()
        self.dtmf_in: asyncio.Queue[str] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.bytes_read = 0
        self._splitter = FrameSplitter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._was_blocking = True

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._was_blocking = os.get_blocking(self.fd)
        os.set_blocking(self.fd, False)
        self._loop.add_reader(self.fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stop_reading()
            self.closed.set()
            return
        self.bytes_read += len(chunk)
        for frame in self._splitter.feed(chunk):
            self.audio_in.put_nowait(frame)

    def _stop_reading(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            with contextlib.suppress(OSError):
                os.set_blocking(self.fd, self._was_blocking)
            self._loop = None

    def play(self, pcm: bytes) -> asyncio.Event:
        done = asyncio.Event()
        done.set()
        return done

    def stop_playback(self) -> None:
        return None

    def close(self) -> None:
        """Stop reading; audio arriving later stays in the pipe (drained next turn)."""
        self._stop_reading()

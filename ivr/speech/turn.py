"""One conversational turn on a live media stream: speak, let the caller cut in,
listen until they stop, and hand back what they said (or the key they pressed).

Works on anything shaped like :class:`ivr.telephony.audiosocket.AudioStream`
(``audio_in``/``dtmf_in`` queues, ``play``/``stop_playback``), so it is tested
with recorded audio and used on calls through AudioSocket alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivr.speech.vad import Vad, VadConfig, VadEvent
from ivr.triage.keywords import phrase_key

SILENT_FRAME = bytes(320)
NO_FRAME = b""  # put by the turn's ticker when no frame came: wake up, check the time
TICK = 0.05  # s between the ticker's looks; no frame for FRAME_GAP: treat as quiet
FRAME_GAP = 0.1


class MediaStream(Protocol):
    audio_in: asyncio.Queue[bytes]
    dtmf_in: asyncio.Queue[str]
    closed: asyncio.Event

    def play(self, pcm: bytes) -> asyncio.Event: ...
    def stop_playback(self) -> None: ...


class Session(Protocol):  # ivr.speech.asr.RecognitionSession
    def accept(self, pcm: bytes) -> str | None: ...
    def result(self) -> Any: ...


def complete_answer(phrases: list[str] | None) -> Callable[[str], bool] | None:
    """A test for "the caller has said one of these phrases, whole": grammar answers
    end after the short pause, free speech after the long one. Compared as menus
    match them (``normalise``: "follow-up visit" is heard as "follow up visit")."""
    if not phrases:
        return None
    whole = {phrase_key(p) for p in phrases} - {""}
    return lambda partial: phrase_key(partial) in whole


EARLY_DECODE_MS = 200  # quiet this long inside an answer: decode what was said so far


def answer_of(transcript: Any, phrases: list[str] | None) -> tuple[str, float]:
    """The words and confidence a step reads from a transcript (``asr.Transcript``): a
    matched option as the list spells it (Whisper writes "Two." for "two"); speech
    forced onto grammar words (Vosk, out of grammar) at confidence 0; Whisper's own
    words with their confidence even when they are no option (the red-flag screen
    reads them, and trusts their negations only when the decode was sure)."""
    text, confidence = str(getattr(transcript, "text", "")), float(
        getattr(transcript, "confidence", 0.0))
    in_grammar = getattr(transcript, "in_grammar", None)
    if not phrases or in_grammar is None:
        return text, confidence
    if in_grammar:
        return getattr(transcript, "matched", None) or text, confidence
    return text, confidence if getattr(transcript, "open_vocabulary", False) else 0.0


@dataclass
class TurnResult:
    text: str = ""
    confidence: float = 0.0
    dtmf: str = ""
    barged_in: bool = False
    speech_ms: int = 0
    # the caller's utterance as heard (8 kHz 16-bit PCM, lead-in included): the
    # recording kept, sealed, with the call record
    audio: bytes = b""
    timed_out: bool = False
    truncated: bool = False  # hit the maximum utterance length
    barge_in_latency_ms: float | None = None  # speech detected -> prompt stopped
    end_of_speech_at: float | None = None  # monotonic time the caller stopped
    # monotonic time the last frame the detector counted as speech was taken in: the
    # caller really stopped here, ``end_ms`` of silence before ``end_of_speech_at``
    last_speech_at: float | None = None
    transcript: Any = None
    partials: list[str] = field(default_factory=list)
    # monotonic time the turn's result was ready: recognition time is this minus
    # ``end_of_speech_at`` (the engine's ivr_recognition_seconds)
    decoded_at: float | None = None


async def take_turn(stream: MediaStream, *, prompt_pcm: bytes = b"",
                    session_factory: Callable[[], Session] | None = None,
                    executor: Executor | None = None, barge_in: bool = True,
                    timeout: float = 5.0, max_seconds: float = 15.0,
                    vad_config: VadConfig | None = None,
                    is_complete: Callable[[str], bool] | None = None) -> TurnResult:
    """Play ``prompt_pcm``; return when the caller finished speaking, pressed a key,
    stayed silent ``timeout`` s after the prompt, or the stream closed.

    ``is_complete(partial)``: the words so far are a whole answer (see
    ``complete_answer``); the turn then ends after the shorter complete pause."""
    loop = asyncio.get_running_loop()
    ticker = _Ticker(loop, stream.audio_in)
    try:
        result = await _turn(loop, ticker, stream, prompt_pcm=prompt_pcm,
                             session_factory=session_factory, executor=executor,
                             barge_in=barge_in, timeout=timeout, max_seconds=max_seconds,
                             vad_config=vad_config, is_complete=is_complete)
        result.decoded_at = time.monotonic()
        return result
    finally:
        ticker.stop()


class _Ticker:
    """Wakes a turn waiting for a frame that does not come, without a timer per frame
    (``asyncio.wait_for`` per 20 ms frame cost half the frame's work): every ``TICK``
    s, if nothing was taken for ``FRAME_GAP`` s, it puts ``NO_FRAME`` in the queue.
    A ``NO_FRAME`` left behind is an empty frame: nothing to whoever reads next."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
        self.loop = loop
        self.queue = queue
        self.taken_at = loop.time()
        self._handle = loop.call_later(TICK, self._tick)

    def _tick(self) -> None:
        if self.queue.empty() and self.loop.time() - self.taken_at >= FRAME_GAP:
            self.queue.put_nowait(NO_FRAME)
        self._handle = self.loop.call_later(TICK, self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def _turn(loop: asyncio.AbstractEventLoop, ticker: _Ticker, stream: MediaStream, *,
                prompt_pcm: bytes, session_factory: Callable[[], Session] | None,
                executor: Executor | None, barge_in: bool, timeout: float,
                max_seconds: float, vad_config: VadConfig | None,
                is_complete: Callable[[str], bool] | None) -> TurnResult:
    vad = Vad(vad_config)
    result = TurnResult()
    playing = stream.play(prompt_pcm) if prompt_pcm else None
    session: Session | None = None
    pending: list[bytes] = []
    speech_deadline: float | None = None
    silence_deadline: float | None = None if playing is not None else loop.time() + timeout
    lead_in: deque[bytes] = deque(maxlen=15)  # ~300 ms before speech: the first syllable

    captured: list[bytes] = []
    # A session that decodes whole answers (Whisper: no partials) can decode early, at
    # the first short pause; if the caller stays quiet, that is the result (no second
    # decode after the turn ends), and a whole menu phrase ends the turn after the short
    # pause, as a recogniser's partials would. Speech again drops it.
    peek: Callable[[], Any] | None = None
    early: asyncio.Future[Any] | None = None

    async def decode(chunk: bytes) -> None:
        captured.append(chunk)
        if session is not None:
            partial = await loop.run_in_executor(executor, session.accept, chunk)
            if partial:  # the session reports the words so far only when they change
                result.partials.append(partial)
                if is_complete is not None:  # a whole answer, or not yet
                    vad.answer_complete = is_complete(partial)

    while not stream.closed.is_set():
        if playing is not None and playing.is_set():
            playing = None
            silence_deadline = loop.time() + timeout
        if not stream.dtmf_in.empty():
            result.dtmf = stream.dtmf_in.get_nowait()
            stream.stop_playback()
            result.barged_in = playing is not None
            return result
        now = loop.time()
        if silence_deadline is not None and not vad.in_speech and now >= silence_deadline:
            result.timed_out = True
            return result
        if speech_deadline is not None and now >= speech_deadline:
            result.truncated = True
            break
        frame = await stream.audio_in.get()
        if frame:
            ticker.taken_at = loop.time()
        else:  # NO_FRAME: nothing came for FRAME_GAP s
            if not vad.in_speech:
                continue
            # No frames (a channel that sends none while quiet): that is silence, for as
            # long as it lasted, so the end-of-speech pause keeps real time.
            quiet = max(1, round((loop.time() - ticker.taken_at) / 0.02))
            ticker.taken_at = loop.time()
            ended = False
            for _ in range(quiet - 1):
                if vad.feed(SILENT_FRAME) is VadEvent.SPEECH_END:
                    ended = True
                    break
            if ended:
                result.end_of_speech_at = time.monotonic()
                break
            frame = SILENT_FRAME
        if playing is not None and not barge_in:
            continue  # this prompt must be heard whole: what is said over it is ignored
        event = vad.feed(frame)
        if vad.in_speech and vad.heard_speech:  # a speech frame, not a pause inside speech
            result.last_speech_at = time.monotonic()
        if not vad.in_speech and event is None:
            lead_in.append(frame)
            continue
        if event is VadEvent.SPEECH_START:
            if playing is not None:
                t0 = time.monotonic()
                stream.stop_playback()
                result.barged_in = True
                result.barge_in_latency_ms = (time.monotonic() - t0) * 1000 + vad.cfg.start_ms
                playing = None
            silence_deadline = None
            speech_deadline = loop.time() + max_seconds
            if session_factory is not None:
                session = await loop.run_in_executor(executor, session_factory)
                peek = getattr(session, "peek", None)
            pending = [*lead_in, frame]
            continue
        if event is VadEvent.SPEECH_END:
            result.end_of_speech_at = time.monotonic()
            pending.append(frame)
            break
        pending.append(frame)
        if peek is not None and session is not None:
            if vad.heard_speech:
                if early is not None:  # the caller went on: that decode is stale
                    early, vad.answer_complete = None, False
            elif early is None and vad.quiet_ms >= EARLY_DECODE_MS:
                await decode(b"".join(pending))
                pending = []
                early = loop.run_in_executor(executor, peek)
                continue
            elif early is not None and is_complete is not None:
                if not early.done() and vad.quiet_ms >= vad.cfg.complete_end_ms - 20:
                    # the short pause is reached: whether it ends the turn is this decode's
                    # to say, so wait for it (at most until the long pause would end it)
                    left = max(0.0, (vad.cfg.end_ms - vad.quiet_ms) / 1000)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(early), left)
                if early.done():
                    vad.answer_complete = bool(
                        not early.exception()
                        and is_complete(getattr(early.result(), "text", "")))
        if len(pending) >= 10 and early is None:  # 200 ms chunks, off the event loop;
            await decode(b"".join(pending))  # after an early decode only quiet: held back
            pending = []
    if pending and early is not None:
        captured.append(b"".join(pending))  # only quiet since the early decode: kept, not fed
    elif pending:
        await decode(b"".join(pending))
    if early is not None:
        with contextlib.suppress(Exception):
            await early  # result() then returns it instead of decoding again
    result.speech_ms = vad.speech_frames * 20
    result.audio = b"".join(captured)
    if session is not None:
        transcript = await loop.run_in_executor(executor, session.result)
        result.transcript = transcript
        result.text = getattr(transcript, "text", "")
        result.confidence = float(getattr(transcript, "confidence", 0.0))
    with contextlib.suppress(Exception):
        stream.stop_playback()
    return result

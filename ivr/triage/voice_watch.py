"""Voice cues during the agent's call: is the caller sounding more distressed than
they did at the start of the conversation?

When a queue bridges a caller to an agent (AMI ``AgentConnect``), the engine opens a
listen-only leg on the caller's audio: an AMI Originate of a Local channel whose one
side runs ``ChanSpy(<caller channel>,qoES)`` (quiet, only the caller's own voice, gone
when the caller or the spy's channel is) and whose other side, in
``[ivr-voice-watch]`` (asterisk_conf/extensions_voice_watch.conf), hands that audio to
the engine's AudioSocket server under a fresh stream id. The caller's first seconds
after the bridge are their baseline; each following window is scored by the acoustic
urgency (:mod:`ivr.triage.acoustic`) against it, and when a window scores clearly
above the baseline's own score a :class:`~ivr.events.VoiceCue` is recorded (and again,
``rising=False``, when it settles). The console shows it; nothing routes on it.

It must never disturb the call: ChanSpy without whisper or barge sends nothing into
the call (what the engine sends back on the AudioSocket is silence, which ChanSpy
reads and drops), every failure here is logged and ends the cues only, and the leg
ends with the call (ChanSpy's ``E``; the engine closes the stream when the record
closes). A HEURISTIC, like the acoustic urgency it uses: uncalibrated on real
distressed callers, so it is a cue for the agent's ear, never a decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ivr import events as ev
from ivr.obs.logs import bind_call
from ivr.settings import VoiceCueSettings
from ivr.telephony.audiosocket import AudioSocketServer, wait_stream
from ivr.telephony.call_scope import call_scope

log = logging.getLogger(__name__)

CONTEXT = "ivr-voice-watch"  # asterisk_conf/extensions_voice_watch.conf
VAR_UUID = "IVR_WATCH_UUID"
VAR_AUDIOSOCKET = "IVR_WATCH_AUDIOSOCKET"
SPY_OPTIONS = "qoES"  # quiet, only the spied channel's own audio, exit with it
STREAM_TIMEOUT = 8.0  # s for Asterisk to connect the leg's AudioSocket
MIN_SPEECH_S = 1.0
SETTLE_MARGIN = 0.1  # a rising voice settles this far below the bar
MAX_BASELINE_FACTOR = 4  # the baseline grows up to this many times baseline_seconds
SR = 8000
BYTES_PER_SECOND = 2 * SR
# a channel name as Asterisk makes them: no commas, spaces or dialplan specials
CHANNEL = re.compile(r"^[A-Za-z0-9_/@;.:+-]{3,120}$")

Scorer = Callable[[np.ndarray, np.ndarray | None], Any]


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768


def _acoustic_score(y: np.ndarray, baseline: np.ndarray | None) -> Any:
    from ivr.triage.acoustic import score

    return score(y, baseline)


class CueTracker:
    """Decides, window by window, whether the caller's voice is rising; pure logic (no
    I/O), so its rule is tested on its own. ``scorer(window, baseline)`` returns an
    :class:`~ivr.triage.acoustic.AcousticUrgency`."""

    def __init__(self, settings: VoiceCueSettings, scorer: Scorer = _acoustic_score) -> None:
        self.settings = settings
        self.scorer = scorer
        self.baseline: np.ndarray | None = None
        self.baseline_score = 0.0
        self.rising = False
        self._pending = bytearray()  # baseline audio so far, while it has too little speech

    def add_baseline(self, pcm: bytes) -> bool:
        """Feed the start of the conversation; True once the baseline is set (enough of
        the caller's speech, or ``MAX_BASELINE_FACTOR`` times the time without it)."""
        self._pending += pcm
        y = _samples(bytes(self._pending))
        result = self.scorer(y, None)
        enough = float(result.features.get("speech_s", 0.0)) >= 2 * MIN_SPEECH_S
        limit = self.settings.baseline_seconds * MAX_BASELINE_FACTOR * BYTES_PER_SECOND
        if enough:
            self.baseline, self.baseline_score = y, float(result.score)
        elif len(self._pending) >= limit:  # a caller silent at first: fixed anchors only
            self.baseline, self.baseline_score = None, 0.0
        else:
            return False
        self._pending.clear()
        return True

    def window(self, pcm: bytes) -> ev.VoiceCue | None:
        """Score one window; the cue to record when ``rising`` changes, else None."""
        result = self.scorer(_samples(pcm), self.baseline)
        if float(result.features.get("speech_s", 0.0)) < MIN_SPEECH_S:
            return None  # the caller listening while the agent talks: no news
        value = float(result.score)
        # once rising, it settles only clearly below the bar (SETTLE_MARGIN), so a score
        # hovering at the bar does not flip the agent's screen window after window
        margin = SETTLE_MARGIN if self.rising else 0.0
        rising = (value >= self.settings.min_score - margin
                  and value - self.baseline_score >= self.settings.rise - margin)
        if rising == self.rising:
            return None
        self.rising = rising
        return ev.VoiceCue(score=round(value, 3), baseline=round(self.baseline_score, 3),
                           rising=rising, drivers=list(result.drivers)[:4])


class VoiceWatch:
    """One listen-only leg per bridged call. ``call_for(uniqueid)``: the engine's call id
    of a caller's channel uniqueid (None: not one of this engine's calls)."""

    def __init__(self, ami: Any, audiosocket: AudioSocketServer, recorder: Any,
                 settings: VoiceCueSettings, audiosocket_address: str,
                 call_for: Callable[[str], str | None]) -> None:
        self.ami = ami
        self.audiosocket = audiosocket
        self.recorder = recorder
        self.settings = settings
        self.address = audiosocket_address
        self.call_for = call_for
        self.watches: dict[str, asyncio.Task[None]] = {}  # call id -> its watch
        self.cues_recorded = 0
        self.failures = 0

    # --- hooks: AMI and the recorder ------------------------------------------------
    def on_agent_connect(self, _manager: Any, event: Any) -> None:
        """AMI AgentConnect: the caller (``Channel``, ``Uniqueid``) is with an agent."""
        if not self.settings.enabled:
            return
        call_id = self.call_for(str(event.get("Uniqueid", "")))
        channel = str(event.get("Channel", ""))
        if call_id is None or call_id in self.watches:
            return
        if not CHANNEL.match(channel):
            log.warning("voice cues: caller channel name %r not usable; no cues", channel[:40])
            return
        task = asyncio.ensure_future(self._watch(call_id, channel))
        self.watches[call_id] = task
        task.add_done_callback(lambda _t: self.watches.pop(call_id, None))

    def on_event(self, _uniqueid: str, call_id: str, event: ev.Event) -> None:
        """A recorder listener: the record closed, so the watch ends."""
        if isinstance(event, ev.End) and (task := self.watches.get(call_id)) is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self.watches.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the watch ----------------------------------------------------------------------
    async def _watch(self, call_id: str, caller_channel: str) -> None:
        bind_call(call_id)
        try:
            async with call_scope(f"voice-watch {call_id}"):  # the stream closes with it
                stream_id, fut = self.audiosocket.expect()
                await self.ami.action({
                    "Action": "Originate", "Channel": f"Local/s@{CONTEXT}/n",
                    "Application": "ChanSpy", "Data": f"{caller_channel},{SPY_OPTIONS}",
                    "Async": "true", "Timeout": "10000", "CallerID": '"voice cues" <0>',
                    "Variable": f"{VAR_UUID}={stream_id},{VAR_AUDIOSOCKET}={self.address}"})
                stream = await wait_stream(fut, STREAM_TIMEOUT)
                log.info("voice cues: listening to the caller after the bridge")
                await self._score(call_id, stream)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failures += 1
            log.warning("voice cues unavailable for this call (the call is not affected)",
                        exc_info=True)

    async def _score(self, call_id: str, stream: Any) -> None:
        tracker = CueTracker(self.settings)
        chunk = bytearray()
        baseline_done = False
        need = int(self.settings.baseline_seconds * BYTES_PER_SECOND)
        while not stream.closed.is_set():
            try:
                frame = await asyncio.wait_for(stream.audio_in.get(), 1.0)
            except TimeoutError:
                continue
            chunk += frame
            if len(chunk) < need:
                continue
            pcm, chunk = bytes(chunk), bytearray()
            if not baseline_done:
                baseline_done = await asyncio.to_thread(tracker.add_baseline, pcm)
                need = int(self.settings.window_seconds * BYTES_PER_SECOND)
                continue
            cue = await asyncio.to_thread(tracker.window, pcm)
            if cue is not None:
                self.cues_recorded += 1
                await self.recorder.record(call_id, cue)

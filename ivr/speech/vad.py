"""Speech/silence detection on 20 ms telephone frames, adapting to line noise.

Energy against a noise floor that tracks the line: it follows quiet frames
down at once and rises slowly, so a hiss or hum is learned within a second
while speech (loud, short-lived) does not drag the floor up. Hysteresis (a
higher threshold to start than to stay) and minimum durations keep clicks
from counting as speech and short pauses from ending an utterance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

FRAME_MS = 20


class VadEvent(enum.Enum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"


@dataclass
class VadConfig:
    start_ms: int = 100  # this much speech in a row starts an utterance (barge-in)
    end_ms: int = 700  # this much silence ends it (end of turn)
    # ... or this much, once the words so far already make a complete answer (a whole
    # menu phrase): VoiceXML's completetimeout against its incompletetimeout. A caller
    # who said "pharmacy" is not kept waiting for a sentence that will not come.
    complete_end_ms: int = 300
    start_margin_db: float = 12.0  # above the noise floor to start
    stay_margin_db: float = 7.0  # above the noise floor to stay in speech
    floor_rise_db_per_s: float = 3.0  # how fast the floor may climb during silence
    min_floor_db: float = -70.0
    initial_floor_db: float = -50.0  # a quiet phone line, until frames show otherwise


def frame_db(frame: bytes) -> float:
    """Loudness of one 16-bit frame in dBFS."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return -100.0
    rms = float(np.sqrt(np.mean(samples * samples))) / 32768.0
    return 20.0 * np.log10(max(rms, 1e-5))


class Vad:
    def __init__(self, config: VadConfig | None = None) -> None:
        self.cfg = config or VadConfig()
        self.floor_db: float | None = None
        self.in_speech = False
        self._run = 0  # consecutive frames supporting a state change
        self.frames = 0
        self.speech_frames = 0
        # set by the listener when the recogniser's words so far are a whole answer
        self.answer_complete = False

    def feed(self, frame: bytes) -> VadEvent | None:
        """One 20 ms frame; returns an event when speech starts or ends."""
        db = frame_db(frame)
        self.frames += 1
        if self.floor_db is None:
            # Never assume the first frame is the line's noise: callers may talk at once,
            # and some channels send no frames at all until someone speaks.
            self.floor_db = max(min(db, self.cfg.initial_floor_db), self.cfg.min_floor_db)
        cfg = self.cfg
        if not self.in_speech:
            loud = db > self.floor_db + cfg.start_margin_db
            self._run = self._run + 1 if loud else 0
            if not loud:
                self._track_floor(db)
            if self._run * FRAME_MS >= cfg.start_ms:
                self.in_speech, self._run = True, 0
                return VadEvent.SPEECH_START
            return None
        self.speech_frames += 1
        quiet = db < self.floor_db + cfg.stay_margin_db
        self._run = self._run + 1 if quiet else 0
        end_ms = min(cfg.complete_end_ms, cfg.end_ms) if self.answer_complete else cfg.end_ms
        if self._run * FRAME_MS >= end_ms:
            self.in_speech, self._run = False, 0
            return VadEvent.SPEECH_END
        return None

    @property
    def quiet_ms(self) -> int:
        """During speech: how long the caller has been quiet (a pause, or the end)."""
        return self._run * FRAME_MS if self.in_speech else 0

    @property
    def heard_speech(self) -> bool:
        """During speech: the last frame was speech itself (not a pause inside it)."""
        return self.in_speech and self._run == 0

    def _track_floor(self, db: float) -> None:
        assert self.floor_db is not None
        if db < self.floor_db:
            self.floor_db = max(db, self.cfg.min_floor_db)
        else:
            # Learn the line fast in the first second, then only slowly.
            rate = self.cfg.floor_rise_db_per_s * (10 if self.frames <= 50 else 1)
            self.floor_db = min(db, self.floor_db + rate * FRAME_MS / 1000)


def speech_mask(pcm: bytes, config: VadConfig | None = None) -> list[bool]:
    """Per-frame speech/non-speech labels for a whole recording (offline scoring)."""
    vad = Vad(config)
    cfg = vad.cfg
    size = 320
    labels: list[bool] = []
    for i in range(0, len(pcm) - size + 1, size):
        event = vad.feed(pcm[i:i + size])
        labels.append(vad.in_speech)
        # Events are decided with a delay; offline, label the frames that decided them.
        if event is VadEvent.SPEECH_START:
            n = cfg.start_ms // FRAME_MS
            labels[-n:] = [True] * len(labels[-n:])
        elif event is VadEvent.SPEECH_END:
            n = cfg.end_ms // FRAME_MS
            labels[-n:] = [False] * len(labels[-n:])
    return labels

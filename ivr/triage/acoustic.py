"""Acoustic urgency: how stressed a caller sounds, 0-1, and the features behind it.

A HEURISTIC WITHOUT CLINICAL VALIDATION. It was calibrated on synthetic speech
(espeak-ng, calm versus faster/higher/louder) and checked on calm studio
prompts; it has not been measured against real distressed callers. The triage
policy (``triage_rules.yaml``: ``policy.acoustic``) lets it raise a level or
prompt an "is this an emergency?" question, never lower anything.

Features, at telephone rate (8 kHz, mono):

- loudness: median level of speech frames, dBFS;
- pitch: YIN (``librosa.yin``, not pYIN: ~50x faster) over voiced frames,
  median Hz and spread in semitones;
- speech rate: syllable-like energy peaks per second of speech;
- pause pattern: mean phrase length between pauses >= 200 ms (breathless
  callers speak in short bursts) and the share of pauses;
- voicing: share of speech frames that are periodic (breathy or whispered
  speech is less voiced).

Two views, the score is the higher one:

- *relative*: the rest of the call against the caller's own first seconds of
  speech (or an earlier recording of them): pitch rise, loudness rise, rate
  ratio. Speaker and line independent, so it weighs most;
- *absolute*: rate, loudness, pitch spread, phrase length, voicing against
  fixed anchors (telephone speech is about -26 dBFS, conversation 4-5
  syllables/s). Needed when the caller is distressed from the first second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.signal

SR = 8000
HOP = 80  # 10 ms
FRAME = 320  # 40 ms energy frames
YIN_FRAME = 512
FMIN, FMAX = 70.0, 450.0
PAUSE_FRAMES = 20  # 200 ms of silence ends a phrase
BASELINE_SECONDS = 2.0  # of speech
MIN_PART_SECONDS = 1.0

# (feature, calm value -> 0, stressed value -> 1, weight)
ABSOLUTE = (
    ("syllable_rate", 4.5, 7.0, 0.35),
    ("loudness_dbfs", -22.0, -10.0, 0.20),
    ("mean_phrase_s", 1.2, 0.5, 0.20),
    ("pitch_spread_st", 4.5, 8.0, 0.15),
    ("voicing", 0.60, 0.35, 0.10),
)
RELATIVE = (
    ("pitch_rise_st", 1.0, 5.0, 0.40),  # Mandarin tones alone move the median 1-3 st
    ("loudness_rise_db", 3.0, 9.0, 0.35),
    ("rate_ratio", 1.1, 1.6, 0.25),
)
WINDOW_SECONDS = 3.0  # of speech: the relative view compares each such stretch


@dataclass(frozen=True)
class Features:
    duration_s: float
    speech_s: float
    loudness_dbfs: float
    pitch_hz: float
    pitch_spread_st: float
    syllable_rate: float
    mean_phrase_s: float
    phrases: int
    pause_ratio: float
    voicing: float


@dataclass(frozen=True)
class AcousticUrgency:
    score: float
    view: str  # "relative" or "absolute": which one gave the score
    drivers: list[str]  # features that pushed the score up, strongest first
    features: dict[str, float]
    relative: dict[str, float] | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def load_audio(path: Path | str) -> np.ndarray:
    """Mono float32 at 8 kHz, whatever the file's rate."""
    import librosa
    import soundfile

    y, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


@dataclass(frozen=True)
class _Frames:
    db: np.ndarray
    speech: np.ndarray
    voiced: np.ndarray
    f0: np.ndarray


def _frames(y: np.ndarray) -> _Frames:
    import librosa

    f0 = librosa.yin(y, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=YIN_FRAME, hop_length=HOP,
                     center=True)
    frames = librosa.util.frame(np.pad(y, YIN_FRAME // 2), frame_length=YIN_FRAME,
                                hop_length=HOP)
    n = min(frames.shape[1], len(f0))
    frames, f0 = frames[:, :n], f0[:n]
    db = 20 * np.log10(np.sqrt(np.mean(frames[:FRAME] ** 2, axis=0)) + 1e-6)
    floor, peak = np.percentile(db, 10), np.percentile(db, 99)
    speech = db > max(floor + 10.0, peak - 35.0)
    # Voicing: normalised autocorrelation at the YIN period (librosa.yin gives no
    # voicing decision of its own).
    width = YIN_FRAME // 2
    lag = np.clip(np.round(SR / f0).astype(int), 1, YIN_FRAME - width)
    a = frames[:width]
    b = np.take_along_axis(frames, np.arange(width)[:, None] + lag[None, :], axis=0)
    r = (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0) + 1e-12)
    return _Frames(db, speech, speech & (r > 0.6), f0)


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths (frames) of speech runs separated by pauses of PAUSE_FRAMES or more."""
    runs, current, gap = [], 0, 0
    for on in mask:
        if on:
            current, gap = current + 1, 0
        else:
            gap += 1
            if gap == PAUSE_FRAMES and current:
                runs.append(current)
                current = 0
    if current:
        runs.append(current)
    return runs


def _features(fr: _Frames, sl: slice = slice(None)) -> Features:
    db, speech, voiced, f0 = fr.db[sl], fr.speech[sl], fr.voiced[sl], fr.f0[sl]
    seconds = speech.sum() * HOP / SR
    pitch = f0[voiced]
    median = float(np.median(pitch)) if pitch.size else 0.0
    semis = 12 * np.log2(pitch / median) if pitch.size else np.zeros(0)
    semis = semis[np.abs(semis) < 12]  # octave errors are not expression
    floor = float(db.min()) if db.size else 0.0
    envelope = np.convolve(np.where(speech, db, floor), np.ones(5) / 5, mode="same")
    peaks, _ = scipy.signal.find_peaks(envelope, prominence=2.0, distance=8)
    syllables = int(speech[peaks].sum()) if peaks.size else 0
    runs = _runs(speech)
    idx = np.flatnonzero(speech)
    span = (idx[-1] - idx[0] + 1) if idx.size else 0
    return Features(
        duration_s=round(len(db) * HOP / SR, 3), speech_s=round(float(seconds), 3),
        loudness_dbfs=round(float(np.median(db[speech])), 2) if speech.any() else -120.0,
        pitch_hz=round(median, 1),
        pitch_spread_st=round(float(np.std(semis)), 2) if semis.size else 0.0,
        syllable_rate=round(syllables / seconds, 2) if seconds else 0.0,
        mean_phrase_s=round(float(np.mean(runs)) * HOP / SR, 3) if runs else 0.0,
        phrases=len(runs),
        pause_ratio=round(1 - speech.sum() / span, 3) if span else 0.0,
        voicing=round(float(voiced.sum() / speech.sum()), 3) if speech.any() else 0.0)


def _ramp(value: float, calm: float, stressed: float) -> float:
    return float(np.clip((value - calm) / (stressed - calm), 0.0, 1.0))


def _combine(values: dict[str, float], table: tuple[tuple[str, float, float, float], ...]
             ) -> tuple[float, list[tuple[float, str]]]:
    total, weights, parts = 0.0, 0.0, []
    for name, calm, stressed, weight in table:
        if name not in values:
            continue
        sub = _ramp(values[name], calm, stressed)
        total += weight * sub
        weights += weight
        if sub >= 0.3:
            parts.append((weight * sub, f"{name}={values[name]:g}"))
    return (total / weights if weights else 0.0), sorted(parts, reverse=True)


def _windows(fr: _Frames, start: int, seconds: float) -> list[slice]:
    """Consecutive stretches of about ``seconds`` of speech from frame ``start`` on; a
    short tail joins the last stretch."""
    cuts, spoken, begin = [], 0, start
    need = int(seconds * SR / HOP)
    for i in range(start, len(fr.speech)):
        spoken += int(fr.speech[i])
        if spoken >= need:
            cuts.append(slice(begin, i + 1))
            begin, spoken = i + 1, 0
    if spoken * HOP / SR >= MIN_PART_SECONDS or not cuts:
        cuts.append(slice(begin, len(fr.speech)))
    elif cuts:
        cuts[-1] = slice(cuts[-1].start, len(fr.speech))
    return cuts


def _baseline_end(fr: _Frames, seconds: float) -> int | None:
    """Frame index where the caller's first ``seconds`` of speech end, if enough follows."""
    cumulative = np.cumsum(fr.speech) * HOP / SR
    total = cumulative[-1] if cumulative.size else 0.0
    if total < seconds + MIN_PART_SECONDS:
        return None
    return int(np.searchsorted(cumulative, seconds)) + 1


def _relative(base: Features, part: Features) -> dict[str, float]:
    return {
        "pitch_rise_st": round(float(12 * np.log2(part.pitch_hz / base.pitch_hz)), 2)
        if base.pitch_hz and part.pitch_hz else 0.0,
        "loudness_rise_db": round(part.loudness_dbfs - base.loudness_dbfs, 2),
        "rate_ratio": round(float(part.syllable_rate / base.syllable_rate), 3)
        if base.syllable_rate else 1.0,
    }


def score(y: np.ndarray, baseline: np.ndarray | None = None,
          baseline_seconds: float = BASELINE_SECONDS) -> AcousticUrgency:
    """Acoustic urgency of ``y`` (8 kHz mono). ``baseline``: earlier speech of the same
    caller; without it, the first ``baseline_seconds`` of speech in ``y`` serve, and
    each following ~3 s of speech is compared with them (the most changed one counts)."""
    fr = _frames(y)
    whole = _features(fr)
    values = {k: float(v) for k, v in asdict(whole).items()}
    if whole.phrases < 3:
        values.pop("mean_phrase_s")  # one long phrase says nothing about breathlessness
    if whole.speech_s < MIN_PART_SECONDS:
        return AcousticUrgency(0.0, "absolute", ["too little speech"], values, None)
    parts: list[Features] = []
    base: Features | None = None
    if baseline is not None:
        base, parts = _features(_frames(baseline)), [whole]
    elif (end := _baseline_end(fr, baseline_seconds)) is not None:
        base = _features(fr, slice(0, end))
        parts = [_features(fr, w) for w in _windows(fr, end, WINDOW_SECONDS)]
    relative, relative_score, relative_parts = None, 0.0, []
    if base is not None and base.speech_s >= MIN_PART_SECONDS * 0.5:
        for part in parts:
            if part.speech_s < MIN_PART_SECONDS * 0.5:
                continue
            candidate = _relative(base, part)
            cand_score, cand_parts = _combine(candidate, RELATIVE)
            if relative is None or cand_score > relative_score:
                relative, relative_score, relative_parts = candidate, cand_score, cand_parts
    absolute_score, absolute_parts = _combine(values, ABSOLUTE)
    if relative is not None and relative_score > absolute_score:
        return AcousticUrgency(round(relative_score, 3), "relative",
                               [d for _, d in relative_parts], values, relative)
    return AcousticUrgency(round(absolute_score, 3), "absolute",
                           [d for _, d in absolute_parts], values, relative)


def score_file(path: Path | str, baseline: Path | str | None = None) -> AcousticUrgency:
    return score(load_audio(path), load_audio(baseline) if baseline else None)


def warm_up() -> None:
    """librosa compiles YIN with numba on first use (~10 s): do it before timing or calls."""
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    score((0.1 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(SR)).astype(
        np.float32))

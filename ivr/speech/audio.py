"""Small audio helpers shared by TTS, prompts and tests: 8 kHz slin WAV in and out."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

TELEPHONE_RATE = 8000


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1).astype("<i2")
        return data, w.getframerate()


def to_telephone(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample to 8 kHz int16 (soxr: band-limited, no aliasing on the phone line)."""
    if rate == TELEPHONE_RATE:
        return samples.astype("<i2")
    out = soxr.resample(samples.astype(np.float32), rate, TELEPHONE_RATE, quality="HQ")
    return np.clip(np.round(out), -32768, 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int = TELEPHONE_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    tmp.replace(path)  # atomic: Asterisk never plays a half-written prompt


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of int16 samples in dBFS (-inf for digital silence)."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")

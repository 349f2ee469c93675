"""The drill caller's words as a phone-line recording Asterisk plays (sounds/drill/).

espeak-ng English, resampled to 8 kHz 16-bit mono: a poor stand-in for a caller in
distress (see :mod:`ivr.drill.scenarios`), but one every site has (the engine's TTS)."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

from ivr.speech.audio import read_wav, to_telephone, write_wav


def sound_name(stem: str, words: str) -> str:
    """``drill-emergency-1a2b3c4d``: new words make a new file, never a stale one."""
    return f"{stem}-{hashlib.sha256(words.encode()).hexdigest()[:8]}"


def make_sound(folder: Path, stem: str, words: str) -> str:
    """Write ``folder/<name>.wav`` once; returns the name Playback() takes."""
    name = sound_name(stem, words)
    out = folder / f"{name}.wav"
    if out.exists() and out.stat().st_size > 0:
        return name
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        try:
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), words],
                           check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(f"cannot make the drill caller's voice with espeak-ng: "
                               f"{exc}") from None
        samples, rate = read_wav(raw)
        partial = out.with_suffix(".tmp")
        write_wav(partial, to_telephone(samples, rate))
        partial.replace(out)  # Asterisk never plays half a file
    return name

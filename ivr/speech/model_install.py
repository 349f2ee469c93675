"""Install an official Vosk model into ``audio_models/<lang>/``: download, verify, unpack.

The checksum comes from the publisher's own model list (``model-list.json`` beside the
zips), so a truncated or tampered download is refused before anything is unpacked. The
model is unpacked beside its final place and renamed into it: a half-installed model is
never picked up by a running engine. Hospitals often have no internet on the PBX: the
error then names the URL to fetch elsewhere and the folder to put the model in, and
``--from-zip`` installs a zip carried in by hand.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.speech.models import MODEL_BASE_URL, OFFICIAL, canonical, is_model_dir

CATALOG = "model-list.json"
TIMEOUT = 15.0
BLOCK = 1 << 16


class InstallError(RuntimeError):
    """The model could not be installed; the message says what to do instead."""


@dataclass(frozen=True)
class Download:
    lang: str
    name: str
    url: str
    md5: str
    size: int
    target: Path  # where the model will live: audio_models/<lang>


def plan(lang: str, models_dir: Path, base_url: str = MODEL_BASE_URL) -> Download:
    """Which zip to fetch for ``lang`` and its checksum, from the publisher's model list."""
    key = canonical(lang)
    official = OFFICIAL.get(key)
    if official is None or official.name is None:
        raise InstallError(f"no official download for {key}")
    base = base_url if base_url.endswith("/") else base_url + "/"
    url = f"{base}{official.name}.zip"
    target = models_dir / key
    try:
        with urllib.request.urlopen(base + CATALOG, timeout=TIMEOUT) as reply:
            catalog = json.load(reply)
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise InstallError(_offline(key, url, target, exc)) from None
    entry = next((m for m in catalog if m.get("name") == official.name), None)
    if entry is None or not entry.get("md5"):
        raise InstallError(f"{base}{CATALOG} lists no checksum for {official.name}: "
                           "refusing an unverifiable download")
    return Download(key, official.name, url, str(entry["md5"]).lower(),
                    int(entry.get("size") or 0), target)


def fetch(download: Download, dest: Path, on_bytes: Callable[[int], None] = lambda n: None
          ) -> None:
    """Download to ``dest``, checking the MD5 as the bytes arrive."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(download.url, timeout=TIMEOUT) as reply, \
                dest.open("wb") as out:
            while block := reply.read(BLOCK):
                digest.update(block)
                out.write(block)
                on_bytes(len(block))
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise InstallError(_offline(download.lang, download.url, download.target, exc)) from None
    if digest.hexdigest() != download.md5:
        dest.unlink(missing_ok=True)
        raise InstallError(f"checksum mismatch for {download.url}: got {digest.hexdigest()}, "
                           f"expected {download.md5}; nothing was installed")


def verify_md5(path: Path, expected: str) -> None:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise InstallError(f"checksum mismatch for {path}: got {digest.hexdigest()}, "
                           f"expected {expected}; nothing was installed")


def unpack(archive: Path, lang: str, models_dir: Path) -> Path:
    """Unzip next to ``models_dir/<lang>`` and rename into place; the model's folder."""
    target = models_dir / canonical(lang)
    if target.exists() and any(target.iterdir()):
        raise InstallError(f"{target} already exists and is not empty: remove it first")
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".install-{lang}-") as tmp:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)  # drops absolute paths and '..' members
        except zipfile.BadZipFile as exc:
            raise InstallError(f"{archive} is not a zip file: {exc}") from None
        root = Path(tmp)
        candidates = [root] + [p for p in root.iterdir() if p.is_dir()]
        model = next((p for p in candidates if is_model_dir(p)), None)
        if model is None:
            raise InstallError(f"{archive} holds no Vosk model (am/final.mdl, conf/, graph/)")
        if target.exists():
            target.rmdir()
        model.rename(target)
    return target


def install(download: Download, models_dir: Path,
            on_bytes: Callable[[int], None] = lambda n: None) -> Path:
    """Fetch, verify and unpack a planned download; returns the model's folder."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as tmp:
        archive = Path(tmp) / f"{download.name}.zip"
        fetch(download, archive, on_bytes)
        return unpack(archive, download.lang, models_dir)


def _offline(lang: str, url: str, target: Path, exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return (f"cannot download the {lang} model ({reason}). Fetch {url} on a machine with "
            f"internet access, then run `ivr models install {lang} --from-zip FILE.zip`, "
            f"or unzip it into {target}/ so that {target}/am/final.mdl exists")

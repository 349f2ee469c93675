"""Recordings (and other small secrets) encrypted at rest with AES-256-GCM.

File format, all of it covered by the GCM tag::

    b"IVRENC1\\n"                magic and format version
    1 byte n, n bytes           id of the keyring key that sealed it (ASCII)
    12 bytes                    random nonce
    rest                        ciphertext + 16-byte tag

Associated data = magic + key-id field + the caller's *context* (for a
recording, its call id). So a header edited to name another key, a flipped bit
anywhere, or a file copied under another call's name all fail to open, with a
``SealedError``. The plaintext only ever exists in memory: sealing encrypts
first and then writes the ciphertext atomically (0600, temp file + rename), and
``reseal`` (moving a file to the active key after a rotation) does the same.
Whole files are held in memory; call recordings are a few megabytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ivr.privacy._errors import KeyringError, SealedError
from ivr.privacy._files import write_private
from ivr.privacy.keyring import Keyring

MAGIC = b"IVRENC1\n"
NONCE_BYTES = 12
TAG_BYTES = 16


def seal(keyring: Keyring, plain: bytes, context: str) -> bytes:
    """``plain`` encrypted under the keyring's active key, bound to ``context``."""
    header = _header(keyring.active_id)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.active_key).encrypt(nonce, plain, header + _context(context))
    return header + nonce + sealed


def unseal(keyring: Keyring, blob: bytes, context: str, *, origin: str = "sealed data") -> bytes:
    """The plaintext of ``seal(...)``; ``origin`` (e.g. the file) names it in errors."""
    key_id, nonce, sealed = _parse(blob, origin)
    try:
        key = keyring.key(key_id)
    except KeyringError as exc:
        raise KeyringError(f"{origin}: sealed with key '{key_id}', which the keyring lacks: "
                           f"{exc}") from None
    try:
        return AESGCM(key).decrypt(nonce, sealed, _header(key_id) + _context(context))
    except InvalidTag:
        raise SealedError(f"{origin}: cannot be opened: it was altered, or sealed for another "
                          f"context than {context!r}, or key '{key_id}' is not the one "
                          "that sealed it") from None


def sealed_key_id(blob: bytes, *, origin: str = "sealed data") -> str:
    """Which key sealed ``blob`` (no decryption): a rotation job's list of files to reseal."""
    return _parse(blob, origin)[0]


def seal_file(keyring: Keyring, plain: bytes, path: Path | str, context: str) -> Path:
    """Seal ``plain`` into ``path`` (mode 0600, written atomically); returns the path."""
    path = Path(path)
    write_private(path, seal(keyring, plain, context))
    return path


def open_file(keyring: Keyring, path: Path | str, context: str) -> bytes:
    """The plaintext of a file written by ``seal_file`` with the same ``context``."""
    path = Path(path)
    return unseal(keyring, _read(path), context, origin=str(path))


def file_key_id(path: Path | str) -> str:
    """Which key sealed the file at ``path`` (no decryption)."""
    path = Path(path)
    return sealed_key_id(_read(path), origin=str(path))


def reseal(keyring: Keyring, path: Path | str, context: str) -> bool:
    """Re-encrypt ``path`` under the active key if another key sealed it.

    Returns True if the file was rewritten. The file is verified (opened) first, so
    a damaged file is reported, never replaced.
    """
    path = Path(path)
    blob = _read(path)
    key_id = sealed_key_id(blob, origin=str(path))
    if key_id == keyring.active_id:
        return False
    plain = unseal(keyring, blob, context, origin=str(path))
    write_private(path, seal(keyring, plain, context))
    return True


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    if not 0 < len(raw) < 256:
        raise SealedError(f"key id {key_id!r} must be 1..255 ASCII characters")
    return MAGIC + bytes([len(raw)]) + raw


def _context(context: str) -> bytes:
    if not context:
        raise ValueError("a context (e.g. the call id) is required: it binds the data to it")
    return context.encode("utf-8")


def _parse(blob: bytes, origin: str) -> tuple[str, bytes, bytes]:
    if not blob.startswith(MAGIC):
        raise SealedError(f"{origin}: not a sealed file (no {MAGIC!r} header)")
    at = len(MAGIC)
    if len(blob) <= at:
        raise SealedError(f"{origin}: truncated (no key id)")
    n = blob[at]
    key_raw = blob[at + 1:at + 1 + n]
    body = blob[at + 1 + n:]
    if n == 0 or len(key_raw) < n or len(body) < NONCE_BYTES + TAG_BYTES:
        raise SealedError(f"{origin}: truncated")
    try:
        key_id = key_raw.decode("ascii")
    except UnicodeDecodeError:
        raise SealedError(f"{origin}: damaged header (key id is not ASCII)") from None
    return key_id, body[:NONCE_BYTES], body[NONCE_BYTES:]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SealedError(f"{path}: cannot read: {exc.strerror or exc}") from None

"""The keyring: AES keys for recordings and numbers at rest, and the caller-hash key.

One small JSON file, readable by the engine's user only::

    {"active": "k2",
     "keys": {"k1": "<base64 of 32 bytes>", "k2": "<base64 of 32 bytes>"},
     "hash_key": "<base64 of 32 bytes>"}

New data is sealed under the ``active`` key; older keys stay so that what they
sealed can still be opened, until it is resealed (``ivr.privacy.sealed.reseal``)
and the old key can be retired. The hash key never rotates: every caller hash
in the database depends on it.

Where it comes from (``Keyring.from_environment``): ``IVR_KEYRING`` holding the
JSON itself (secrets managers, containers), else ``IVR_KEYRING_FILE`` naming an
existing file, else ``<state_dir>/keys.json``, created on first use. An
explicitly named file is never created: a typo in the path must not quietly
start a second set of keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from ivr.privacy._errors import KeyringError
from ivr.privacy._files import private_dir, write_private

KEY_BYTES = 32  # AES-256
KEYRING_ENV = "IVR_KEYRING"
KEYRING_FILE_ENV = "IVR_KEYRING_FILE"
KEYRING_FILE = "keys.json"
KEY_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FIELDS = {"active", "keys", "hash_key"}


class Keyring:
    """Keys by id, the active id, and the hash key. ``repr`` never shows key material."""

    def __init__(self, active: str, keys: Mapping[str, bytes], hash_key: bytes,
                 path: Path | None = None, origin: str | None = None) -> None:
        self._active = active
        self._keys = dict(keys)
        self._hash_key = hash_key
        self.path = path
        # how errors name this keyring: its file, or the environment variable it came from
        self.origin = origin or (str(path) if path else "<memory>")
        self._check(self.origin)

    # --- construction ------------------------------------------------------------------

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        """A fresh keyring with one key ``k1`` (not saved)."""
        return cls("k1", {"k1": _random_key()}, _random_key(), path)

    @classmethod
    def from_json(cls, text: str, origin: str, path: Path | None = None) -> Keyring:
        """Parse the JSON form; ``origin`` names the source in errors."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyringError(f"{origin}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise KeyringError(f"{origin}: expected a JSON object with {sorted(_FIELDS)}")
        missing, unknown = _FIELDS - set(data), set(data) - _FIELDS
        if missing or unknown:
            raise KeyringError(f"{origin}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        if not isinstance(data["keys"], dict) or not data["keys"]:
            raise KeyringError(f"{origin}: 'keys' must map key ids to base64 keys")
        if not isinstance(data["active"], str):
            raise KeyringError(f"{origin}: 'active' must be a key id")
        keys = {kid: _decode(value, origin, f"keys.{kid}") for kid, value in data["keys"].items()}
        return cls(data["active"], keys, _decode(data["hash_key"], origin, "hash_key"),
                   path, origin)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read an existing keyring file; it must be private to its owner (like ssh keys)."""
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyringError(f"{path}: no keyring file here") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyringError(f"{path}: cannot read the keyring: {exc}") from None
        if os.name == "posix" and mode & 0o077:
            raise KeyringError(f"{path}: keyring is open to other users (mode {mode:04o}); "
                               f"run: chmod 600 {path}")
        return cls.from_json(text, str(path), path)

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """Read ``path``, or create it (mode 0600) with fresh keys if there is none."""
        if not path.exists():
            made = cls.generate(path)
            try:
                write_private(path, made.to_json().encode(), exclusive=True)
            except FileExistsError:  # another process created it first: use theirs
                pass
            except OSError as exc:
                raise KeyringError(f"{path}: cannot create the keyring: {exc}") from None
            else:
                return made
        return cls.load(path)

    @classmethod
    def from_environment(cls, state_dir: Path,
                         environ: Mapping[str, str] | None = None) -> Keyring:
        """``IVR_KEYRING`` (JSON), else ``IVR_KEYRING_FILE`` (must exist), else
        ``<state_dir>/keys.json`` (created on first use)."""
        env = os.environ if environ is None else environ
        if env.get(KEYRING_ENV):
            return cls.from_json(env[KEYRING_ENV], KEYRING_ENV)
        if env.get(KEYRING_FILE_ENV):
            path = Path(env[KEYRING_FILE_ENV])
            if not path.exists():
                raise KeyringError(f"{path}: no keyring file here (named by {KEYRING_FILE_ENV}; "
                                   "it is not created automatically)")
            return cls.load(path)
        return cls.load_or_create(private_dir(state_dir, tighten=True) / KEYRING_FILE)

    # --- use -----------------------------------------------------------------------------

    @property
    def active_id(self) -> str:
        return self._active

    @property
    def active_key(self) -> bytes:
        return self._keys[self._active]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def hash_key(self) -> bytes:
        return self._hash_key

    def key(self, key_id: str) -> bytes:
        """The key ``key_id``. If another process rotated the file since it was read, the
        file is read again once before giving up."""
        if key_id not in self._keys and self.path is not None and self.path.exists():
            self._adopt(Keyring.load(self.path))
        try:
            return self._keys[key_id]
        except KeyError:
            raise KeyringError(f"{self.origin}: no key '{key_id}' (keys: "
                               f"{', '.join(self._keys)})") from None

    def rotate(self) -> str:
        """Add a new key, make it active, save the file; returns the new id.

        Starts from the file as it is now, so a key added by another process is kept.
        Older keys stay (they still open what they sealed).
        """
        if self.path is None:
            raise KeyringError(f"{self.origin}: this keyring has no file, so a rotation "
                               "could not be saved; rotate it where it is kept")
        current = Keyring.load(self.path) if self.path.exists() else self
        new_id = _next_id(current._keys)
        rotated = Keyring(new_id, {**current._keys, new_id: _random_key()}, current._hash_key,
                          self.path)
        rotated.save()
        self._adopt(rotated)
        return new_id

    def save(self, path: Path | None = None) -> None:
        """Write the keyring atomically, mode 0600 (to ``path``, or where it came from)."""
        target = path or self.path
        if target is None:
            raise KeyringError(f"{self.origin}: no file to save the keyring to")
        try:
            write_private(target, self.to_json().encode())
        except OSError as exc:
            raise KeyringError(f"{target}: cannot write the keyring: {exc}") from None

    def to_json(self) -> str:
        return json.dumps({
            "active": self._active,
            "keys": {kid: _encode(key) for kid, key in self._keys.items()},
            "hash_key": _encode(self._hash_key),
        }, indent=2) + "\n"

    def __repr__(self) -> str:
        return f"Keyring({self.origin!r}, active={self._active!r}, keys={list(self._keys)})"

    # --- internals -------------------------------------------------------------------------

    def _adopt(self, other: Keyring) -> None:
        self._active, self._keys, self._hash_key = other._active, other._keys, other._hash_key

    def _check(self, origin: str) -> None:
        for kid, key in self._keys.items():
            if not KEY_ID.match(kid):
                raise KeyringError(f"{origin}: key id '{kid}' must match {KEY_ID.pattern}")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"{origin}: key '{kid}' must be {KEY_BYTES} bytes")
        if self._active not in self._keys:
            raise KeyringError(f"{origin}: active key '{self._active}' is not in keys")
        if len(self._hash_key) != KEY_BYTES:
            raise KeyringError(f"{origin}: hash_key must be {KEY_BYTES} bytes")


def _random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _encode(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _decode(value: object, origin: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise KeyringError(f"{origin}: {where} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{origin}: {where} is not valid base64") from None


def _next_id(keys: Mapping[str, bytes]) -> str:
    numbers = [int(kid[1:]) for kid in keys if re.fullmatch(r"k[0-9]+", kid)]
    n = max(numbers, default=0) + 1
    while f"k{n}" in keys:
        n += 1
    return f"k{n}"

"""The privacy the call records use: masking, keyed hashes and sealing, in one object.

The recorder depends on this small surface only (``RecordPrivacy``), so the
rules (``privacy.yaml``) and the keys (the keyring) stay in this package.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Any

from ivr.privacy import sealed
from ivr.privacy._files import private_dir
from ivr.privacy.hashing import hash_number
from ivr.privacy.keyring import Keyring
from ivr.privacy.masking import Masker, default_masker, mask_number


class RecordsPrivacy:
    def __init__(self, masker: Masker, keyring: Keyring) -> None:
        self.masker = masker
        self.keyring = keyring

    def mask(self, text: str) -> str:
        return self.masker.mask(text) if text else text

    def mask_value(self, value: Any) -> Any:
        return self.masker.mask_value(value)

    def caller_hash(self, number: str) -> str:
        """Empty for withheld numbers: anonymous callers are not one person."""
        return hash_number(self.keyring.hash_key, number) or ""

    def hash_value(self, value: str, purpose: str) -> str:
        """Keyed hash of another identifier (date of birth...); ``purpose`` keeps the
        hashes of different kinds of value apart."""
        msg = f"{purpose}:{value}".encode()
        return hmac.new(self.keyring.hash_key, msg, hashlib.sha256).hexdigest()[:32]

    def display_number(self, number: str) -> str:
        return mask_number(number)

    def seal_number(self, number: str, context: str) -> bytes:
        return sealed.seal(self.keyring, number.encode(), context)

    def open_number(self, blob: bytes, context: str) -> str:
        return sealed.unseal(self.keyring, blob, context).decode()

    def seal_file(self, data: bytes, path: Path, context: str) -> str:
        private_dir(path.parent)  # recordings/<call>/: 0700, recordings/ too
        sealed.seal_file(self.keyring, data, path, context)
        return self.keyring.active_id

    def open_file(self, path: Path, context: str) -> bytes:
        return sealed.open_file(self.keyring, path, context)


@lru_cache(maxsize=4)
def _cached(state_dir: Path) -> RecordsPrivacy:
    return RecordsPrivacy(Masker.from_file(), Keyring.from_environment(state_dir))


def records_privacy(state_dir: Path) -> RecordsPrivacy:
    """From ``privacy.yaml`` and the keyring (``IVR_KEYRING``/``IVR_KEYRING_FILE`` or
    ``<state_dir>/keys.json``, created on first use). The caller names the state folder
    (``settings.state_dir``): an engine with its own folder keeps its own keys."""
    return _cached(Path(state_dir))


def ephemeral_privacy() -> RecordsPrivacy:
    """The same rules with a fresh in-memory keyring, for records that live no longer
    than the process (simulations): nothing is written, and nothing sealed here can be
    opened later, which is the point."""
    return RecordsPrivacy(default_masker(), Keyring.generate())

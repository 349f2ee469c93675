"""A keyed hash of a caller's number: find a caller's earlier calls without storing the number.

A plain SHA-256 of a phone number is no protection: there are only about 10^11
Chinese numbers, and hashing them all takes minutes. An HMAC with a secret key
(the keyring's ``hash_key``, a "pepper" kept apart from the database and from
the encryption keys) cannot be reversed that way by someone holding only the
database. The same number must hash the same however the trunk spelled it, so
the number is normalised first (``normalise_number``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

HASH_HEX_CHARS = 32  # 128 bits: ample against collisions among a hospital's callers

_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def normalise_number(number: str) -> str:
    """Digits only, in the form a Chinese caller dials them at home.

    - full-width digits count; everything else (``+``, spaces, dashes) is dropped;
    - ``+86``/``0086``/``86`` before an 11-digit mobile is dropped, and so is a
      trunk's long-distance ``0`` before one: ``+86 138-0013-8000`` -> ``13800138000``;
    - ``+86``/``0086`` before a landline becomes the domestic ``0``:
      ``+86 10 6234 5678`` -> ``01062345678``;
    - anything else (foreign numbers, short extensions) is just its digits.

    >>> normalise_number("+86 138-0013-8000")
    '13800138000'
    """
    text = unicodedata.normalize("NFKC", number or "").strip()
    digits = re.sub(r"[^0-9]", "", text)
    international = text.startswith("+") or digits.startswith("00")
    rest = digits.removeprefix("00") if digits.startswith("00") else digits
    for prefix in ("86", "0"):
        if rest.startswith(prefix) and _MOBILE.fullmatch(rest[len(prefix):]):
            return rest[len(prefix):]
    if _MOBILE.fullmatch(rest):
        return rest
    if international and rest.startswith("86") and 9 <= len(rest) - 2 <= 11:
        return "0" + rest[2:]
    return rest if international else digits


def hash_number(key: bytes, number: str, length: int = HASH_HEX_CHARS) -> str | None:
    """HMAC-SHA256 of the normalised number, as ``length`` hex characters.

    None when the number has no digits (anonymous or withheld callers): they are
    not one person, so they must not share a hash.
    """
    if len(key) < 16:
        raise ValueError("the hash key must be at least 16 bytes")
    if not 16 <= length <= 64:
        raise ValueError("length must be 16..64 hex characters")
    digits = normalise_number(number)
    if not digits:
        return None
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()[:length]

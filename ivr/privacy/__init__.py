"""Privacy primitives for call records: masking, caller hashes, keys, sealed files,
retention policy and roles.

Public API::

    from ivr.privacy import Masker, Keyring, hash_number, seal_file, open_file
    masker = Masker.from_file()            # privacy.yaml, or the built-in rules
    masker.mask("my number is 138 0013 8000")  # 'my number is [PHONE …00]'
    install_log_masking(masker)            # every log record of the process, masked
    keys = Keyring.from_environment(settings.state_dir)
    hash_number(keys.hash_key, "+86 138-0013-8000")   # 32 hex characters
    seal_file(keys, audio, path, context=call_id); open_file(keys, path, call_id)
    RetentionPolicy.from_file().cutoff("recordings", datetime.now(UTC))
    Actor("li.na", Role.AGENT).require(Action.PLAY_RECORDING)   # AccessDenied

Modules, one job each: ``masking`` (identifiers in text, dicts and logs),
``hashing`` (keyed hash of a number), ``keyring`` (the key file), ``sealed``
(AES-GCM files), ``retention`` (days to keep, cutoffs), ``roles`` (who may do
what). Exceptions::

    PrivacyError
    ├── PrivacyConfigError   privacy.yaml unreadable or invalid (file:line:col: key: ...)
    ├── KeyringError         keyring unreadable, corrupt, open to others, or lacks a key id
    ├── SealedError          a sealed file altered, not ours, or for another context
    └── AccessDenied         a role asked for an action it is not granted (also PermissionError)
"""

from ivr.privacy._errors import (
    AccessDenied,
    KeyringError,
    PrivacyConfigError,
    PrivacyError,
    SealedError,
)
from ivr.privacy.hashing import hash_number, normalise_number
from ivr.privacy.keyring import Keyring
from ivr.privacy.masking import (
    Masker,
    MaskingFilter,
    default_masker,
    install_log_masking,
    mask_number,
    mask_value,
    uninstall_log_masking,
)
from ivr.privacy.retention import RecordKind, RetentionPolicy
from ivr.privacy.roles import Action, Actor, Role, allowed, require
from ivr.privacy.sealed import file_key_id, open_file, reseal, seal, seal_file, unseal

__all__ = [
    "AccessDenied", "Action", "Actor", "Keyring", "KeyringError", "Masker", "MaskingFilter",
    "PrivacyConfigError", "PrivacyError", "RecordKind", "RetentionPolicy", "Role", "SealedError",
    "allowed", "default_masker", "file_key_id", "hash_number", "install_log_masking",
    "mask_number", "mask_value", "normalise_number", "open_file", "require", "reseal", "seal",
    "seal_file", "uninstall_log_masking", "unseal",
]

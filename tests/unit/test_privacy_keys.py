"""Keyring, caller hashes and sealed files: rotation, tampering, modes, no plaintext on disk."""

import base64
import json
import os
import stat

import pytest

from ivr.privacy import KeyringError, SealedError
from ivr.privacy.hashing import hash_number, normalise_number
from ivr.privacy.keyring import Keyring
from ivr.privacy.sealed import (
    MAGIC,
    file_key_id,
    open_file,
    reseal,
    seal,
    seal_file,
    unseal,
)

AUDIO = b"RIFF....WAVEfmt " + b"patient says: my number is 13800138000, chest pain" * 40
CALL = "6f1c2a9e-call-0001"


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def keyring(tmp_path):
    return Keyring.load_or_create(tmp_path / "state" / "keys.json")


# --- keyring -----------------------------------------------------------------------------

def test_load_or_create_makes_a_private_file_and_reads_it_back(tmp_path):
    path = tmp_path / "state" / "keys.json"
    made = Keyring.load_or_create(path)
    assert mode(path) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"active", "keys", "hash_key"} and data["active"] == "k1"
    assert len(base64.b64decode(data["keys"]["k1"])) == 32
    again = Keyring.load_or_create(path)
    assert again.active_key == made.active_key and again.hash_key == made.hash_key
    assert made.hash_key != made.active_key
    assert data["keys"]["k1"] not in repr(made) and "k1" in repr(made)
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temp files left


def test_rotate_adds_an_active_key_and_keeps_the_old(keyring):
    k1 = keyring.active_key
    assert keyring.rotate() == "k2"
    assert keyring.active_id == "k2" and keyring.key("k1") == k1 and keyring.active_key != k1
    on_disk = Keyring.load(keyring.path)
    assert on_disk.active_id == "k2" and on_disk.key_ids == ("k1", "k2")
    assert on_disk.hash_key == keyring.hash_key  # the hash key never rotates
    assert mode(keyring.path) == 0o600
    assert len(list(keyring.path.parent.iterdir())) == 1


def test_rotate_starts_from_the_file_not_a_stale_copy(keyring):
    stale = Keyring.load(keyring.path)
    keyring.rotate()  # another process rotated: k2
    assert stale.rotate() == "k3"
    assert Keyring.load(keyring.path).key_ids == ("k1", "k2", "k3")


def test_missing_key_id_names_the_file_and_the_id(keyring):
    with pytest.raises(KeyringError, match=r"keys\.json: no key 'k9' \(keys: k1\)"):
        keyring.key("k9")


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"active": "k1", "keys": {}}', "missing \\['hash_key'\\]"),
    (json.dumps({"active": "k2", "keys": {"k1": base64.b64encode(b"x" * 32).decode()},
                 "hash_key": base64.b64encode(b"y" * 32).decode()}),
     "active key 'k2' is not in keys"),
    (json.dumps({"active": "k1", "keys": {"k1": base64.b64encode(b"short").decode()},
                 "hash_key": base64.b64encode(b"y" * 32).decode()}), "must be 32 bytes"),
    (json.dumps({"active": "k1", "keys": {"k1": "%%%"}, "hash_key": "x"}),
     "keys.k1 is not valid base64"),
])
def test_corrupt_keyring_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=message) as err:
        Keyring.load_or_create(path)
    assert str(path) in str(err.value)


def test_keyring_open_to_others_is_refused(keyring):
    keyring.path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.load(keyring.path)


def test_from_environment(tmp_path, keyring):
    from_json = Keyring.from_environment(tmp_path, {"IVR_KEYRING": keyring.to_json()})
    assert from_json.active_key == keyring.active_key and from_json.path is None
    with pytest.raises(KeyringError, match="IVR_KEYRING: this keyring has no file"):
        from_json.rotate()
    named = Keyring.from_environment(tmp_path, {"IVR_KEYRING_FILE": str(keyring.path)})
    assert named.active_key == keyring.active_key
    with pytest.raises(KeyringError, match=r"typo\.json: no keyring file.*IVR_KEYRING_FILE"):
        Keyring.from_environment(tmp_path, {"IVR_KEYRING_FILE": str(tmp_path / "typo.json")})
    assert not (tmp_path / "typo.json").exists()
    default = Keyring.from_environment(tmp_path / "fresh", {})
    assert default.path == tmp_path / "fresh" / "keys.json" and default.path.exists()


# --- caller hashes -----------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "normal"), [
    ("13800138000", "13800138000"),
    ("+86 138-0013-8000", "13800138000"),
    ("008613800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("013800138000", "13800138000"),
    ("１３８００１３８０００", "13800138000"),
    ("+86 10 6234 5678", "01062345678"),
    ("010-62345678", "01062345678"),
    ("+44 20 7946 0958", "442079460958"),
    ("1001", "1001"),
    ("anonymous", ""),
])
def test_normalise_number(raw, normal):
    assert normalise_number(raw) == normal


def test_hash_is_keyed_stable_and_hides_the_number(keyring):
    h = hash_number(keyring.hash_key, "13800138000")
    assert h is not None and len(h) == 32 and int(h, 16) >= 0
    assert hash_number(keyring.hash_key, "+86 138 0013 8000") == h
    assert hash_number(keyring.hash_key, "13900139000") != h
    assert hash_number(os.urandom(32), "13800138000") != h  # another site, another hash
    assert "13800138000" not in h
    assert len(hash_number(keyring.hash_key, "13800138000", length=64)) == 64


def test_anonymous_callers_get_no_hash(keyring):
    assert hash_number(keyring.hash_key, "") is None
    assert hash_number(keyring.hash_key, "anonymous") is None


def test_short_hash_key_is_refused():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        hash_number(b"pepper", "13800138000")


# --- sealed files ------------------------------------------------------------------------

def test_seal_file_round_trip_private_and_without_plaintext(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "rec" / "turn1.wav.enc", CALL)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC + b"\x02k1")
    for fragment in (b"13800138000", b"chest pain", b"RIFF", b"patient says"):
        assert fragment not in raw
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["turn1.wav.enc"]
    assert open_file(keyring, path, CALL) == AUDIO


def test_wrong_context_fails(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    with pytest.raises(SealedError, match="another context than 'other-call'"):
        open_file(keyring, path, "other-call")


def test_wrong_key_fails(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    other = Keyring.generate()  # also has a 'k1', but a different one
    with pytest.raises(SealedError, match="cannot be opened"):
        open_file(other, path, CALL)


@pytest.mark.parametrize("where", ["key_id", "nonce", "ciphertext", "tag"])
def test_any_flipped_byte_fails(keyring, tmp_path, where):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    raw = bytearray(path.read_bytes())
    at = {"key_id": len(MAGIC) + 2, "nonce": len(MAGIC) + 4, "ciphertext": 40,
          "tag": len(raw) - 1}[where]
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises((SealedError, KeyringError)):  # a changed key id: no such key
        open_file(keyring, path, CALL)


def test_not_a_sealed_file(keyring, tmp_path):
    plain = tmp_path / "plain.wav"
    plain.write_bytes(AUDIO)
    with pytest.raises(SealedError, match=r"plain\.wav: not a sealed file"):
        open_file(keyring, plain, CALL)
    (tmp_path / "short.enc").write_bytes(MAGIC + b"\x02k1" + b"\x00" * 5)
    with pytest.raises(SealedError, match="truncated"):
        open_file(keyring, tmp_path / "short.enc", CALL)
    with pytest.raises(SealedError, match=r"missing\.enc: cannot read"):
        open_file(keyring, tmp_path / "missing.enc", CALL)


def test_rotation_old_files_open_and_reseal_moves_them(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    keyring.rotate()
    assert file_key_id(path) == "k1"
    assert open_file(keyring, path, CALL) == AUDIO  # still opens after the rotation
    new = seal_file(keyring, b"later", tmp_path / "b.enc", "call-2")
    assert file_key_id(new) == "k2"

    assert reseal(keyring, path, CALL) is True
    assert file_key_id(path) == "k2" and mode(path) == 0o600
    assert reseal(keyring, path, CALL) is False  # already under the active key
    assert b"13800138000" not in path.read_bytes()
    only_k2 = Keyring("k2", {"k2": keyring.key("k2")}, keyring.hash_key)
    assert open_file(only_k2, path, CALL) == AUDIO  # k1 can now be retired
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.enc", "b.enc", "state"]


def test_file_sealed_under_a_retired_key_names_it(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    keyring.rotate()
    only_k2 = Keyring("k2", {"k2": keyring.key("k2")}, keyring.hash_key)
    with pytest.raises(KeyringError, match=r"a\.enc: sealed with key 'k1'.*no key 'k1'"):
        open_file(only_k2, path, CALL)


def test_another_process_rotated_the_file(keyring, tmp_path):
    reader = Keyring.load(keyring.path)  # e.g. the report server, loaded before
    keyring.rotate()
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    assert open_file(reader, path, CALL) == AUDIO  # it reads the file again for k2


def test_reseal_refuses_a_damaged_file_and_leaves_it(keyring, tmp_path):
    path = seal_file(keyring, AUDIO, tmp_path / "a.enc", CALL)
    keyring.rotate()
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SealedError):
        reseal(keyring, path, CALL)
    assert path.read_bytes() == bytes(raw)


def test_seal_in_memory_for_a_number(keyring):
    blob = seal(keyring, b"13800138000", "followup-7")
    assert b"13800138000" not in blob
    assert unseal(keyring, blob, "followup-7") == b"13800138000"
    assert seal(keyring, b"13800138000", "followup-7") != blob  # fresh nonce every time
    with pytest.raises(SealedError):
        unseal(keyring, blob, "followup-8")
    with pytest.raises(ValueError, match="context"):
        seal(keyring, b"x", "")

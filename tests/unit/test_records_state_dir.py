"""Call records keep their state (keyring, journal, recordings) where the settings they
are given say, never under the default state folder; the simulator's in-memory records
write nothing at all.

Each test points the default elsewhere (``IVR_STATE_DIR`` to a folder of its own, the
working directory to an empty one, no keyring in the environment), so any hidden
``load_settings()`` in the records code would create that folder: it must stay absent.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from ivr.engine import Engine
from ivr.pbx import PbxInstance
from ivr.settings import Settings
from ivr.store.recorder import CallRecorder

NUMBER = "13800138000"


@pytest.fixture
def default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the default settings would keep state in this test; it must never appear."""
    default = tmp_path / "default-state"
    monkeypatch.setenv("IVR_STATE_DIR", str(default))
    for name in ("IVR_KEYRING", "IVR_KEYRING_FILE", "IVR_CONFIG", "IVR_ENGINE__DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield default
    assert not default.exists(), sorted(map(str, default.rglob("*")))
    assert not any(cwd.iterdir()), sorted(p.name for p in cwd.iterdir())


def _closed_port() -> int:
    """A loopback port nothing listens on: a database server that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _call(rec: CallRecorder) -> str:
    call_id = await rec.start("1700.1", "PJSIP/t-1", NUMBER, "main", "v1")
    await rec.event(call_id, "turn", "ask", text="my number is 13800138000")
    await rec.recording(call_id, b"\x10\x00" * 800)
    await rec.finish(call_id, "goodbye")
    return call_id


async def test_records_keep_keys_journal_and_recordings_in_the_given_state_dir(
        tmp_path: Path, default_dir: Path) -> None:
    mine = tmp_path / "mine"
    # the database server is down: every write goes to the journal
    url = f"postgresql+psycopg://ivr:pw@127.0.0.1:{_closed_port()}/ivr"
    settings = Settings(state_dir=mine, engine={"database_url": url})
    rec = CallRecorder(settings.database_url, settings=settings)
    try:
        call_id = await _call(rec)
        assert rec.journal is not None
        assert rec.journal.path == mine / "journal" / "records.jsonl"
        assert [op["op"] for op in rec.journal.ops()][:2] == ["start", "event"]
        [sealed] = (mine / "recordings" / call_id).glob("*.wav.sealed")
        assert rec.privacy.open_file(sealed, call_id)[:4] == b"RIFF"
        assert (mine / "keys.json").is_file()
        assert rec.privacy.keyring.path == mine / "keys.json"
        assert NUMBER not in rec.journal.path.read_text()
    finally:
        rec.close()


async def test_in_memory_records_write_nothing_to_disk(tmp_path: Path,
                                                       default_dir: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    rec = CallRecorder("sqlite://")
    try:
        call_id = await _call(rec)
        assert rec.journal is None and rec.recordings_dir is None
        assert rec.privacy.keyring.path is None  # an ephemeral keyring
        assert rec.get(call_id).outcome == "goodbye"
        assert rec.history(NUMBER).calls  # the same key hashes the caller each time
    finally:
        rec.close()
    assert sorted(tmp_path.rglob("*")) == before


def test_a_server_database_without_settings_is_refused(default_dir: Path) -> None:
    """Records hashed with a key nobody kept could never be looked up again."""
    with pytest.raises(ValueError, match="need settings"):
        CallRecorder(f"postgresql+psycopg://ivr:pw@127.0.0.1:{_closed_port()}/ivr")


async def test_an_engine_with_its_own_state_dir_keeps_its_records_there(
        tmp_path: Path, default_dir: Path) -> None:
    mine = tmp_path / "mine"
    settings = Settings(state_dir=mine, engine={"agi_port": 0, "audiosocket_port": 0},
                        followups={"enabled": False})
    engine = Engine(settings, PbxInstance(settings))
    await engine.start(connect_ami=False, require_ami=False)
    try:
        rec = engine.recorder
        assert rec is not None and rec.journal is not None
        assert rec.journal.path == mine / "journal" / "records.jsonl"
        assert rec.recordings_dir == mine / "recordings"
        call_id = await _call(rec)
        assert list((mine / "recordings" / call_id).glob("*.wav.sealed"))
        assert (mine / "keys.json").is_file() and (mine / "ivr.sqlite3").is_file()
    finally:
        await asyncio.wait_for(engine.stop(), 30)

"""Private files: the call records database (and its -wal/-shm), journal, recordings,
keyring, secrets and Asterisk's rendered config are 0600 in 0700 folders - by their
explicit modes, not by luck of the umask (each test runs under a permissive 0022)."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from ivr.pbx.render import ConfValues, default_maxload, render_conf
from ivr.privacy._files import private_dir, private_file
from ivr.settings import Settings
from ivr.store.recorder import CallRecorder


@pytest.fixture(autouse=True)
def permissive_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_to_others(folder: Path) -> list[str]:
    """Everything under ``folder`` (itself included) that group or others may use."""
    return [f"{p} {mode(p):04o}" for p in [folder, *folder.rglob("*")] if mode(p) & 0o077]


async def _call(rec: CallRecorder) -> str:
    call_id = await rec.start("1700.1", "PJSIP/t-1", "13800138000", "main", "v1")
    await rec.event(call_id, "turn", "ask", text="my chest hurts")
    await rec.recording(call_id, b"\x10\x00" * 800)
    await rec.finish(call_id, "goodbye")
    return call_id


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_records_database_recordings_and_keyring_are_private(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    settings = Settings(state_dir=state,
                        engine={"database_url": f"sqlite:///{state / 'ivr.sqlite3'}"})
    rec = CallRecorder(settings.database_url, settings=settings)
    try:
        call_id = await _call(rec)
        names = {p.name for p in state.iterdir()}
        assert {"ivr.sqlite3", "ivr.sqlite3-wal", "keys.json", "recordings"} <= names
        assert list((state / "recordings" / call_id).glob("*.sealed"))
        assert open_to_others(state) == []
    finally:
        rec.close()


async def test_the_journal_of_a_database_outage_is_private(tmp_path):
    state = tmp_path / "state"
    url = f"postgresql+psycopg://ivr:pw@127.0.0.1:{_closed_port()}/ivr"
    settings = Settings(state_dir=state, engine={"database_url": url})
    rec = CallRecorder(settings.database_url, settings=settings)
    try:
        await _call(rec)
        assert rec.journal is not None and rec.journal.path.is_file()
        assert open_to_others(state) == []
    finally:
        rec.close()


def test_secrets_are_private_and_an_older_file_gains_the_agi_secret(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)  # made by an older version, open to all
    first = Settings(state_dir=state).secrets
    path = state / "secrets.json"
    assert mode(state) == 0o700 and mode(path) == 0o600
    assert len(first.agi_secret) == 64
    older = json.loads(path.read_text())
    del older["agi_secret"]
    path.write_text(json.dumps(older))
    path.chmod(0o644)
    again = Settings(state_dir=state).secrets
    assert again.ami_secret == first.ami_secret  # kept
    assert again.agi_secret and again.agi_secret != first.agi_secret  # made, and saved:
    assert json.loads(path.read_text())["agi_secret"] == again.agi_secret
    assert mode(path) == 0o600
    assert Settings(state_dir=state).secrets == again  # stable from then on


def test_rendered_asterisk_config_is_private(tmp_path):
    values = ConfValues(inst="/ivr/t", moddir="/m", host="127.0.0.1", ami_port=1,
                        ami_user="ivr", ami_secret="s", sip_port=2, rtp_start=3, rtp_end=4,
                        engine_host="127.0.0.1", agi_port=5, fallback_queue="operator",
                        agents={"1001": "pw"}, agi_secret="a" * 64)
    etc = tmp_path / "etc"
    written = render_conf(values, etc)
    assert written and open_to_others(etc) == []
    text = {p.name: p.read_text() for p in written}
    assert f"maxload = {default_maxload()}" in text["asterisk.conf"]
    assert "IVR_AGI_SECRET = " + "a" * 64 in text["extensions.conf"]
    assert "system" not in text["manager.conf"].split("read =")[1].split("\n")[0]
    assert "command" not in text["manager.conf"].split("write =")[1].split("\n")[0]


def test_maxload_follows_the_cores():
    assert default_maxload(2) == 6.0
    assert default_maxload(1) == 3.0
    assert default_maxload() == 3.0 * (os.cpu_count() or 1)


def test_maxload_is_a_setting_that_falls_back_to_the_cores(tmp_path):
    assert Settings(state_dir=tmp_path).pbx_maxload == default_maxload()
    assert Settings(state_dir=tmp_path, pbx={"maxload": 12.5}).pbx_maxload == 12.5


def test_private_dir_makes_parents_private_and_tightens_only_when_asked(tmp_path):
    deep = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    private_dir(shared)
    assert mode(shared) == 0o755  # a folder that merely holds a database file: untouched
    private_dir(shared, tighten=True)
    assert mode(shared) == 0o700
    sticky = tmp_path / "tmp-like"
    sticky.mkdir()
    sticky.chmod(0o1777)
    private_dir(sticky, tighten=True)
    assert mode(sticky) == 0o1777  # never close a shared /tmp


def test_private_file_creates_0600_and_closes_an_open_one(tmp_path):
    made = private_file(tmp_path / "new.sqlite3")
    assert mode(made) == 0o600
    old = tmp_path / "old.sqlite3"
    old.write_bytes(b"x")
    old.chmod(0o644)
    private_file(old)
    assert mode(old) == 0o600 and old.read_bytes() == b"x"


def test_asterisk_logs_left_open_are_closed_at_render(tmp_path):
    from ivr.pbx.instance import _close_files

    log = tmp_path / "log"
    log.mkdir()
    for name in ("messages.log", "queue_log", "cdr-csv/Master.csv"):
        (log / name).parent.mkdir(exist_ok=True)
        (log / name).write_text("ENTERQUEUE|13800138000\n")
        (log / name).chmod(0o644)
    _close_files(log)
    assert all(mode(p) == 0o600 for p in log.rglob("*") if p.is_file())

"""The emergency override in the database (SQLite and PostgreSQL): one write switches
every engine sharing it, each through its own flag files; no row leaves the files alone;
a database outage keeps the last state."""

import asyncio
import datetime as dt

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.store import switches
from ivr.store.database import make_engine, migrate

T0 = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_no_row_leaves_the_flag_files_alone(db, tmp_path):
    flag = tmp_path / "state" / "emergency_override"
    flag.parent.mkdir()
    flag.write_text("set by hand\n")  # a line that only ever used the file
    assert switches.SwitchMirror(db, [flag]).sync() is None
    assert flag.read_text() == "set by hand\n"


def test_one_write_reaches_every_engines_flags(db, db_url, tmp_path):
    other = make_engine(db_url)  # engine B: its own connection pool and state folder
    flag_a = tmp_path / "a" / "emergency_override"
    flag_b = tmp_path / "b" / "emergency_override"
    eagi_flag = tmp_path / "root" / "ivr" / "main" / "state" / "emergency_override"
    mirror_a = switches.SwitchMirror(db, [flag_a, eagi_flag])
    mirror_b = switches.SwitchMirror(other, [flag_b])
    try:
        switches.write(db, True, reason="mass casualty drill", by="nurse.li", now=T0)
        assert mirror_a.sync().is_on and mirror_b.sync().is_on
        assert flag_a.read_text() == flag_b.read_text() == eagi_flag.read_text()
        assert flag_b.read_text() == f"{T0.isoformat()} mass casualty drill\n"
        assert not switches.mirror(switches.read(other), [flag_b])  # nothing to change

        switches.write(other, False, by="nurse.li")  # off from the other engine
        mirror_a.sync()
        mirror_b.sync()
        assert not flag_a.exists() and not flag_b.exists() and not eagi_flag.exists()
        state = switches.read(db)
        assert (state.is_on, state.set_by) == (False, "nurse.li")
    finally:
        other.dispose()


async def test_the_last_state_stays_while_the_database_is_away(tmp_path):
    flag = tmp_path / "emergency_override"
    flag.write_text("on\n")
    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.sqlite3'}")
    mirror = switches.SwitchMirror(broken, [flag], interval=0.01)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.sync()
    task = asyncio.ensure_future(mirror.run_forever())
    await asyncio.sleep(0.05)  # several failed looks: logged, not raised
    task.cancel()
    assert flag.read_text() == "on\n"


def test_ivr_override_switches_the_database_and_this_machines_files(db, db_url, tmp_path):
    env = {"IVR_STATE_DIR": str(tmp_path / "state"), "IVR_PBX__ROOT": str(tmp_path / "root"),
           "IVR_ENGINE__DATABASE_URL": db_url, "IVR_CONFIG": str(tmp_path / "none.toml")}
    result = CliRunner().invoke(cli, ["override", "on", "--reason", "drill"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state" / "emergency_override").exists()
    state = switches.read(db)
    assert (state.is_on, state.reason) == (True, "drill")
    assert CliRunner().invoke(cli, ["override", "off"], env=env).exit_code == 0
    assert switches.read(db).is_on is False


def test_ivr_override_without_a_database_switches_the_files_only(tmp_path):
    env = {"IVR_STATE_DIR": str(tmp_path / "state"), "IVR_PBX__ROOT": str(tmp_path / "root"),
           "IVR_CONFIG": str(tmp_path / "none.toml")}
    result = CliRunner().invoke(cli, ["override", "on"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state" / "emergency_override").exists()
    assert not (tmp_path / "state" / "ivr.sqlite3").exists()  # no database made for it

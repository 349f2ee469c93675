"""Schema migrations: upgrade head gives exactly the models' schema on SQLite and PostgreSQL,
an old create_all database is adopted with its rows, and ``ivr db`` reports it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlalchemy.exc import IntegrityError

from ivr.cli.db import db
from ivr.store.database import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    schema_diff,
)
from ivr.store.journal import Journal
from ivr.store.models import Base

WHEN = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
# The call records as the first models made them (create_all, before migrations existed).
LEGACY = sa.MetaData()
sa.Table(
    "calls", LEGACY,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("asterisk_uniqueid", sa.String(64), nullable=False, index=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("caller_masked", sa.String(32), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("flow_version", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(32)),
    sa.Column("choice", sa.String(32)),
    sa.Column("department", sa.String(64)),
    sa.Column("queue", sa.String(64)),
    sa.Column("queue_priority", sa.Integer),
    sa.Column("agent", sa.String(128)),
    sa.Column("hold_seconds", sa.Integer),
)
sa.Table(
    "call_events", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)


def test_upgrade_head_gives_exactly_the_models(db_url):
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert migrate(engine) == head_revision()
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
        assert set(sa.inspect(engine).get_table_names()) == {
            *Base.metadata.tables, "alembic_version"}
        assert migrate(engine) == head_revision()  # at every start: nothing to do
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_back(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
        migrate(engine)
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_a_database_made_before_migrations_is_adopted_with_its_rows(db_url):
    engine = make_engine(db_url)
    try:
        LEGACY.create_all(engine)
        with engine.begin() as conn:
            conn.execute(LEGACY.tables["calls"].insert(), [{
                "id": "c1", "asterisk_uniqueid": "1700.1", "channel": "PJSIP/t-1",
                "caller_masked": "138******00", "flow": "main", "flow_version": "abc",
                "started_at": WHEN, "outcome": "answered"}])
            conn.execute(LEGACY.tables["call_events"].insert(), [
                {"call_id": "c1", "seq": n, "at": WHEN, "kind": kind, "step": "",
                 "detail": {"n": n}, "text": ""}
                for n, kind in [(1, "start"), (2, "step"), (3, "end")]])
        assert current_revision(engine) is None

        migrate(engine)

        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
        with engine.connect() as conn:
            call = conn.execute(sa.text("SELECT outcome, direction, caller_hash, language, "
                                        "urgency FROM calls")).one()
            events = conn.execute(sa.text("SELECT seq, detail FROM call_events ORDER BY seq"))
            assert tuple(call) == ("answered", "inbound", "", "", None)
            assert [(seq, _json(detail)) for seq, detail in events] == [
                (1, {"n": 1}), (2, {"n": 2}), (3, {"n": 3})]
        # the unique event sequence the replay relies on is there now
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO call_events (call_id, seq, at, kind, step, "
                                     "detail, text) VALUES ('c1', 3, CURRENT_TIMESTAMP, 'x', "
                                     "'', '{}', '')"))
        except IntegrityError:
            pass
        else:
            raise AssertionError("a second event 3 of the same call was accepted")
    finally:
        engine.dispose()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_in_memory_database_is_created_and_stamped():
    engine = make_engine("sqlite://")
    try:
        migrate(engine)
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_cli_current_check_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    run = CliRunner().invoke
    head = head_revision()

    out = run(db, ["current", "--url", url])
    assert out.exit_code == 0 and out.output.startswith("none (head is")
    out = run(db, ["check", "--url", url])
    assert out.exit_code == 1 and "run `ivr db upgrade`" in out.output

    out = run(db, ["upgrade", "--url", url])
    assert out.exit_code == 0, out.output
    assert f"no revision -> {head} (head)" in out.output
    out = run(db, ["upgrade", "--url", url])
    assert f"already at {head}" in out.output
    assert run(db, ["current", "--url", url]).output == f"{head} (head)\n"
    out = run(db, ["check", "--url", url])
    assert out.exit_code == 0 and "schema matches the models" in out.output


def test_cli_check_names_a_missing_migration(tmp_path):
    url = f"sqlite:///{tmp_path / 'drift.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_calls_caller_hash"))
    engine.dispose()
    out = CliRunner().invoke(db, ["check", "--url", url])
    assert out.exit_code == 1
    assert "ix_calls_caller_hash" in out.output and "a migration is missing" in out.output


def test_cli_unreachable_database_is_an_error_not_a_traceback(pg_cluster):
    url = pg_cluster.url("no_such_database")
    out = CliRunner().invoke(db, ["current", "--url", url])
    assert out.exit_code == 1
    assert out.output.startswith("Error: database postgresql+psycopg://postgres@")
    assert "unreachable" in out.output


def test_cli_replay_puts_a_journal_into_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'replay.sqlite3'}"
    journal = Journal(tmp_path / "journal" / "records.jsonl")
    journal.append({"op": "start", "call_id": "c1", "uniqueid": "1.1", "channel": "PJSIP/x",
                    "caller_hash": "h", "caller_masked": "138******00", "flow": "main",
                    "flow_version": "v", "at": "2025-01-01T10:00:00+00:00"})
    journal.append({"op": "event", "call_id": "c1", "seq": 1, "kind": "start", "step": "",
                    "text": "", "detail": {}, "at": "2025-01-01T10:00:00+00:00"})
    run = CliRunner().invoke
    out = run(db, ["replay", "--url", url, "--journal", str(journal.path)])
    assert out.exit_code == 0, out.output
    assert "2 applied, 0 rejected, 0 left" in out.output
    assert not journal.pending()
    out = run(db, ["replay", "--url", url, "--journal", str(journal.path)])
    assert "empty, nothing to replay" in out.output
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM call_events")).scalar() == 1
    engine.dispose()

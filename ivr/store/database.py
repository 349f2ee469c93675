"""The call-records database: engines, schema migrations, and what "unreachable" means.

The schema is owned by Alembic (``ivr/store/migrations/``); nothing calls
``create_all`` on a real database. ``migrate()`` runs ``alembic upgrade head``
in code (no ``alembic.ini`` at run time) and is what the recorder calls at
start-up; ``ivr db upgrade|current|check`` are the same functions by hand.

A database made by ``create_all`` before migrations existed (tables, no
``alembic_version``) is brought up to date by the initial migration itself,
which adds what those tables lacked and keeps their rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from ivr.file_lock import locked
from ivr.privacy._files import private_dir, private_file
from ivr.store.models import Base

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# seconds to wait for a PostgreSQL server before calling it unreachable
CONNECT_TIMEOUT = 5
# pg_advisory_xact_lock key: two processes starting at once migrate one after the other
_PG_MIGRATION_LOCK = 0x1_7E_C0_2D


def is_memory(url: str | URL) -> bool:
    """An in-memory SQLite database (simulations, some tests): nothing to migrate."""
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


def redacted(url: str | URL) -> str:
    """The URL without its password, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url``; the schema is left to :func:`migrate`."""
    u = make_url(url)
    if is_memory(u):
        # one shared in-memory database across threads (simulations, tests)
        engine = create_engine(u, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
    elif u.get_backend_name() == "sqlite":
        # call records: 0600 before SQLite opens it (its -wal and -shm copy the mode)
        db = Path(u.database or "")
        if not u.query.get("uri"):  # a plain path, not a file: URI with its own options
            private_dir(db.parent)
            private_file(db)
        engine = create_engine(u)
    else:
        connect_args: dict[str, Any] = {}
        if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT  # a dead server: fail, not hang
        # notice a dead connection before using it (database restarts)
        engine = create_engine(u, pool_pre_ping=True, connect_args=connect_args)
    if u.get_backend_name() == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers (reports) never block the line
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    return engine


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached (down, restarting, network
    gone, file locked): the operation is worth keeping and retrying, not a bug."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return False


def alembic_config(*, url: str | URL | None = None,
                   connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: the migrations shipped in the package, and the
    connection (or URL) env.py should use. With neither, env.py asks ``ivr.settings``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_diff(engine: Engine) -> list[Any]:
    """Differences between the database and the models (Alembic's ``compare_metadata``);
    empty when the schema is exactly what the code expects."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection fit to run migrations on, held exclusively against other processes.

    SQLite: foreign keys off while tables are rebuilt (Alembic's batch mode drops and
    re-creates a table; with ``ON DELETE CASCADE`` that would empty its children), and a
    lock file beside the database. PostgreSQL: a transaction-scoped advisory lock.
    """
    with _sqlite_lock(engine), engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
            conn.commit()
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        try:
            yield conn
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "sqlite" or is_memory(engine.url):
        yield
        return
    with locked(Path(f"{engine.url.database}.migrate-lock")):
        yield


def migrate(target: Engine | str | URL) -> str:
    """Bring the database to the newest schema (``alembic upgrade head``); returns the
    revision. Safe to call at every start, from several processes at once."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        if is_memory(engine.url):
            with engine.begin() as conn:  # nothing to upgrade: a fresh schema, stamped
                Base.metadata.create_all(conn)
                command.stamp(alembic_config(connection=conn), "head")
            return head_revision()
        head = head_revision()
        if current_revision(engine) == head:
            return head
        with migration_connection(engine) as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            legacy = before is None and inspect(conn).has_table("calls")
            command.upgrade(alembic_config(connection=conn), "head")
        if legacy:
            log.warning("database %s was made before migrations: adopted (rows kept), now at "
                        "%s", redacted(engine.url), head)
        else:
            log.info("database %s migrated from %s to %s", redacted(engine.url),
                     before or "nothing", head)
        return head
    finally:
        if engine is not target:
            engine.dispose()

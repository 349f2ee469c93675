"""Store tests run on SQLite and on a real PostgreSQL server.

One private PostgreSQL cluster per test session: ``initdb`` into a temporary
folder, ``pg_ctl start`` on a free loopback port with its unix socket in that
folder, stopped and removed at the end. PostgreSQL refuses to run as root, so
as root its tools run as the ``postgres`` user (created by the Debian package)
through ``runuser``. Each test gets a database of its own (``CREATE DATABASE``),
so tests never see each other's rows. Missing PostgreSQL is a failure, not a
skip: CI must prove the PostgreSQL support.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

SETUP_HINT = "run ./scripts/setup (it installs the Debian postgresql package)"


def find_pg_bindir() -> Path | None:
    """Debian keeps the server tools in /usr/lib/postgresql/<version>/bin: the newest."""
    versions = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    if versions:
        return max(versions, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A throw-away PostgreSQL server: data, socket and log under one temporary folder."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="ivr-pg-"))  # 0700, beside no test data
        if self.run_as:
            try:
                user = pwd.getpwnam(self.run_as)
            except KeyError:
                pytest.fail(f"PostgreSQL runs as the 'postgres' user, which is missing: "
                            f"{SETUP_HINT}", pytrace=False)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.started_in = 0.0  # seconds initdb + start took (the report's timing)

    def _tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / name), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{name} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}\n{log}")
        return done

    def init(self) -> None:
        self._tool("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions")
        # Fast, and still honest about commits: fsync off only matters if the *machine*
        # dies; synchronous_commit stays on, so an immediate stop loses no committed row.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\n"
                       "fsync = off\nfull_page_writes = off\nmax_connections = 60\n")

    def start(self) -> None:
        self._tool("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                   "-t", "60")

    def stop(self, mode: str = "fast") -> None:
        """``mode='immediate'``: the abrupt stop of a crash (no checkpoint, clients cut)."""
        self._tool("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def running(self) -> bool:
        cmd = [str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True).returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname="postgres", autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        name = f"ivr_test_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.ensure_running()
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Any:
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.fail(f"PostgreSQL server binaries (pg_ctl, initdb) not found: {SETUP_HINT}",
                    pytrace=False)
    cluster = PgCluster(bindir)
    began = time.monotonic()
    try:
        cluster.init()
        cluster.start()
        cluster.started_in = time.monotonic() - began
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop("fast")
        cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A fresh, empty database: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite3'}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


class FakePrivacy:
    """Just enough of ``RecordPrivacy`` for store tests (the real one is tested with the
    privacy module): digits runs masked, a plain hash, a reversible 'seal'."""

    def mask(self, text: str) -> str:
        return re.sub(r"\d{6,}", "[number]", text)

    def mask_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(v) for v in value]
        return value

    def caller_hash(self, number: str) -> str:
        return self.hash_value(number, "caller")

    def hash_value(self, value: str, purpose: str) -> str:
        return hashlib.sha256(f"{purpose}:{re.sub(r'[^0-9]', '', value)}".encode()).hexdigest()

    def display_number(self, number: str) -> str:
        digits = re.sub(r"\D", "", number)
        return digits[:3] + "*" * (len(digits) - 5) + digits[-2:] if len(digits) >= 6 else "***"

    def seal_number(self, number: str, context: str) -> bytes:
        return base64.b64encode(f"{context}|{number}".encode())

    def open_number(self, sealed: bytes, context: str) -> str:
        seal_context, number = base64.b64decode(sealed).decode().split("|", 1)
        assert seal_context == context
        return number

    def seal_file(self, data: bytes, path: Path, context: str) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(context.encode() + b"|" + data)
        return "test-key"

    def open_file(self, path: Path, context: str) -> bytes:
        seal_context, data = path.read_bytes().split(b"|", 1)
        assert seal_context.decode() == context
        return data


@pytest.fixture
def privacy() -> FakePrivacy:
    return FakePrivacy()

"""The engine as its own process (``ivr serve``), so a test can ``kill -9`` it.

The lab runs the engine in-process by default; fault tests (and the two-engine tests)
need a real process that dies the way a crashed engine dies: no ``finally``, no
record closed, sockets torn down by the kernel. This module starts ``ivr serve`` with
exactly the settings it is given (handed down as ``IVR_*`` environment variables, one
JSON value per section, so no ``ivr.toml`` of the working folder leaks in), waits
until its FastAGI port accepts, and kills or restarts it.

API::

    proc = EngineProcess(settings, log_path=tmp / "engine.log")
    proc.start()            # returns once FastAGI accepts (ready=True: once "engine ready")
    proc.kill()             # SIGKILL, like a crash; returns once the process is gone
    proc.restart()          # start again with the same settings
    proc.stop()             # SIGTERM (a clean shutdown), SIGKILL after a grace period
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ivr.settings import Settings

READY_LINE = "engine ready"  # printed by `ivr serve` once every prompt is rendered


class EngineProcessError(RuntimeError):
    """The engine process exited or did not open its port in time."""


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``ivr serve`` load exactly ``settings``.

    Sections are passed whole as JSON (``IVR_ENGINE='{"agi_port": ...}'``), so fields
    other helpers add later travel too; the caller's own ``IVR_*`` variables are dropped.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    dumped = settings.model_dump(mode="json")
    for name, value in dumped.items():
        if value is None:
            continue
        env[f"IVR_{name.upper()}"] = (json.dumps(value) if isinstance(value, dict | list)
                                      else str(value))
    # a file that does not exist: no ivr.toml of the working folder under these values
    env["IVR_CONFIG"] = str(Path(settings.state_dir) / "engine-process.none.toml")
    return env


def port_accepts(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EngineProcess:
    """One ``ivr serve`` child process with given settings."""

    settings: Settings
    log_path: Path | None = None  # stdout+stderr of the engine (appended across restarts)
    verbose: bool = True  # -v: INFO logging into the log
    extra_env: dict[str, str] = field(default_factory=dict)  # on top of the settings' own
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def agi_address(self) -> tuple[str, int]:
        return self.settings.engine.host, self.settings.engine.agi_port

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "ivr.cli.main", *(["-v"] if self.verbose else []),
                "serve"]

    def start(self, timeout: float = 90.0, ready: bool = False) -> None:
        """Start the engine; return once FastAGI accepts (``ready``: once every prompt is
        rendered too). Raises :class:`EngineProcessError` if it exits or times out."""
        if self.is_running():
            raise EngineProcessError(f"engine already running (pid {self.pid})")
        if port_accepts(*self.agi_address):
            raise EngineProcessError(f"port {self.agi_address[1]} is already taken")
        env = {**settings_env(self.settings), **self.extra_env}
        start_at = 0
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # closed in _reaped
            start_at = self._log.tell()
        self.proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._reaped()
                raise EngineProcessError(f"ivr serve exited with {code}"
                                         + (f"; see {self.log_path}" if self.log_path else ""))
            if port_accepts(*self.agi_address) and (
                    not ready or self._log_has(READY_LINE, start_at)):
                return
            time.sleep(0.1)
        what = "get ready on" if ready and port_accepts(*self.agi_address) else "open"
        self.kill()
        raise EngineProcessError(f"ivr serve did not {what} {self.agi_address} within "
                                 f"{timeout:.0f} s"
                                 + (f"; see {self.log_path}" if self.log_path else ""))

    def _log_has(self, text: str, since: int) -> bool:
        if self.log_path is None:
            return True  # nothing to read: the port is all we can know
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return text.encode() in log.read()

    def kill(self, timeout: float = 10.0) -> None:
        """``kill -9`` the engine (and anything it started) and wait until it is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout)
        self._reaped()

    def stop(self, grace: float = 15.0) -> None:
        """A clean shutdown (SIGTERM: the engine closes what it holds), then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._reaped()

    def restart(self, timeout: float = 90.0, ready: bool = False) -> None:
        self.kill()
        self.start(timeout, ready)

    def _reaped(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EngineProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

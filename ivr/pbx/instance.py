"""One running Asterisk: its folders, its rendered config and its process.

Two ways to run it, chosen automatically:
- *system*: the machine's own ``asterisk`` (Debian sid, Ubuntu), with this
  instance's folders under the state folder;
- *chroot*: a Debian sid root built by :mod:`ivr.pbx.debian_root`, with this
  instance's folders under ``<root>/ivr/<instance>``.
Either way the instance has its own ``asterisk.conf`` (``-C``), so its control
socket, logs and database never touch another instance or a site's PBX.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.agents import AgentsError
from ivr.pbx.debian_root import build_root, root_is_ready
from ivr.pbx.eagi import InstallReport, eagi_paths, install_in_root, render_eagi_settings
from ivr.pbx.render import ConfValues, render_conf
from ivr.privacy._files import private_dir
from ivr.settings import Settings
from ivr.telephony.skills import queue_members

MODDIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"


class PbxError(RuntimeError):
    """The PBX could not be installed, started or reached."""


@dataclass
class PbxInstance:
    settings: Settings
    simulation: bool = False
    # Queue members from agents.yaml in queues.conf; None: as settings agents.members
    # says. The lab logs its handsets in over AMI instead (members=False).
    members: bool | None = None

    @property
    def static_members(self) -> bool:
        if self.members is not None:
            return self.members
        return self.settings.agents.members == "static"

    # --- layout -------------------------------------------------------------
    @property
    def use_system(self) -> bool:
        if self.settings.pbx.use_system is not None:
            return self.settings.pbx.use_system
        return shutil.which("asterisk") is not None

    @property
    def root(self) -> Path | None:
        return None if self.use_system else self.settings.pbx_root

    @property
    def seen_dir(self) -> str:
        """The instance folder as Asterisk sees it (inside the root when chrooted)."""
        if self.root is None:
            return str(self.settings.state_dir / "instances" / self.settings.pbx.instance)
        return f"/ivr/{self.settings.pbx.instance}"

    def host_path(self, seen: str) -> Path:
        """Map a path as Asterisk sees it to the same file on this host."""
        return Path(seen) if self.root is None else self.root / seen.lstrip("/")

    @property
    def host_dir(self) -> Path:
        return self.host_path(self.seen_dir)

    @property
    def sounds_dir(self) -> tuple[Path, str]:
        """Where the engine writes prompt audio (host path, path as Asterisk plays it)."""
        return self.host_dir / "sounds", f"{self.seen_dir}/sounds"

    @property
    def log_file(self) -> Path:
        return self.host_dir / "log" / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.host_dir / "run" / "ivr-supervisor.pid"

    def _argv(self, *args: str) -> list[str]:
        conf = f"{self.seen_dir}/etc/asterisk.conf"
        base = ["asterisk", "-C", conf, *args]
        if self.root is not None:
            return ["chroot", str(self.root), *base]
        return base

    # --- lifecycle ----------------------------------------------------------
    def install(self) -> str:
        """Make Asterisk available (build the root if needed). Idempotent."""
        if self.root is None:
            return shutil.which("asterisk") or "asterisk"
        build_root(self.root, self.settings.pbx.mirror, self.settings.pbx.suite)
        return str(self.root)

    def install_eagi(self, log: Callable[[str], None] = lambda _msg: None) -> InstallReport:
        """Make ``ivr-eagi`` runnable by this Asterisk: in a chroot, Python and the project
        inside the root (:mod:`ivr.pbx.eagi`); a system Asterisk runs this venv's."""
        if self.root is None:
            return InstallReport()
        self.install()
        return install_in_root(self.root, log=log)

    def render(self) -> list[Path]:
        s = self.settings
        if self.root is not None and not root_is_ready(self.root):
            raise PbxError(f"no Asterisk root at {self.root}: run `ivr pbx install` first")
        # private: logs, queue_log and spool may name callers; etc holds the secrets
        for sub in ("etc", "run", "log", "spool", "db", "cache", "sounds"):
            private_dir(self.host_dir / sub, tighten=True)
        _close_files(self.host_dir / "log")
        eagi = eagi_paths(self)
        try:
            book = s.agent_book()
        except AgentsError as exc:
            raise PbxError(f"the agents list is invalid:\n{exc}") from None
        values = ConfValues(
            inst=self.seen_dir,
            moddir=MODDIR,
            host=s.pbx.host,
            ami_port=s.pbx.ami_port,
            ami_user=s.pbx.ami_user,
            ami_secret=s.secrets.ami_secret,
            agi_secret=s.secrets.agi_secret,
            sip_port=s.pbx.sip_port,
            rtp_start=s.pbx.rtp_start,
            rtp_end=s.pbx.rtp_end,
            engine_host=s.engine.host,
            agi_port=s.engine.agi_port,
            engines=s.pbx.engines or [f"{s.engine.host}:{s.engine.agi_port}"],
            fallback_queue=s.engine.fallback_queue,
            outbound_trunk=s.pbx.outbound_trunk,
            last_resort=s.pbx.last_resort,
            agents={ext: s.secrets.agent_passwords[ext] for ext in book.extensions},
            agent_names={a.extension: a.name for a in book},
            queue_members=queue_members(book) if self.static_members else {},
            prefer_seconds=s.agents.prefer_seconds,
            maxload=s.pbx_maxload,
            simulation=self.simulation,
            eagi_script=eagi.script,
            eagi_settings=eagi.settings,
            sounds=eagi.sounds,
        )
        written = render_conf(values, self.host_dir / "etc")
        return [*written, render_eagi_settings(self)]

    def is_running(self) -> bool:
        pid = self._pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def up(self, timeout: float = 60.0) -> None:
        """Render the config and start Asterisk; returns once AMI accepts connections."""
        self.install()
        self.render()
        if self.is_running():
            self.reload()
            return
        if _port_open(self.settings.pbx.host, self.settings.pbx.ami_port):
            raise PbxError(
                f"port {self.settings.pbx.ami_port} is already taken: another Asterisk "
                "is running; stop it or set IVR_PBX__AMI_PORT"
            )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # AGI/EAGI scripts inherit Asterisk's environment: our own IVR_* variables (the
        # engine's ports, database...) must not override the settings file they are given.
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        # Asterisk's console output names callers: the owner's only, like its own logs
        log_fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(log_fd, "ab") as log:
            proc = subprocess.Popen(
                self._argv("-f", "-n"),  # -f foreground (we supervise), -n no colour
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                umask=0o077,  # logs, queue_log, astdb: the owner's only
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PbxError(f"Asterisk exited with {proc.returncode}; see {self.log_file}")
            if _port_open(self.settings.pbx.host, self.settings.pbx.ami_port):
                self.cli("core waitfullybooted", timeout=timeout)
                return
            time.sleep(0.2)
        self.down()
        raise PbxError(f"Asterisk did not open AMI within {timeout:.0f} s; see {self.log_file}")

    def reload(self) -> None:
        self.render()
        self.cli("core reload")

    def down(self, timeout: float = 15.0) -> bool:
        """Stop Asterisk (gracefully, then by signal). True if one was running."""
        pid = self._pid()
        if pid is None or not self.is_running():
            self.pid_file.unlink(missing_ok=True)
            return False
        subprocess.run(self._argv("-rx", "core stop now"), capture_output=True, timeout=timeout,
                       check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_running():
            _reap(pid)
            time.sleep(0.1)
        if self.is_running():
            os.killpg(pid, signal.SIGKILL)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def restart(self, timeout: float = 60.0, crash: bool = False) -> None:
        """Stop Asterisk and start it again, as an upgrade or a crash would (``crash``:
        SIGKILL, no clean shutdown). Queue members come back from astdb (queues.conf
        ``persistentmembers``); returns once AMI accepts connections again."""
        pid = self._pid()
        if crash and pid is not None and self.is_running():
            os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
            while self.is_running() and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)
        else:
            self.down()
        self.up(timeout)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one Asterisk CLI command on the running instance and return its output."""
        proc = subprocess.run(self._argv("-rx", command), capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            raise PbxError(f"asterisk -rx {command!r} failed: {proc.stderr.strip()}")
        return proc.stdout

    def interactive_argv(self) -> list[str]:
        return self._argv("-r")

    def status(self) -> dict[str, object]:
        running = self.is_running()
        info: dict[str, object] = {
            "mode": "system" if self.root is None else f"chroot {self.root}",
            "instance": self.settings.pbx.instance,
            "running": running,
            "pid": self._pid() if running else None,
            "ami": f"{self.settings.pbx.host}:{self.settings.pbx.ami_port}",
            "sip": f"{self.settings.pbx.host}:{self.settings.pbx.sip_port}/udp",
            "log": str(self.log_file),
        }
        if running:
            info["version"] = self.cli("core show version").strip()
        return info


def _close_files(folder: Path) -> None:
    """Logs an older Asterisk (or an older version of this code) left readable by all:
    0600 now (Asterisk keeps appending to the same file)."""
    for path in folder.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except OSError:
            continue


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass

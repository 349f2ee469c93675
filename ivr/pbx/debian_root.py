"""A Debian sid root holding Asterisk, for machines whose own distribution has none.

Debian bookworm ships no Asterisk; sid does. ``debootstrap`` builds the root once
(about 45 s, 500 MB); later calls find the completion marker and return at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# python3 and python3-venv: for AGI/EAGI scripts, which a chrooted Asterisk runs inside
# its root (ivr.pbx.eagi installs them with apt into a root built before they were here).
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm",
            "python3", "python3-venv")
MARKER = ".ivr-root-complete"


class RootBuildError(RuntimeError):
    """The Debian root could not be built; the message says what to do."""


def root_is_ready(root: Path) -> bool:
    return (root / MARKER).exists() and (root / "usr/sbin/asterisk").exists()


def build_root(root: Path, mirror: str, suite: str = "sid") -> Path:
    """Build (or reuse) the root. Raises RootBuildError with a remedy on failure."""
    if root_is_ready(root):
        return root
    if os.geteuid() != 0:
        raise RootBuildError(
            f"building the Asterisk root in {root} needs root (debootstrap and chroot): "
            "run `sudo ivr pbx install`, or install Asterisk from your distribution."
        )
    if shutil.which("debootstrap") is None:
        raise RootBuildError("debootstrap is missing: `apt-get install debootstrap`.")
    if root.exists():
        # A half-built root from an interrupted run: start again cleanly.
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        suite,
        str(partial),
        mirror,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        hint = (
            f"is {mirror} reachable?" if "Failed getting release file" in tail
            or "Couldn't download" in tail else "see the output above."
        )
        raise RootBuildError(f"debootstrap failed ({hint})\n{tail}")
    partial.rename(root)
    (root / MARKER).write_text(f"{suite} {mirror}\n")
    return root

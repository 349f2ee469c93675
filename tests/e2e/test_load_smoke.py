"""``benchmarks/load.py --smoke`` in CI: five keypad callers at once through the real
Asterisk (its own lab instance "load" and ports: AMI 18038, SIP 18060, RTP 12400-13399,
FastAGI 18573, AudioSocket 18575), every one completed and routed, the figures
written. A bounded child process: the benchmark is a program, run as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]


def test_the_load_benchmark_smoke_run(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the load benchmark runs Asterisk in a chroot: run it as root")
    out = tmp_path / "load.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--smoke",
                           "--out", str(out)], capture_output=True, text=True, timeout=420,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (step,) = result["steps"]
    assert (step["placed"], step["completed"], step["routed"]) == (5, 5, 5), step
    assert step["key_n"] == 5 and step["key_p95_ms"] is not None
    assert step["setup_p50_ms"] is not None
    assert "placed 5, completed 5, routed 5" in proc.stdout

"""The engine subprocess gets exactly the settings it was given (and nothing of the
caller's own IVR_* environment or ivr.toml)."""

import json
import subprocess
import sys

from ivr.settings import load_settings
from ivr.sim.engine_process import EngineProcess, settings_env


def test_settings_travel_whole_to_the_child(tmp_path, monkeypatch):
    (tmp_path / "ivr.toml").write_text('[engine]\nagi_port = 1\n')  # must not leak in
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IVR_PBX__SIP_PORT", "1")  # nor this
    settings = load_settings(
        state_dir=tmp_path / "state",
        pbx={"instance": "fault", "ami_port": 19038, "sip_port": 19060},
        engine={"agi_port": 19573, "database_url": f"sqlite:///{tmp_path}/c.sqlite3"},
        followups={"hours": {"mon-sun": ["00:00-24:00"]}, "retry_after": ["1m"]})
    code = ("from ivr.settings import load_settings; "
            "print(load_settings().model_dump_json())")
    out = subprocess.run([sys.executable, "-c", code], env=settings_env(settings),
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out) == json.loads(settings.model_dump_json())


def test_argv_runs_ivr_serve(tmp_path):
    proc = EngineProcess(load_settings(state_dir=tmp_path))
    assert proc.argv()[-1] == "serve" and proc.argv()[1:3] == ["-m", "ivr.cli.main"]
    assert not proc.is_running()
    proc.kill()  # nothing started: nothing to do

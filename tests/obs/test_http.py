"""/metrics and /healthz on a real aiohttp server, read with real curl: the figures,
the health JSON (200, then 503 with the failed check named), the peer allowlist."""

import asyncio
import json
import subprocess
import warnings
from types import SimpleNamespace

import pytest
from aiohttp import web

from ivr import events as ev
from ivr.obs import http
from ivr.obs.metrics import EngineMetrics
from ivr.settings import load_settings
from ivr.store.recorder import CallRecorder
from ivr.telephony.fastagi import FastAgiServer


def make_app(engine) -> web.Application:
    app = web.Application()
    with warnings.catch_warnings():  # the contract's plain "engine" key, as build_app has it
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["engine"] = engine
    http.setup(app)
    return app


async def curl(url: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-m", "5", "-w", "\n%{http_code}", url, stdout=subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    body, _, code = out.decode().rpartition("\n")
    return int(code), body


@pytest.fixture
async def served(tmp_path):
    settings = load_settings(state_dir=tmp_path / "state")
    recorder = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}", settings=settings)
    agi = FastAgiServer()
    await agi.start("127.0.0.1", 0)
    engine = SimpleNamespace(settings=settings, metrics=EngineMetrics(), agi=agi, ami=None,
                             recorder=recorder, flows=SimpleNamespace(current=object()))
    engine.metrics.bind(active=lambda: 1, backlog=lambda: recorder.backlog,
                        ami_up=lambda: False, agi_sessions=lambda: 0,
                        audio_streams=lambda: 0, asr_busy=lambda: 0, asr_workers=2,
                        maxload=6.0)
    app = make_app(engine)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield engine, f"http://127.0.0.1:{port}"
    await runner.cleanup()
    await agi.stop()
    recorder.close()


async def test_metrics_shows_the_active_call_and_outcomes(served):
    engine, base = served
    engine.metrics.on_event("u", "c", ev.End(outcome="answered"))
    code, body = await curl(f"{base}/metrics")
    assert code == 200
    assert "ivr_calls_active 1.0" in body
    assert 'ivr_calls_total{outcome="answered"} 1.0' in body
    assert "ivr_write_behind_backlog" in body


async def test_healthz_names_what_is_wrong(served):
    engine, base = served
    code, body = await curl(f"{base}/healthz")
    health = json.loads(body)
    assert code == 503  # no AMI in this test
    assert health["checks"] == {"listening": True, "ami": False, "database": True,
                                "flows": True}
    assert health["serving_calls"] is True and "ami" in health["reasons"]
    engine.ami = SimpleNamespace(logged_in=asyncio.Event(), address="x:1")
    engine.ami.logged_in.set()
    code, body = await curl(f"{base}/healthz")
    assert code == 200 and json.loads(body)["status"] == "ok"
    await engine.agi.stop()  # stop_listening: Asterisk's dialplan skips this engine
    code, body = await curl(f"{base}/healthz")
    assert code == 503 and json.loads(body)["serving_calls"] is False


async def test_peers_off_the_allowlist_are_refused(tmp_path):
    engine = SimpleNamespace(settings=load_settings(ops={"metrics_peers": ["10.9.9.9"]}),
                             metrics=EngineMetrics())
    app = make_app(engine)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        for path in ("/metrics", "/healthz"):
            code, body = await curl(f"http://127.0.0.1:{port}{path}")
            assert code == 403 and "ops.metrics_peers" in body
    finally:
        await runner.cleanup()

"""Operations, voice cues and supervisor spying through the real parts (issue 14.8, 14.5,
14.3): a real Asterisk, the engine in this process with its web side on, pyVoIP
handsets, and real curl.

- ``curl`` of ``/metrics`` during a call shows the active call (1), and 0 after it;
  ``/healthz`` answers 200 with every check true.
- Voice cues: a caller whose voice after the bridge gets louder, higher and faster gets
  a rising ``VoiceCue``; a calm caller gets none; and the agent hears no less of the
  caller with the listen-only leg than without it. The voice is a real recording (Asterisk's
  Allison prompts); the distressed part is that recording made louder, higher and
  faster with sox - a stand-in, not a recording of a distressed caller.
- ChanSpy: a supervisor's handset hears the call in listen mode; in whisper mode the
  agent hears the supervisor's tone and the caller does not (what the caller hears is
  recorded by MixMonitor in the simulated caller's dialplan); in barge mode both do.

Its own lab (instance "ops", AMI 31038, SIP 31060, RTP 31200-31399, FastAGI 31573,
AudioSocket 31575, web 31080, handsets 31160+ with RTP 31400+). Agents: 1001 answers
pharmacy, 1002 appointments, 1003 results (spy tests), 1004 is the supervisor.
"""

import asyncio
import io
import json
import logging
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import soundfile

from ivr import events as ev
from ivr.obs.logs import use_log_format
from ivr.settings import PROJECT_ROOT
from ivr.sim.handset_audio import tone_level
from ivr.sim.lab import AgentSpec, Lab
from ivr.telephony.spy import spy
from tests.e2e.own_lab import lab_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

WEB_PORT = 31080
TALK = 44.0  # s the agents stay on a voice-cue call: longer than the whole recording,
# so how soon the call was bridged does not change how much of it the agent hears
AGENTS = [
    AgentSpec("1001", ["pharmacy"], talk_seconds=TALK),
    AgentSpec("1002", ["appointments"], talk_seconds=TALK),
    AgentSpec("1003", ["results"], talk_seconds=40.0),
    AgentSpec("1004", [], talk_seconds=6.0),  # the supervisor: rung by spy()
]
DIRECT_FLOW = """\
flow: ops_{queue}
languages: [en-US]
start: to_{queue}
on_error: to_operator
steps:
  to_{queue}: {{type: route, queue: {queue}, priority: 1, summary: "Ops test: {queue}"}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "Ops test: operator"}}
"""
SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
CALM = ("vm-intro", "dir-welcome", "queue-periodic-announce", "vm-options")
SUPERVISOR_HZ = 1000.0
TONE_HEARD = 0.05  # tone_level above this: that party heard the tone


def make_voices(sim: Path) -> None:
    """ops-calm: 5 s of silence (the call is bridged meanwhile), then ~31 s of calm
    speech. ops-rising: 5 s of silence, 16 s of the same calm speech, then 14 s of it
    louder, higher and faster."""
    work = sim / "ops-work"
    work.mkdir(exist_ok=True)
    calm, loud = work / "calm.wav", work / "loud.wav"
    subprocess.run(["sox", *(str(SOUNDS / f"{n}.wav") for n in CALM), str(calm)], check=True)
    subprocess.run(["sox", "-q", str(calm), str(loud), "pitch", "450", "tempo", "1.3",
                    "gain", "-l", "8", "trim", "0", "14"], check=True)
    head = work / "calm16.wav"
    subprocess.run(["sox", str(calm), str(head), "trim", "0", "16"], check=True)
    silence = work / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(silence),
                    "trim", "0", "5"], check=True)
    subprocess.run(["sox", str(silence), str(calm), str(sim / "ops-calm.wav")], check=True)
    subprocess.run(["sox", str(silence), str(head), str(loud), str(sim / "ops-rising.wav")],
                   check=True)


@pytest.fixture(scope="module")
def ops_settings(tmp_path_factory):
    work = tmp_path_factory.mktemp("ops")
    settings = lab_settings(
        work, "ops", ami=31038, sip=31060, rtp=range(31200, 31400), agi=31573,
        audiosocket=31575, state_dir=work / "state",
        pbx={"root": PROJECT_ROOT / ".pbx" / "root"},
        web={"enabled": True, "port": WEB_PORT})
    for queue in ("pharmacy", "appointments", "results"):
        (work / "dialplans" / f"ops_{queue}.yaml").write_text(
            DIRECT_FLOW.format(queue=queue), encoding="utf-8")
    return settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def olab(ops_settings):
    lab = Lab(ops_settings, AGENTS, handset_port_base=31160, handset_rtp_base=31400)
    sim = lab.pbx.sounds_dir[0] / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(make_voices, sim)
    async with asyncio.timeout(600):
        await lab.start()
    try:
        yield lab
    finally:
        async with asyncio.timeout(120):
            await lab.stop()


async def curl(path: str) -> tuple[int, str]:
    """A real curl of the engine's web side."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-m", "5", "-w", "\n%{http_code}", f"http://127.0.0.1:{WEB_PORT}{path}",
        stdout=subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    body, _, code = out.decode().rpartition("\n")
    return int(code), body


def gauge(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def connected(lab: Lab, uniqueid: str):
    return lambda e: e.get("Event") == "AgentConnect" and e.get("Uniqueid") == uniqueid


def cues(lab: Lab, call_id: str) -> list[ev.VoiceCue]:
    return [e for u, c, e in lab.seen if c == call_id and isinstance(e, ev.VoiceCue)]


@pytest.fixture(autouse=True)
def seen_events(olab):
    """Every call event the recorder hands its listeners, for the test to read."""
    olab.seen = []

    def keep(uniqueid, call_id, event):
        olab.seen.append((uniqueid, call_id, event))
    olab.engine.recorder.listeners.append(keep)
    yield
    olab.engine.recorder.listeners.remove(keep)


async def voice_call(lab: Lab, voice: str, queue: str, number: str):
    """A caller speaking ``voice`` to ``queue``'s agent; (record, the agent's answer)."""
    since = time.time()
    uniqueid = await lab.place(f"say{voice}", number, context="sim-flow", exten=f"ops_{queue}")
    await lab.wait_event(connected(lab, uniqueid), 60)
    record = await lab.wait(uniqueid, TALK + 40)
    agent = next(a for a in lab.answers if a.answered_at >= since
                 and a.extension == {"pharmacy": "1001", "appointments": "1002"}[queue])
    return record, agent


async def test_curl_metrics_shows_the_active_call_then_none(olab):
    code, body = await curl("/healthz")
    health = json.loads(body)
    assert code == 200, health
    assert health["checks"] == {"listening": True, "ami": True, "database": True,
                                "flows": True}
    code, before = await curl("/metrics")
    assert code == 200 and gauge(before, "ivr_calls_active") == 0
    answered_before = gauge_or_zero(before, 'ivr_calls_total{outcome="answered"}')
    logs = io.StringIO()  # the engine's log as `ivr serve --log-format json` writes it
    handler = logging.StreamHandler(logs)
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    formats = [(h, h.formatter, list(h.filters)) for h in root.handlers]
    use_log_format("json", root)
    try:
        uniqueid = await olab.place("sayops-calm", "13800138301", context="sim-flow",
                                    exten="ops_pharmacy")
        await olab.wait_event(connected(olab, uniqueid), 60)
        await call_and_metrics(olab, uniqueid, answered_before)
    finally:
        root.removeHandler(handler)
        for h, formatter, filters in formats:  # pytest's own handlers as they were
            h.setFormatter(formatter)
            h.filters[:] = filters
    record = olab.last_record
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    mine = [line for line in lines if line.get("call_id") == record.id]
    print(f"{len(lines)} JSON log lines, {len(mine)} with this call's id:",
          *[line["message"][:60] for line in mine][:5], sep="\n  ")
    assert mine, "no log line carries the call id"
    assert "13800138301" not in logs.getvalue()  # the caller's number never in clear
    # the calm caller: no voice cue at all
    assert cues(olab, record.id) == []


async def call_and_metrics(olab, uniqueid, answered_before):
    deadline = time.monotonic() + 8  # the voice-cue leg connects a moment after the bridge
    while True:
        code, during = await curl("/metrics")
        if gauge(during, "ivr_audiosocket_streams") >= 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    print("during the call:", *[line for line in during.splitlines()
                                if line.startswith(("ivr_calls_active", "ivr_agi_sessions",
                                                    "ivr_audiosocket_streams"))])
    assert code == 200 and gauge(during, "ivr_calls_active") == 1
    assert gauge(during, "ivr_agi_sessions") == 1
    # the listen-only voice-cue leg is open on this call: one AudioSocket stream
    assert gauge(during, "ivr_audiosocket_streams") == 1
    record = await olab.wait(uniqueid, TALK + 40)
    assert record.outcome == "answered"
    code, after = await curl("/metrics")
    assert gauge(after, "ivr_calls_active") == 0
    assert gauge(after, 'ivr_calls_total{outcome="answered"}') == answered_before + 1
    assert gauge(after, 'ivr_queue_wait_seconds_count{queue="pharmacy",result="answered"}') >= 1
    assert gauge(after, "ivr_audiosocket_streams") == 0  # the leg ended with the call
    olab.last_record = record


def gauge_or_zero(body: str, name: str) -> float:
    try:
        return gauge(body, name)
    except AssertionError:
        return 0.0


async def test_rising_voice_gives_a_cue_and_the_agent_hears_the_same(olab):
    record, with_watch = await voice_call(olab, "ops-rising", "appointments", "13800138302")
    got = cues(olab, record.id)
    print("voice cues:", [(c.score, c.baseline, c.rising, c.drivers) for c in got])
    assert got and got[0].rising, f"no rising cue (failures {olab.engine.voice_watch.failures})"
    assert got[0].score - got[0].baseline >= 0.25
    # nothing acted on it: the call went where the flow sent it and ended as answered
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1002")
    # the same call without the listen-only leg: the agent hears as much of the caller
    olab.engine.settings.voice_cues.enabled = False
    try:
        control, without = await voice_call(olab, "ops-rising", "appointments",
                                            "13800138303")
    finally:
        olab.engine.settings.voice_cues.enabled = True
    assert cues(olab, control.id) == []
    print(f"agent heard voiced audio: {with_watch.voiced_ms} ms with the leg, "
          f"{without.voiced_ms} ms without")
    assert without.voiced_ms > 15000
    # the leg must not take the caller's audio from the agent. Two calls' voiced time
    # differs by ~10% anyway (when each was bridged, jitter), either way: only a loss
    # beyond that counts
    assert with_watch.voiced_ms >= 0.85 * without.voiced_ms


async def caller_and_agent(lab: Lab, scenario: str, number: str) -> tuple[str, dict[str, str]]:
    uniqueid = await lab.place(scenario, number, context="sim-flow", exten="ops_results")
    event = await lab.wait_event(connected(lab, uniqueid), 60)
    return uniqueid, event


async def supervised(lab: Lab, mode: str, agent_channel: str, since_answers: int):
    """Spy in ``mode``; returns the supervisor's answered call once it is over."""
    await spy(lab.ami, "1004", agent_channel, mode)
    supervisor = lab.handsets["1004"]
    deadline = time.monotonic() + 20
    while True:
        if mine := supervisor.answered[since_answers:]:
            return mine[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"supervisor's {mode} call not over in time")
        await asyncio.sleep(0.1)


async def spied_call(lab: Lab, name: str, number: str, modes: tuple[str, ...]):
    """A caller (sim ``hearNAME``: says hello-world every 2 s and records what the line
    sends it, in the dialplan - the engine's AMI user may not start MixMonitor) put
    through to agent 1003, spied on by 1004 in each of ``modes`` in turn; returns the
    supervisor's calls (with the time each ended), the agent's call and what the
    caller heard."""
    agent, supervisor = lab.handsets["1003"], lab.handsets["1004"]
    heard_path = lab.pbx.host_dir / "spool" / f"heard-{name}.wav"
    heard_path.unlink(missing_ok=True)
    agent_calls = len(agent.answered)
    uniqueid, event = await caller_and_agent(lab, f"hear{name}", number)
    spied = []
    try:
        for mode in modes:
            supervisor.tone_hz = 0.0 if mode == "listen" else SUPERVISOR_HZ
            call = await supervised(lab, mode, event["DestChannel"], len(supervisor.answered))
            spied.append((mode, call, time.time()))
    finally:
        supervisor.tone_hz = 0.0
    agent.leave()
    record = await lab.wait(uniqueid, 60)
    assert record.outcome == "answered"
    heard = await asyncio.to_thread(_heard_u8, heard_path)
    return spied, agent.answered[agent_calls], heard


def _heard_u8(path: Path) -> bytes:
    """The caller's recording (MixMonitor closes it just after the call) as 8-bit
    unsigned audio, the handsets' format for tone_level."""
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    y, rate = soundfile.read(str(path), dtype="float32")
    assert rate == 8000, rate
    return (np.clip(y, -1, 1) * 127 + 128).astype(np.uint8).tobytes()


async def test_spy_listen_whisper_barge(olab):
    """Two calls, so what the caller heard is judged over a whole recording (no clock
    alignment of a file with the handsets' frames): listen then whisper on the first,
    barge on the second."""
    olab.handsets["1003"].keep_audio = True
    olab.handsets["1004"].keep_audio = True
    first, agent_first, heard_first = await spied_call(olab, "spyone", "13800138304",
                                                       ("listen", "whisper"))
    (_, listen, listen_end), (_, whisper, whisper_end) = first
    print(f"listen: supervisor heard {listen.voiced_ms} ms of voiced audio in "
          f"{AGENTS[3].talk_seconds:.0f} s")
    # the caller says hello-world every 2 s (about 1 s of speech each): silence would be 0
    assert listen.voiced_ms >= 1000

    def agent_level(call, answered_at: float, ended: float) -> float:
        # a second's margin at each end of the spy call: ringing and hanging up
        return tone_level(call.heard(answered_at + 1, ended - 1), SUPERVISOR_HZ)

    # the agent also hears the caller's hello-world all along, which dilutes the
    # tone's share: judged against the same measure while only listening (no tone)
    quiet = agent_level(agent_first, listen.answered_at, listen_end)
    whisper_agent = agent_level(agent_first, whisper.answered_at, whisper_end)
    whisper_caller = tone_level([heard_first], SUPERVISOR_HZ)
    second, agent_second, heard_second = await spied_call(olab, "spytwo", "13800138305",
                                                          ("barge",))
    (_, barge, barge_end), = second
    barge_agent = agent_level(agent_second, barge.answered_at, barge_end)
    barge_caller = tone_level([heard_second], SUPERVISOR_HZ)
    print("supervisor's tone, share of what each heard:",
          {"listen -> agent (control)": round(quiet, 4),
           "whisper -> agent": round(whisper_agent, 4),
           "whisper -> caller (whole call)": round(whisper_caller, 4),
           "barge -> agent": round(barge_agent, 4),
           "barge -> caller (whole call)": round(barge_caller, 4)})
    assert whisper_agent > max(100 * quiet, 0.0005)  # measured: control ~2e-7
    assert barge_agent > max(100 * quiet, 0.0005)
    assert whisper_caller < TONE_HEARD / 5  # whisper: the caller never hears it
    assert barge_caller > TONE_HEARD

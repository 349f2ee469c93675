"""Load through the real Asterisk: simultaneous callers, ramped until something gives.

    .venv/bin/python benchmarks/load.py                      (as root; about 15 minutes)
    .venv/bin/python benchmarks/load.py --smoke              (5 keypad calls, < 60 s)
    .venv/bin/python benchmarks/load.py --steps 5 20 --modes keypad --rss-calls 0

Its own lab (Asterisk instance "load", AMI 18038, SIP 18060, RTP 12400-13399, FastAGI
18573, AudioSocket 18575): the engine in this process, no SIP handsets: every queue
has Local-channel agents (``Local/drop1.NNN@sim-patient``: answer, talk 1 s, hang up),
so a hundred callers can be answered at once. Callers are Local channels originated
over AMI (``ivr.sim.patient``):

- ``keypad``: ``press2`` into ``hospital-inbound`` (the shipped main flow): presses 2
  three seconds after answering; routed correctly = the record's queue is pharmacy.
- ``korean``: ``later...`` into the Korean menu of ``benchmarks/turn_latency.py``
  (Vosk, grammar mode, AudioSocket): says 예약 (espeak-ng) after the prompt; routed
  correctly = appointments.
- ``english``: the same with Whisper tiny.en and a real recording ("two",
  asterisk-core-sounds-en-wav); at most ``--english-max`` at once (about 2 decodes/s
  fit on 2 cores: past that the line says "recogniser busy" and takes keys).

Per step: calls placed / completed (record closed) / correctly routed; AudioSocket
late frames (prompt frames written more than 20 ms after their slot); key -> next
command (the AGI reply that carried the key read -> the next command written) p50/p95;
spoken turn (last speech frame -> reply's STREAM FILE written) p50/p95; set-up (the
engine's AGI handler called -> ANSWER written) p50; CPU seconds and RSS growth per
call for the engine (this process: the lab's AMI client included) and for Asterisk
(its processes, their reaped children included). All times are engine-side.

Then, on the same Asterisk: ``--compare-calls`` sequential calls each through the
engine, the classic ``ivr-eagi`` script (``hospital-inbound-eagi``, a process per
call inside Asterisk's root) and a stock panoramisk FastAGI app (answer + one prompt,
``benchmarks/stock_fastagi.py``, a process of its own on the engine's port while the
engine stops listening), with ratios. The script's time to first command cannot be
taken inside Asterisk without changing its dialplan, so it is taken by starting the
same installed script inside the same root with the call's headers on a pipe (the
same files, state and flow cache as Asterisk's calls); its CPU per call is the CPU of
Asterisk's reaped children over the calls through Asterisk.

Last, RSS over ``--rss-calls`` calls (default 1,000) placed in waves of ``--wave``:
flat means the growth per call after the first 100 stays within noise.

Every wait is bounded (``--timeout`` per step); ``--max-calls`` caps the whole run.
Writes benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import turn_latency as tl  # noqa: E402

import ivr.telephony.audiosocket as audiosocket_mod  # noqa: E402
import ivr.telephony.channel as channel_mod  # noqa: E402
from ivr.pbx.eagi import eagi_paths, eagi_state_dir, root_has_eagi  # noqa: E402
from ivr.settings import load_settings  # noqa: E402
from ivr.sim.lab import Lab  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
QUEUES = ("pharmacy", "appointments", "operator", "emergency")
KEYPAD_QUEUE = "pharmacy"  # main flow, key 2
SPOKEN_QUEUE = "appointments"  # the turn benchmark's menus
TARGETS = {"key_p95_ms_at_50": 60.0, "spoken_p95_ms_at_50": 400.0, "key_p95_ms_at_100": 150.0,
           "setup_p50_ms_above_stock": 3.0}


# --- instrumentation (this process only) -------------------------------------------
@dataclass
class CallTrace:
    entered: float | None = None  # the engine's AGI handler called
    commands: list[tuple[str, float, float | None, Any]] = field(default_factory=list)
    last_speech_at: float | None = None
    heard_at: float | None = None  # hear() returned with words
    end_of_speech_at: float | None = None  # the detector's end of the utterance
    key_at: float | None = None  # first key heard over AudioSocket: its DTMF frame read
    key_heard_at: float | None = None  # hear() returned with that key


KEY_AT: dict[int, float] = {}  # id(task) -> arrival of the DTMF that ended its turn


TRACES: dict[str, CallTrace] = {}
LATE = {"frames": 0, "late": 0}


def instrument(lab: Lab) -> None:
    """Note each call's handler entry, every AGI command (sent, reply read) and the
    first heard answer; count prompt frames written late."""
    engine = lab.engine
    inbound = engine.handle_inbound

    async def handle_inbound(session: Any) -> None:
        TRACES.setdefault(session.uniqueid, CallTrace()).entered = time.monotonic()
        await inbound(session)
    engine.handle_inbound = handle_inbound  # type: ignore[method-assign]

    original_command = channel_mod.AgiChannel.command
    original_hear = channel_mod.AgiChannel.hear

    async def command(self: Any, line: str, **kwargs: Any) -> Any:
        trace = TRACES.setdefault(self.uniqueid, CallTrace())
        entry = [line, time.monotonic(), None, None]
        trace.commands.append(entry)  # type: ignore[arg-type]
        reply = await original_command(self, line, **kwargs)
        entry[2], entry[3] = time.monotonic(), reply
        return reply

    async def hear(self: Any, *args: Any, **kwargs: Any) -> Any:
        heard = await original_hear(self, *args, **kwargs)
        trace = TRACES.setdefault(self.uniqueid, CallTrace())
        key_at = KEY_AT.pop(id(asyncio.current_task()), None)
        if heard.dtmf and key_at is not None and trace.key_at is None:
            trace.key_at, trace.key_heard_at = key_at, time.monotonic()
        if heard.text and trace.heard_at is None and self.turns:
            trace.last_speech_at = self.turns[-1].last_speech_at
            trace.end_of_speech_at = self.turns[-1].end_of_speech_at
            trace.heard_at = time.monotonic()
        return heard

    original_turn = channel_mod.take_turn

    async def take_turn(stream: Any, **kwargs: Any) -> Any:
        put = stream.dtmf_in.put_nowait
        arrivals: list[float] = []

        def put_timed(key: str) -> None:
            arrivals.append(time.monotonic())
            put(key)
        stream.dtmf_in.put_nowait = put_timed
        result = await original_turn(stream, **kwargs)
        if result.dtmf and arrivals:
            KEY_AT[id(asyncio.current_task())] = arrivals[0]
        return result
    channel_mod.take_turn = take_turn  # type: ignore[assignment]

    channel_mod.AgiChannel.command = command  # type: ignore[method-assign]
    channel_mod.AgiChannel.hear = hear  # type: ignore[method-assign]

    async def pace(self: Any) -> None:  # AudioStream._pace, counting late frames
        loop = asyncio.get_running_loop()
        tick = loop.time()
        frame_s = audiosocket_mod.FRAME_MS / 1000
        try:
            while not self.closed.is_set():
                if self._out:
                    chunk = bytes(self._out[:audiosocket_mod.FRAME_BYTES]).ljust(
                        audiosocket_mod.FRAME_BYTES, b"\0")
                    del self._out[:audiosocket_mod.FRAME_BYTES]
                    if not self._out:
                        self._out_done.set()
                else:
                    chunk = audiosocket_mod.SILENCE
                LATE["frames"] += 1
                if loop.time() - tick > frame_s:
                    LATE["late"] += 1
                self.writer.write(audiosocket_mod.encode(audiosocket_mod.Kind.AUDIO, chunk))
                tick += frame_s
                await asyncio.sleep(max(0.0, tick - loop.time()))
        except ConnectionError:
            self.closed.set()
    audiosocket_mod.AudioStream._pace = pace  # type: ignore[method-assign]


def key_to_next_ms(trace: CallTrace) -> float | None:
    """The first key -> the command after it: a key heard over AudioSocket (its DTMF
    frame read) or an AGI reply carrying one (GET DATA, STREAM FILE), whichever first."""
    if trace.key_at is not None:
        after = [sent for _line, sent, *_ in trace.commands if sent >= trace.key_heard_at]
        by_socket = (after[0] - trace.key_at) * 1000 if after else None
    else:
        by_socket = None
    by_reply = _key_reply_to_next_ms(trace, before=trace.key_at)
    return by_reply if by_reply is not None else by_socket


def _key_reply_to_next_ms(trace: CallTrace, before: float | None) -> float | None:
    for i, (line, _sent, replied, reply) in enumerate(trace.commands[:-1]):
        if before is not None and replied is not None and replied > before:
            return None
        if reply is None or replied is None:
            continue
        key = reply.digit if line.startswith(("STREAM FILE", "WAIT FOR DIGIT")) else (
            reply.result if line.startswith("GET DATA") and reply.result not in ("", "-1")
            else None)
        if key and key in channel_mod.ALL_KEYS:
            return (trace.commands[i + 1][1] - replied) * 1000
    return None


def spoken_turn_ms(trace: CallTrace) -> tuple[float, float | None] | None:
    """(last speech -> reply written, of which after the detector's end)."""
    if trace.last_speech_at is None or trace.heard_at is None:
        return None
    after = [sent for line, sent, *_ in trace.commands
             if sent >= trace.heard_at and line.startswith("STREAM FILE")]
    if not after:
        return None
    end = trace.end_of_speech_at
    return ((after[0] - trace.last_speech_at) * 1000,
            None if end is None else (after[0] - end) * 1000)


def setup_ms(trace: CallTrace) -> float | None:
    if trace.entered is None or not trace.commands:
        return None
    return (trace.commands[0][1] - trace.entered) * 1000


def round_trips_ms(trace: CallTrace) -> list[float]:
    """Quick commands only (not playback, queues or media)."""
    return [(replied - sent) * 1000 for line, sent, replied, _ in trace.commands
            if replied is not None and line.split(" ", 2)[0] in ("ANSWER", "SET", "GET")
            and not line.startswith("GET DATA")]


# --- process figures ----------------------------------------------------------------
def proc_cpu_rss(pid: int) -> tuple[float, float, float]:
    """(own CPU s, reaped children's CPU s, RSS MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return own, children, rss


def asterisk_pids(lab: Lab) -> list[int]:
    """Asterisk's processes of this instance (the supervisor's process group)."""
    group = int(lab.pbx.pid_file.read_text().strip())
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group and "asterisk" in (
                        entry / "comm").read_text():
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return pids


@dataclass
class Usage:
    engine_cpu: float
    engine_rss: float
    ast_cpu: float
    ast_children_cpu: float
    ast_rss: float

    @classmethod
    def now(cls, lab: Lab) -> Usage:
        own = resource.getrusage(resource.RUSAGE_SELF)
        _cpu, _children, rss = proc_cpu_rss(os.getpid())
        ast = [proc_cpu_rss(pid) for pid in asterisk_pids(lab)]
        return cls(own.ru_utime + own.ru_stime, rss, sum(a[0] for a in ast),
                   sum(a[1] for a in ast), sum(a[2] for a in ast))


def pct(values: list[float], p: float) -> float | None:
    return round(tl.pct(values, p), 1) if values else None


# --- calls ------------------------------------------------------------------------
@dataclass(frozen=True)
class Mode:
    name: str
    scenario: str
    context: str
    exten: str
    queue: str


KEYS_FLOW = "bench_keys"
KEYS = f"""\
flow: {KEYS_FLOW}
languages: [zh-CN]
start: welcome
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  welcome: {{type: say, prompt: bench_keys_welcome, next: choose}}
  choose:
    type: menu
    prompt: bench_keys_menu
    timeout: 8
    retries: 2
    options:
      - {{key: "2", say: ["药房"], goto: to_pharmacy}}
    no_input: {{goto: to_operator}}
    no_match: {{goto: to_operator}}
  to_pharmacy: {{type: route, queue: pharmacy, priority: 2, summary: "bench: key 2"}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "bench: no key"}}
  to_emergency: {{type: route, queue: emergency, priority: 10, summary: "bench: key 9"}}
"""
KEYS_PROMPTS = """
# --- benchmarks/load.py ---
bench_keys_welcome: 您好，这里是医院。
bench_keys_menu: 药房请按2。
"""

MODES = {
    # keys only (no recogniser for zh-CN): GET DATA, the AGI reply carries the key
    "keys": Mode("keys", "press2", "sim-flow", KEYS_FLOW, KEYPAD_QUEUE),
    # the shipped main flow: key 2 picks English, where Whisper listens (and hears the
    # patient's recorded "hello world" between presses) until key 2 at the main menu
    "keypad": Mode("keypad", "press2", "hospital-inbound", "s", KEYPAD_QUEUE),
    "korean": Mode("korean", "laterbench-continuous", "sim-flow", tl.FLOW_NAME, SPOKEN_QUEUE),
    "english": Mode("english", "laterbench-en-menu-continuous", "sim-flow", tl.EN_MENU_FLOW,
                    SPOKEN_QUEUE),
}


async def wave(lab: Lab, mode: Mode, n: int, timeout: float, numbers: Any
               ) -> list[dict[str, Any]]:
    """``n`` calls at once; each row: completed, routed, the call's timings."""
    ids = []
    for _ in range(n):
        ids.append(await lab.place(mode.scenario, next(numbers), context=mode.context,
                                   exten=mode.exten))

    async def one(uniqueid: str) -> dict[str, Any]:
        try:
            record = await lab.wait(uniqueid, timeout)
        except (TimeoutError, AssertionError):
            return {"uniqueid": uniqueid, "completed": False, "routed": False}
        trace = TRACES.pop(uniqueid, CallTrace())
        return {"uniqueid": uniqueid, "completed": True, "routed": record.queue == mode.queue,
                "queue": record.queue, "outcome": record.outcome,
                "key_ms": key_to_next_ms(trace),
                "spoken_ms": spoken_turn_ms(trace) if mode.name != "keypad" else None,
                "setup_ms": setup_ms(trace), "round_trips_ms": round_trips_ms(trace)}
    return list(await asyncio.gather(*(one(u) for u in ids)))


def numbers_from(prefix: str) -> Any:
    n = 0
    while True:
        n += 1
        yield f"{prefix}{n:05d}"


async def step(lab: Lab, mode: Mode, n: int, timeout: float, numbers: Any) -> dict[str, Any]:
    late0 = dict(LATE)
    backlog_max = 0
    before = Usage.now(lab)
    began = time.monotonic()
    task = asyncio.ensure_future(wave(lab, mode, n, timeout, numbers))
    while not task.done():  # the records' write-behind queue, sampled
        backlog_max = max(backlog_max, lab.engine.recorder.backlog)
        await asyncio.sleep(0.05)
    rows = task.result()
    after = Usage.now(lab)
    done = [r for r in rows if r["completed"]]
    keys = [r["key_ms"] for r in done if r.get("key_ms") is not None]
    spoken = [r["spoken_ms"][0] for r in done if r.get("spoken_ms") is not None]
    after_end = [r["spoken_ms"][1] for r in done
                 if r.get("spoken_ms") is not None and r["spoken_ms"][1] is not None]
    setups = [r["setup_ms"] for r in done if r.get("setup_ms") is not None]
    return {
        "mode": mode.name, "simultaneous": n, "placed": len(rows), "completed": len(done),
        "routed": sum(1 for r in done if r["routed"]),
        "late_frames": LATE["late"] - late0["late"], "frames": LATE["frames"] - late0["frames"],
        "key_p50_ms": pct(keys, 50), "key_p95_ms": pct(keys, 95), "key_n": len(keys),
        "spoken_p50_ms": pct(spoken, 50), "spoken_p95_ms": pct(spoken, 95),
        "spoken_n": len(spoken),
        # of the spoken turn: after the end-of-utterance pause (recognition, media, flow)
        "spoken_after_pause_p50_ms": pct(after_end, 50),
        "spoken_after_pause_p95_ms": pct(after_end, 95),
        "setup_p50_ms": pct(setups, 50),
        "setup_p95_ms": pct(setups, 95),
        "engine_cpu_s_per_call": round((after.engine_cpu - before.engine_cpu) / n, 3),
        "engine_rss_mb": round(after.engine_rss, 1),
        "engine_rss_kb_per_call": round((after.engine_rss - before.engine_rss) * 1024 / n, 1),
        "asterisk_cpu_s_per_call": round((after.ast_cpu - before.ast_cpu) / n, 3),
        "asterisk_rss_mb": round(after.ast_rss, 1),
        "records_backlog_max": backlog_max,
        "wall_s": round(time.monotonic() - began, 1),
        "queues": sorted({str(r.get("queue")) for r in done if not r["routed"]}),
    }


def print_step(s: dict[str, Any]) -> None:
    def f(v: Any) -> str:
        return "-" if v is None else f"{v:g}"
    print(f"  {s['mode']:<8} {s['simultaneous']:>4} at once: placed {s['placed']}, completed "
          f"{s['completed']}, routed {s['routed']}; late frames {s['late_frames']}/"
          f"{s['frames']}; key->next p50/p95 {f(s['key_p50_ms'])}/{f(s['key_p95_ms'])} ms;"
          f" spoken p50/p95 {f(s['spoken_p50_ms'])}/{f(s['spoken_p95_ms'])} ms (after the "
          f"pause {f(s.get('spoken_after_pause_p50_ms'))}/"
          f"{f(s.get('spoken_after_pause_p95_ms'))}); set-up p50 "
          f"{f(s['setup_p50_ms'])} ms; CPU/call engine {s['engine_cpu_s_per_call']} s, "
          f"Asterisk {s['asterisk_cpu_s_per_call']} s; RSS engine {s['engine_rss_mb']} MB "
          f"({s['engine_rss_kb_per_call']:+} KB/call), Asterisk {s['asterisk_rss_mb']} MB; "
          f"records backlog max {s['records_backlog_max']} [{s['wall_s']} s]"
          + (f" wrong queues {s['queues']}" if s["queues"] else ""), flush=True)


# --- the alternatives ----------------------------------------------------------------
async def compare_engine(lab: Lab, calls: int, timeout: float, numbers: Any) -> dict[str, Any]:
    before = Usage.now(lab)
    rows = []
    for _ in range(calls):
        rows += await wave(lab, MODES["keys"], 1, timeout, numbers)
    after = Usage.now(lab)
    done = [r for r in rows if r["completed"]]
    return {"calls": calls, "completed": len(done),
            "routed": sum(1 for r in done if r["routed"]),
            "setup_p50_ms": pct([r["setup_ms"] for r in done if r["setup_ms"] is not None], 50),
            "round_trip_p50_ms": pct([t for r in done for t in r["round_trips_ms"]], 50),
            "cpu_s_per_call": round((after.engine_cpu - before.engine_cpu) / calls, 4),
            "note": "CPU: the whole benchmark process (engine, lab's AMI client) over the "
                    "calls, the whole flow (menu, routing, records)"}


async def compare_stock(lab: Lab, calls: int, timeout: float) -> dict[str, Any]:
    """The engine stops listening; the stock app takes its port for these calls."""
    s = lab.settings
    sound = await lab.engine.prompts.sound_for("Thank you.", "en-US", "normal")
    await lab.engine.stop_listening()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "benchmarks" / "stock_fastagi.py"), s.engine.host,
        str(s.engine.agi_port), sound, stdout=asyncio.subprocess.PIPE)
    rows: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert ready.strip() == b"ready", ready
        for _ in range(calls):
            uniqueid = await lab.place("drop3", "13300000001", context="sim-flow",
                                       exten="stock")
            lab.engine.finished.pop(uniqueid, None)
            lab._done.pop(uniqueid, None)
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            rows.append(json.loads(line))
        proc.terminate()
        usage = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await lab.engine.resume_listening()
    return {"calls": calls, "completed": len(rows),
            "setup_p50_ms": pct([r["setup_ms"] for r in rows], 50),
            "round_trip_p50_ms": pct([t for r in rows for t in (r["round_trips_ms"][0],
                                                                 r["round_trips_ms"][2])], 50),
            "cpu_s_per_call": round(usage["cpu_s"] / max(1, calls), 4),
            "note": "CPU: the app's process over its whole life (start-up included) / calls"}


def eagi_first_command(lab: Lab, runs: int) -> list[tuple[float, float]]:
    """(ms to first command, CPU ms to then) of the installed script inside the root."""
    assert lab.pbx.root is not None
    paths = eagi_paths(lab.pbx)
    headers = "".join(f"{k}: {v}\n" for k, v in {
        "agi_request": paths.script, "agi_channel": "Local/press2@sim-patient-0;1",
        "agi_uniqueid": "bench-eagi.1", "agi_callerid": "13300000002",
        "agi_context": "hospital-inbound-eagi", "agi_extension": "main",
        "agi_enhanced": "1.0", "agi_arg_1": "main"}.items()) + "\n"
    out = []
    for _ in range(runs):
        t0 = time.monotonic()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(
            ["chroot", str(lab.pbx.root), paths.script, "main", f"--config={paths.settings}",
             f"--sounds={paths.sounds}", "--no-asr"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(headers.encode())
        proc.stdin.flush()
        proc.stdout.readline()
        first = (time.monotonic() - t0) * 1000
        proc.kill()
        proc.wait(10)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append((first, (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000))
    return out


async def compare_eagi(lab: Lab, calls: int, timeout: float) -> dict[str, Any] | None:
    if lab.pbx.root is None or not root_has_eagi(lab.pbx.root):
        return None
    # the current source in the root (what Asterisk runs): seconds once installed
    report = await asyncio.to_thread(lab.pbx.install_eagi)
    print(f"  ivr-eagi in the root: {report.summary()}", flush=True)
    starts = await asyncio.to_thread(eagi_first_command, lab, max(3, min(calls, 10)))
    before = Usage.now(lab)
    joined: dict[str, str] = {}
    seen: dict[str, asyncio.Event] = {}

    def on_join(_manager: Any, event: Any) -> None:
        uniqueid = event.get("Uniqueid", "")
        joined[uniqueid] = event.get("Queue", "")
        seen.setdefault(uniqueid, asyncio.Event()).set()
    lab.ami.on("QueueCallerJoin", on_join)
    completed = 0
    for _ in range(calls):
        uniqueid = await lab.place("press2", "13300000003", context="hospital-inbound-eagi",
                                   exten="main")
        lab._done.pop(uniqueid, None)
        lab.engine.finished.pop(uniqueid, None)
        try:
            await asyncio.wait_for(seen.setdefault(uniqueid, asyncio.Event()).wait(), timeout)
        except TimeoutError:
            pass
        completed += uniqueid in joined
        await asyncio.sleep(2.5)  # the agent's 1 s conversation, the script's exit
    after = Usage.now(lab)
    state_host, _seen = eagi_state_dir(lab.pbx)
    return {"calls": calls, "completed": completed,
            "routed": sum(1 for q in joined.values() if q == KEYPAD_QUEUE),
            "setup_p50_ms": pct([s for s, _ in starts], 50),
            "first_command_cpu_p50_ms": pct([c for _, c in starts], 50),
            "round_trip_p50_ms": None,
            "cpu_s_per_call": round((after.ast_children_cpu - before.ast_children_cpu)
                                    / max(1, calls), 3),
            "state": str(state_host),
            "note": "set-up: the installed script inside the root, headers on a pipe (not "
                    "measurable inside Asterisk without changing its dialplan); CPU: "
                    "Asterisk's reaped children over the calls through Asterisk; round "
                    "trip: not measured (a pipe inside Asterisk)"}


# --- RSS over many calls --------------------------------------------------------------
def settled_rss(lab: Lab) -> float:
    """This process's RSS after a collection, without what the lab itself keeps (its
    log of AMI events, which grows with every call: not the engine's)."""
    lab.ami_events.clear()
    gc.collect()
    return Usage.now(lab).engine_rss


async def rss_run(lab: Lab, total: int, wave_size: int, timeout: float, numbers: Any
                  ) -> dict[str, Any]:
    samples = [(0, settled_rss(lab))]
    done = failed = 0
    began = time.monotonic()
    while done < total:
        n = min(wave_size, total - done)
        rows = await wave(lab, MODES["keys"], n, timeout, numbers)
        failed += sum(1 for r in rows if not (r["completed"] and r["routed"]))
        done += n
        if done % 100 == 0 or done == total:
            samples.append((done, settled_rss(lab)))
            print(f"  RSS after {done} calls: {samples[-1][1]:.1f} MB "
                  f"[{time.monotonic() - began:.0f} s]", flush=True)
    tail = [s for s in samples if s[0] >= min(100, total)]
    slope = ((tail[-1][1] - tail[0][1]) * 1024 / (tail[-1][0] - tail[0][0])
             if len(tail) > 1 and tail[-1][0] > tail[0][0] else None)
    return {"calls": total, "failed": failed, "samples_mb": samples,
            "kb_per_call_after_100": None if slope is None else round(slope, 2)}


# --- the run ----------------------------------------------------------------------------
def load_settings_for(work: Path) -> Any:
    return load_settings(
        pbx={"instance": "load", "ami_port": 18038, "sip_port": 18060,
             "rtp_start": 12400, "rtp_end": 13399},
        engine={"agi_port": 18573, "audiosocket_port": 18575,
                "database_url": f"sqlite:///{work / 'calls.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
        followups={"enabled": False},
    )


def prepare(work: Path, modes: list[str]) -> None:
    shutil.copytree(ROOT / "dialplans", work / "dialplans")
    shutil.copytree(ROOT / "prompts", work / "prompts")
    zh = work / "prompts" / "zh-CN.yaml"
    zh.write_text(zh.read_text(encoding="utf-8") + KEYS_PROMPTS, encoding="utf-8")
    (work / "dialplans" / f"{KEYS_FLOW}.yaml").write_text(KEYS, encoding="utf-8")
    if "korean" in modes:
        (work / "prompts" / "ko-KR.yaml").write_text(tl.PROMPTS, encoding="utf-8")
        (work / "dialplans" / f"{tl.FLOW_NAME}.yaml").write_text(tl.FLOW, encoding="utf-8")
    if "english" in modes:
        en = work / "prompts" / "en-US.yaml"
        en.write_text(en.read_text(encoding="utf-8") + tl.EN_PROMPTS, encoding="utf-8")
        (work / "dialplans" / f"{tl.EN_MENU_FLOW}.yaml").write_text(
            tl.EN_FLOWS[tl.EN_MENU_FLOW], encoding="utf-8")


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    prepare(work, args.modes)
    lab = Lab(load_settings_for(work), [], handset_port_base=18160, handset_rtp_base=24000)
    instrument(lab)
    t0 = time.monotonic()
    out: dict[str, Any] = {"steps": []}
    budget = args.max_calls
    async with lab:
        print(f"Asterisk and engine up in {time.monotonic() - t0:.1f} s", flush=True)
        for queue in QUEUES:  # Local-channel agents: answer, talk 1 s, hang up
            for k in range(args.agents):
                iface = f"Local/drop1.{k:03d}@sim-patient/n"
                await lab.ami.queue_add(queue, iface, f"bench agent {k}")
        # every prompt rendered before the first caller (cached on disk after the first
        # run); the smoke run renders what its calls say, as they say it
        rendered = 0 if args.smoke else await lab.engine.prepare_prompts()
        sim = lab.pbx.sounds_dir[0] / "sim"
        sim.mkdir(parents=True, exist_ok=True)
        if "korean" in args.modes:
            await asyncio.to_thread(tl.record_patient, sim, "예약")
        if "english" in args.modes:
            await asyncio.to_thread(tl.record_recording, sim, "bench-en-menu",
                                    tl.EN_SOUNDS / "digits" / "2.wav")
        out["startup_s"] = round(time.monotonic() - t0, 1)
        print(f"lab up in {out['startup_s']} s ({rendered} prompts cached), "
              f"{args.agents} Local agents per queue; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        numbers = numbers_from("133")
        for mode_name in args.modes:
            mode = MODES[mode_name]
            limit = args.english_max if mode_name == "english" else None
            for n in args.steps:
                if limit is not None and n > limit:
                    n = limit
                if n > budget:
                    print(f"  {mode_name} {n}: over --max-calls, stopping", flush=True)
                    break
                budget -= n
                s = await step(lab, mode, n, args.timeout, numbers)
                out["steps"].append(s)
                print_step(s)
                gave = s["completed"] < s["placed"] or s["routed"] < s["completed"]
                if gave or (limit is not None and n >= limit):
                    if gave:
                        print(f"  {mode_name}: something gave at {n}: stopping this ramp",
                              flush=True)
                    break
                await asyncio.sleep(2)  # the previous calls' agents and channels gone
        if args.compare_calls and budget >= 3 * args.compare_calls:
            budget -= 3 * args.compare_calls
            print(f"comparison: {args.compare_calls} sequential calls each", flush=True)
            engine = await compare_engine(lab, args.compare_calls, args.timeout, numbers)
            print(f"  engine: {engine}", flush=True)
            stock = await compare_stock(lab, args.compare_calls, args.timeout)
            print(f"  stock panoramisk: {stock}", flush=True)
            eagi = await compare_eagi(lab, args.compare_calls, args.timeout)
            print(f"  ivr-eagi: {eagi}", flush=True)
            out["compare"] = {"engine": engine, "stock_panoramisk": stock, "eagi": eagi,
                              "ratios": ratios(engine, stock, eagi)}
        if args.rss_calls and budget >= args.rss_calls:
            print(f"RSS over {args.rss_calls} calls, {args.wave} at a time", flush=True)
            out["rss"] = await rss_run(lab, args.rss_calls, args.wave, args.timeout, numbers)
    return out


def ratios(engine: dict[str, Any], stock: dict[str, Any], eagi: dict[str, Any] | None
           ) -> dict[str, Any]:
    def r(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 1)
    out = {"engine_setup_minus_stock_ms": None if engine["setup_p50_ms"] is None
           or stock["setup_p50_ms"] is None
           else round(engine["setup_p50_ms"] - stock["setup_p50_ms"], 2),
           "engine/stock setup": r(engine["setup_p50_ms"], stock["setup_p50_ms"]),
           "engine/stock round trip": r(engine["round_trip_p50_ms"], stock["round_trip_p50_ms"]),
           "engine/stock CPU per call": r(engine["cpu_s_per_call"], stock["cpu_s_per_call"])}
    if eagi is not None:
        out.update({"eagi/engine setup": r(eagi["setup_p50_ms"], engine["setup_p50_ms"]),
                    "eagi/engine CPU per call": r(eagi["cpu_s_per_call"],
                                                  engine["cpu_s_per_call"])})
    return out


def verdict(out: dict[str, Any]) -> dict[str, Any]:
    def at(mode: str, n: int) -> dict[str, Any] | None:
        return next((s for s in out["steps"] if s["mode"] == mode and s["simultaneous"] == n),
                    None)
    k50, k100, s50 = at("keys", 50), at("keys", 100), at("korean", 50)
    v: dict[str, Any] = {}
    if k50 and k50["key_p95_ms"] is not None:
        v["key p95 at 50 <= 60 ms"] = k50["key_p95_ms"] <= TARGETS["key_p95_ms_at_50"]
    if s50 and s50["spoken_p95_ms"] is not None:
        v["spoken p95 at 50 <= 400 ms"] = s50["spoken_p95_ms"] <= TARGETS["spoken_p95_ms_at_50"]
    if k100:
        v["100: all routed, no late frames, key p95 <= 150 ms"] = (
            k100["routed"] == k100["placed"] and k100["late_frames"] == 0
            and k100["key_p95_ms"] is not None
            and k100["key_p95_ms"] <= TARGETS["key_p95_ms_at_100"])
    gap = out.get("compare", {}).get("ratios", {}).get("engine_setup_minus_stock_ms")
    if gap is not None:
        v["set-up p50 <= stock + 3 ms"] = gap <= TARGETS["setup_p50_ms_above_stock"]
    rss = out.get("rss")
    if rss and rss.get("kb_per_call_after_100") is not None:
        v["RSS flat (<= 5 KB/call after 100)"] = rss["kb_per_call_after_100"] <= 5
    return v


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--modes", nargs="+", choices=list(MODES),
                        default=["keys", "keypad", "korean", "english"])
    parser.add_argument("--english-max", type=int, default=5,
                        help="English (Whisper) callers at once, at most")
    parser.add_argument("--agents", type=int, default=100, help="Local agents per queue")
    parser.add_argument("--compare-calls", type=int, default=10)
    parser.add_argument("--rss-calls", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=25, help="calls at once in the RSS run")
    parser.add_argument("--max-calls", type=int, default=2000, help="calls in the whole run")
    parser.add_argument("--timeout", type=float, default=120.0, help="s per call, at most")
    parser.add_argument("--smoke", action="store_true",
                        help="5 keypad calls at once, nothing else (< 60 s)")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.modes, args.compare_calls, args.rss_calls = [5], ["keys"], 0, 0
        args.agents, args.timeout, args.max_calls = 5, 40.0, 5
    if os.geteuid() != 0:
        raise SystemExit("run as root: Asterisk runs in the chroot at .pbx/root")
    import logging
    logging.basicConfig(level=os.environ.get("IVR_BENCH_LOG", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ivr-load-") as tmp:
        out = asyncio.run(run(args, Path(tmp)))
    out.update({
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                 "python": platform.python_version(),
                 "load_start": [round(x, 2) for x in load_start],
                 "load_end": [round(x, 2) for x in os.getloadavg()]},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "targets": TARGETS, "wall_s": round(time.monotonic() - began, 1)})
    out["verdict"] = verdict(out)
    print("\nsummary (engine-side times; percentiles nearest rank)")
    for s in out["steps"]:
        print_step(s)
    for name, ok in out["verdict"].items():
        print(f"  target {name}: {'met' if ok else 'NOT met'}")
    print(f"load average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end "
          f"({os.cpu_count()} CPUs); took {out['wall_s']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str) + "\n",
                        encoding="utf-8")
    print(f"wrote {args.out}")
    ok = all(s["completed"] == s["placed"] for s in out["steps"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

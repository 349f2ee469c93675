"""Speech recognition figures on this machine, with the real Korean Vosk model.

    .venv/bin/python benchmarks/asr_bench.py [--quick]

Prints a summary and writes benchmarks/results/asr-<time>.json (and asr-latest.json).
Audio is espeak-ng Korean at 8 kHz fed in 20 ms frames, as AudioSocket delivers it.

- model load time and resident memory added by one loaded model;
- real-time factor (decode time / audio time) per stream, free speech and grammar mode;
- end-of-speech latency: the time ``result()`` takes after the last frame;
- concurrency: N sessions decoding at once in threads (N = 1..16); a stream stays
  real-time while its RTF under that load is <= 1 (Vosk releases the GIL, so two cores
  run two decoders);
- grammar rejection on in-grammar and out-of-grammar utterances, with the default
  thresholds and with none, so the thresholds' effect is measured, not assumed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.speech.asr import (  # noqa: E402
    GRAMMAR_MIN_COVERAGE,
    GRAMMAR_MIN_WORD_CONF,
    SpeechRecognizer,
)
from ivr.speech.audio import read_wav, to_telephone  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FRAME = 320  # 20 ms of 8 kHz 16-bit audio
SENTENCES = [
    "안녕하세요 예약을 하고 싶습니다", "머리가 아프고 열이 나요", "검사 결과를 알고 싶어요",
    "엄마 오늘 병원에 가요", "약을 언제 먹어야 하나요", "상담원과 통화하고 싶습니다",
    "어제부터 배가 아파요", "내일 오전에 진료가 가능한가요",
]
MENU = ["예약", "검사 결과", "약 처방", "상담원"]
TARGETS = {"grammar_rtf": 0.05, "free_rtf": 0.5, "realtime_streams": 8}

# Rejection check: menus, and things a caller might say instead.
MENUS = [["예약", "검사 결과", "상담원"], ["네", "아니요"], ["오늘", "내일", "모레"],
         ["엄마", "아빠", "가족"], ["진료 예약", "검사 결과", "약 처방", "상담원 연결"],
         ["머리", "배", "가슴", "다리"]]
OUT_OF_GRAMMAR = [
    ("오늘 날씨가 정말 좋습니다", "ko"), ("고맙습니다", "ko"), ("서울역으로 가 주세요", "ko"),
    ("안녕하세요", "ko"), ("김치찌개", "ko"), ("잘 모르겠어요", "ko"),
    ("다시 말씀해 주세요", "ko"), ("배가 고파요", "ko"), ("버스", "ko"), ("사과", "ko"),
    ("Hello, I would like to speak to somebody", "en"), ("Yes please", "en"),
    ("Where is the pharmacy", "en"),
]


def speak(text: str, voice: str = "ko", wpm: int = 165) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text],
                       check=True, stderr=subprocess.DEVNULL)
        return to_telephone(*read_wav(wav))


def stream_audio(seconds: float) -> bytes:
    """Korean sentences with 0.4 s pauses, repeated to ``seconds`` of 8 kHz audio."""
    gap = np.zeros(3200, dtype="<i2")
    parts = [p for s in SENTENCES for p in (speak(s), gap)]
    one = np.concatenate(parts)
    reps = int(np.ceil(seconds * 8000 / len(one)))
    return np.tile(one, reps)[: int(seconds * 8000)].tobytes()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def decode(rec: SpeechRecognizer, pcm: bytes, phrases: list[str] | None) -> dict:
    """One session over ``pcm`` as fast as it goes; timings in seconds."""
    start = time.perf_counter()
    session = rec.session("ko", 8000, phrases)
    for i in range(0, len(pcm), FRAME):
        session.accept(pcm[i:i + FRAME])
    fed = time.perf_counter()
    transcript = session.result()
    end = time.perf_counter()
    audio = len(pcm) / 2 / 8000
    return {"rtf": (end - start) / audio, "final_s": end - fed, "words": len(transcript.words)}


def per_stream(rec: SpeechRecognizer, pcm: bytes, phrases: list[str] | None, runs: int) -> dict:
    results = [decode(rec, pcm, phrases) for _ in range(runs)]
    return {"rtf": statistics.median(r["rtf"] for r in results),
            "rtf_max": max(r["rtf"] for r in results),
            "words": results[0]["words"], "runs": runs}


def end_of_speech_latency(rec: SpeechRecognizer, phrases: list[str] | None) -> dict:
    """result() after a short utterance (the turn-taking cost of recognition)."""
    pcm = speak("검사 결과" if phrases else "머리가 아프고 열이 나요").tobytes()
    pcm += bytes(8000)  # half a second of trailing silence, as an end-pointer leaves
    finals = sorted(decode(rec, pcm, phrases)["final_s"] for _ in range(10))
    return {"median_ms": 1000 * statistics.median(finals), "max_ms": 1000 * finals[-1]}


def concurrent(rec: SpeechRecognizer, pcm: bytes, phrases: list[str] | None, n: int) -> dict:
    """``n`` sessions at once, one thread each; RTF of each stream under that load."""
    barrier = threading.Barrier(n)
    rtfs: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        r = decode(rec, pcm, phrases)
        with lock:
            rtfs.append(r["rtf"])

    cpu0, wall0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    audio = len(pcm) / 2 / 8000
    return {"streams": n, "rtf_worst": max(rtfs), "rtf_mean": statistics.mean(rtfs),
            "audio_s_per_s": n * audio / wall, "cpu_per_wall": cpu / wall,
            "realtime": max(rtfs) <= 1.0}


def rejection(rec: SpeechRecognizer, speeds: list[int]) -> dict:
    """Accept/reject counts over menus x voices x speeds, with and without the rules."""
    rows = []
    for menu in MENUS:
        cases = [(p, v, True) for p in menu for v in ("ko", "ko+klatt4")]
        cases += [(t, v if v == "en" else vv, False) for t, v in OUT_OF_GRAMMAR
                  for vv in ("ko", "ko+klatt4") if v != "en" or vv == "ko"]
        for said, voice, inside in cases:
            for wpm in speeds:
                pcm = speak(said, voice, wpm).tobytes()
                for rules in (True, False):
                    kw = {} if rules else {"min_word_conf": 0.0, "min_coverage": 0.0}
                    s = rec.session("ko", 8000, menu, **kw)
                    for i in range(0, len(pcm), FRAME):
                        s.accept(pcm[i:i + FRAME])
                    t = s.result()
                    rows.append((rules, inside, said, t.matched))
    out = {}
    for rules in (True, False):
        ins = [r for r in rows if r[0] == rules and r[1]]
        oog = [r for r in rows if r[0] == rules and not r[1]]
        out["default thresholds" if rules else "no thresholds"] = {
            "in_grammar": len(ins),
            "accepted_correct": sum(r[3] == r[2] for r in ins),
            "accepted_wrong_option": sum(r[3] not in (None, r[2]) for r in ins),
            "out_of_grammar": len(oog),
            "false_accepts": sum(r[3] is not None for r in oog),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter audio, fewer runs")
    args = ap.parse_args()
    seconds, runs = (10.0, 1) if args.quick else (30.0, 3)
    levels = [1, 2, 4, 8] if args.quick else [1, 2, 4, 8, 12, 16]

    rec = SpeechRecognizer()
    before = rss_mb()
    t0 = time.perf_counter()
    rec.model("ko")
    load_s = time.perf_counter() - t0
    model_mb = rss_mb() - before
    print(f"model {rec.source('ko').path}: loaded in {load_s:.1f} s, +{model_mb:.0f} MB RSS")

    pcm = stream_audio(seconds)
    report: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "model": {"path": str(rec.source("ko").path), "load_s": load_s, "rss_mb": model_mb},
        "audio_s": seconds, "targets": TARGETS,
        "thresholds": {"min_word_conf": GRAMMAR_MIN_WORD_CONF,
                       "min_coverage": GRAMMAR_MIN_COVERAGE},
    }
    for mode, phrases in (("free", None), ("grammar", MENU)):
        single = per_stream(rec, pcm, phrases, runs)
        latency = end_of_speech_latency(rec, phrases)
        print(f"{mode:7} RTF {single['rtf']:.3f} per stream (target <= "
              f"{TARGETS[mode + '_rtf']}), result() after speech "
              f"{latency['median_ms']:.0f} ms median / {latency['max_ms']:.0f} ms max")
        rows = []
        for n in levels:
            row = concurrent(rec, pcm, phrases, n)
            rows.append(row)
            print(f"        {n:2} at once: worst stream RTF {row['rtf_worst']:.3f}, "
                  f"{row['audio_s_per_s']:.1f} s of audio per s, CPU/wall "
                  f"{row['cpu_per_wall']:.2f}{'' if row['realtime'] else '  (not real-time)'}")
        ok = [r["streams"] for r in rows if r["realtime"]]
        capacity = max(ok) if ok else 0
        extrapolated = rows[-1]["audio_s_per_s"]
        print(f"        real-time at every measured level up to {capacity} streams; "
              f"throughput at {rows[-1]['streams']}: about {extrapolated:.0f} streams' worth")
        report[mode] = {"per_stream": single, "end_of_speech": latency, "concurrency": rows,
                        "realtime_streams_measured": capacity}

    speeds = [140] if args.quick else [130, 165]
    t0 = time.perf_counter()
    report["rejection"] = rejection(rec, speeds)
    for name, r in report["rejection"].items():
        print(f"grammar, {name}: in-grammar {r['accepted_correct']}/{r['in_grammar']} "
              f"accepted correctly, {r['accepted_wrong_option']} as the wrong option; "
              f"out-of-grammar {r['false_accepts']}/{r['out_of_grammar']} falsely accepted")
    print(f"(rejection check: {time.perf_counter() - t0:.0f} s)")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for name in (f"asr-{stamp}.json", "asr-latest.json"):
        (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / f'asr-{stamp}.json'}")


if __name__ == "__main__":
    main()

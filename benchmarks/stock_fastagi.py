"""A stock panoramisk FastAGI app (answer, play one prompt, done): the baseline that
``benchmarks/load.py`` runs on the same Asterisk, in a process of its own so its CPU
is its own.

    python benchmarks/stock_fastagi.py HOST PORT SOUND

Prints ``ready`` once listening, then one JSON line per call: set-up (handler called
-> ANSWER written) and each command's round trip (written -> reply read), in ms, and
on SIGTERM a last line with the process's CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sys
import time

from panoramisk.fast_agi import Application


def main() -> None:
    host, port, sound = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    app = Application()

    async def answer_and_play(request: object) -> None:
        entered = time.monotonic()
        trips = []
        first = None
        for line in ("ANSWER", f'STREAM FILE {sound} ""', "SET VARIABLE IVR_DONE 1"):
            sent = time.monotonic()
            first = first or sent
            await request.send_command(line)  # type: ignore[attr-defined]
            trips.append(round((time.monotonic() - sent) * 1000, 3))
        print(json.dumps({"uniqueid": request.headers.get("agi_uniqueid"),  # type: ignore[attr-defined]
                          "setup_ms": round((first - entered) * 1000, 3),
                          "round_trips_ms": trips}), flush=True)

    app.add_route("flow?name=stock", answer_and_play)  # sim-flow, exten "stock"

    async def serve() -> None:
        server = await asyncio.start_server(app.handler, host, port)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        async with server:
            await stop.wait()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime,
                          "rss_kb": usage.ru_maxrss}), flush=True)

    asyncio.run(serve())


if __name__ == "__main__":
    main()

"""``ivr serve``: run the engine for a PBX (the production entry point)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import click

from ivr.engine import Engine
from ivr.obs import systemd
from ivr.obs.logs import LOG_FORMATS, LogFormat, use_log_format
from ivr.pbx import PbxInstance
from ivr.settings import load_settings


@click.command()
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
              help="text, or json: one JSON object a line, each with its call id "
                   "(default: setting ops.log_format).")
def serve(log_format: LogFormat | None) -> None:
    """Answer calls: FastAGI and AudioSocket listeners, AMI watch, call records."""
    # Belt and braces: files are made 0600 explicitly; anything else this process (or
    # a library) creates is the owner's only too - records, journals, prompt audio.
    os.umask(0o077)
    settings = load_settings()
    use_log_format(log_format or settings.ops.log_format)

    async def run() -> None:
        engine = Engine(settings, PbxInstance(settings))
        await engine.start(require_ami=False)
        prepared = await engine.prepare_prompts()
        click.echo(f"engine ready: FastAGI {settings.engine.host}:{settings.engine.agi_port}, "
                   f"{prepared} prompts rendered; Ctrl-C to stop")
        systemd.notify("READY=1")  # Type=notify units (deploy/systemd/ivr.service)
        watchdog = systemd.start_watchdog()  # WatchdogSec: a frozen loop gets restarted
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        systemd.notify("STOPPING=1")
        await systemd.stop_watchdog(watchdog)
        await engine.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())

"""``ivr serve``: run the engine for a PBX (the production entry point)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import click

from ivr.engine import Engine
from ivr.pbx import PbxInstance
from ivr.settings import load_settings


@click.command()
def serve() -> None:
    """Answer calls: FastAGI and AudioSocket listeners, AMI watch, call records."""
    # Belt and braces: files are made 0600 explicitly; anything else this process (or
    # a library) creates is the owner's only too - records, journals, prompt audio.
    os.umask(0o077)
    settings = load_settings()

    async def run() -> None:
        engine = Engine(settings, PbxInstance(settings))
        await engine.start(require_ami=False)
        prepared = await engine.prepare_prompts()
        click.echo(f"engine ready: FastAGI {settings.engine.host}:{settings.engine.agi_port}, "
                   f"{prepared} prompts rendered; Ctrl-C to stop")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await engine.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())

"""Server-sent events over an aiohttp StreamResponse: plain HTTP, so it passes the
site's reverse proxy (``X-Accel-Buffering: no`` asks nginx not to buffer it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web


class EventStream:
    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def open(self) -> None:
        await self.response.prepare(self.request)

    async def send_raw(self, event: str, data: str) -> None:
        lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
        await self.response.write(f"event: {event}\n{lines}\n".encode())

    async def send(self, event: str, data: Any) -> None:
        await self.send_raw(event, json.dumps(data))

    async def comment(self, text: str) -> None:
        await self.response.write(f": {text}\n\n".encode())


def follow_board(live: Any, changed: asyncio.Event) -> asyncio.Future[None] | None:
    """Set ``changed`` at every update of the live board (the stream that owns it cancels
    the task when it ends); None without a board (no AMI yet)."""
    if live is None:
        return None

    async def pump() -> None:
        async for _update in live.subscribe():
            changed.set()

    return asyncio.ensure_future(pump())

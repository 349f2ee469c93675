"""An AudioSocket stream lives no longer than its call: when the call's FastAGI session
ends, its stream is closed and its UUID refused (a fake Asterisk on a real socket)."""

import asyncio
import uuid

import pytest

from ivr.telephony.agi_auth import networks
from ivr.telephony.audiosocket import AudioSocketServer, Kind, encode, read_frame, wait_stream
from ivr.telephony.call_scope import call_scope


@pytest.fixture
async def server():
    app = AudioSocketServer(allowed=networks(["127.0.0.1"]))
    srv = await app.start("127.0.0.1", 0)
    app.port = srv.sockets[0].getsockname()[1]
    yield app
    await app.stop()


async def asterisk(app, call_uuid: str):
    """Connect as Asterisk's AudioSocket() does: the UUID frame first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    writer.write(encode(Kind.UUID, uuid.UUID(call_uuid).bytes))
    await writer.drain()
    return reader, writer


async def until_closed(reader) -> list[int]:
    """Frame kinds until the engine closes the socket (bounded)."""
    kinds = []
    async with asyncio.timeout(5):
        try:
            while (frame := await read_frame(reader)) is not None:
                kinds.append(frame.kind)
        except ConnectionResetError:  # closed with our UUID frame unread
            pass
    return kinds


async def test_a_calls_open_stream_is_closed_when_the_call_ends(server):
    async with call_scope("1700000000.1"):
        call_uuid, fut = server.expect()
        reader, _w = await asterisk(server, call_uuid)
        stream = await wait_stream(fut, 2)
        assert not stream.closed.is_set() and stream in server.streams
        # the flow forgets to close it (or dies): the call's end must do it
    kinds = await until_closed(reader)
    assert kinds[-1] == Kind.HANGUP  # Asterisk's AudioSocket() returns to the dialplan
    assert stream.closed.is_set()
    await asyncio.sleep(0)
    assert stream not in server.streams


async def test_a_uuid_is_refused_once_its_call_has_ended(server):
    async with call_scope("1700000000.2"):
        call_uuid, fut = server.expect()
    assert fut.cancelled()
    reader, _w = await asterisk(server, call_uuid)
    assert await until_closed(reader) == [Kind.HANGUP]
    assert server.refused == 1


async def test_a_stream_is_closed_when_asterisk_hangs_up(server):
    call_uuid, fut = server.expect()
    _r, writer = await asterisk(server, call_uuid)
    stream = await wait_stream(fut, 2)
    writer.write(encode(Kind.HANGUP))
    await writer.drain()
    await asyncio.wait_for(stream.closed.wait(), 2)
    await asyncio.sleep(0.05)
    assert stream.writer.is_closing()  # our side of the socket is gone too


async def test_a_call_cancelled_while_waiting_leaves_no_stream_behind(server):
    async def call() -> None:
        async with call_scope("1700000000.3"):
            _uuid, fut = server.expect()
            calls.append(_uuid)
            await wait_stream(fut, 5)

    calls: list[str] = []
    task = asyncio.create_task(call())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reader, _w = await asterisk(server, calls[0])
    assert await until_closed(reader) == [Kind.HANGUP]
    assert not server.streams


async def test_a_peer_off_the_allowlist_is_refused():
    app = AudioSocketServer(allowed=networks(["10.9.8.7"]))
    srv = await app.start("127.0.0.1", 0)
    app.port = srv.sockets[0].getsockname()[1]
    try:
        call_uuid, _fut = app.expect()
        reader, _w = await asterisk(app, call_uuid)
        assert await until_closed(reader) == []
        assert app.refused == 1
    finally:
        await app.stop()

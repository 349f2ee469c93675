"""The AudioSocket server on a real socket, with a client playing Asterisk's part."""

import asyncio
import uuid

import pytest

from ivr.telephony.audiosocket import AudioSocketServer, Kind, encode, read_frame, wait_stream


@pytest.fixture
async def server():
    srv = AudioSocketServer()
    s = await srv.start("127.0.0.1", 0)
    srv.port = s.sockets[0].getsockname()[1]
    yield srv
    await srv.stop()


async def test_unknown_uuid_is_refused(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode(Kind.UUID, uuid.uuid4().bytes))
    await writer.drain()
    frame = await asyncio.wait_for(read_frame(reader), 2)
    assert frame is not None and frame.kind == Kind.HANGUP
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.refused == 1


async def test_expected_call_streams_both_ways_with_20ms_frames(server):
    call_uuid, fut = server.expect()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode(Kind.UUID, uuid.UUID(call_uuid).bytes))
    for i in range(10):
        writer.write(encode(Kind.AUDIO, bytes([i]) * 320))
    writer.write(encode(Kind.DTMF, b"4"))
    await writer.drain()
    stream = await wait_stream(fut, 2)
    got = [await asyncio.wait_for(stream.audio_in.get(), 2) for _ in range(10)]
    assert [g[0] for g in got] == list(range(10))
    assert await asyncio.wait_for(stream.dtmf_in.get(), 2) == "4"

    done = stream.play(b"\x01\x00" * 800)  # 100 ms of prompt = 5 frames, then silence
    frames = []
    while len(frames) < 40:
        frame = await asyncio.wait_for(read_frame(reader), 2)
        assert frame is not None and frame.kind == Kind.AUDIO and len(frame.payload) == 320
        frames.append(frame.payload)
    assert done.is_set()
    prompt = [i for i, f in enumerate(frames) if f == b"\x01\x00" * 160]
    assert len(prompt) == 5 and prompt == list(range(prompt[0], prompt[0] + 5))
    assert all(f == bytes(320) for i, f in enumerate(frames) if i not in prompt)

    await stream.close()
    tail = [f async for f in _drain(reader)]
    assert tail and tail[-1].kind == Kind.HANGUP


async def _drain(reader):
    while (frame := await asyncio.wait_for(read_frame(reader), 2)) is not None:
        yield frame


async def test_wait_stream_times_out_with_a_clear_error(server):
    from ivr.telephony.errors import AudioSocketError

    _uuid, fut = server.expect()
    with pytest.raises(AudioSocketError, match="did not open"):
        await wait_stream(fut, 0.1)

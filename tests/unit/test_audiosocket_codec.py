"""AudioSocket frame encoding and decoding."""

import asyncio
import uuid

import pytest

from ivr.telephony.audiosocket import FRAME_BYTES, Kind, decode_header, encode, read_frame


def test_encode_matches_wire_layout():
    assert encode(Kind.DTMF, b"5") == bytes([0x03, 0x00, 0x01, 0x35])
    assert encode(Kind.HANGUP) == bytes([0x00, 0x00, 0x00])
    frame = encode(Kind.AUDIO, bytes(FRAME_BYTES))
    assert frame[:3] == bytes([0x10, 0x01, 0x40]) and len(frame) == 3 + 320


def test_decode_header():
    assert decode_header(bytes([0x10, 0x01, 0x40])) == (0x10, 320)
    with pytest.raises(ValueError):
        decode_header(b"\x10\x01")


async def test_read_frames_from_a_stream():
    u = uuid.uuid4()
    reader = asyncio.StreamReader()
    reader.feed_data(encode(Kind.UUID, u.bytes) + encode(Kind.AUDIO, b"\x01\x02" * 160)
                     + encode(Kind.DTMF, b"#"))
    reader.feed_eof()
    first = await read_frame(reader)
    assert first is not None and first.kind == Kind.UUID and uuid.UUID(bytes=first.payload) == u
    audio = await read_frame(reader)
    assert audio is not None and audio.kind == Kind.AUDIO and len(audio.payload) == 320
    dtmf = await read_frame(reader)
    assert dtmf is not None and dtmf.payload == b"#"
    assert await read_frame(reader) is None


async def test_truncated_frame_reads_as_end_of_stream():
    reader = asyncio.StreamReader()
    reader.feed_data(bytes([0x10, 0x01, 0x40]) + b"\x00" * 100)
    reader.feed_eof()
    assert await read_frame(reader) is None

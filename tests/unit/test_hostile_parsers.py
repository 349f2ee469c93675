"""Property-based tests of the wire parsers: AGI, AMI (panoramisk, as we use it) and
AudioSocket. Any input gives a parse or our own protocol error, never another
exception, and well-formed input means what it says however it is split.

Bounded: every test has ``max_examples`` and a ``deadline``; the whole file runs in
seconds. The real-socket behaviour under junk is in tests/e2e/test_hostile_traffic.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ivr.telephony import audiosocket as aus
from ivr.telephony.agi_protocol import (
    AgiReply,
    ReplyReader,
    check_reply,
    parse_env,
    parse_reply,
    split_script,
)
from ivr.telephony.errors import AgiCommandError, AgiProtocolError, CallerHangup

FAST = settings(max_examples=200, deadline=timedelta(milliseconds=500))
FEW = settings(max_examples=25, deadline=timedelta(seconds=3),
               suppress_health_check=[HealthCheck.too_slow])

# --- AGI ---------------------------------------------------------------------------
ENV_KEY = st.from_regex(r"\Aagi_[a-z_0-9]{1,20}\Z")
# a value Asterisk can send: anything but the line end it cannot escape
ENV_VALUE = st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                    max_size=40)


@FAST
@given(st.binary(max_size=2000))
def test_any_header_block_parses_to_agi_keys(block):
    env = parse_env(block)
    assert all(isinstance(k, str) and k.startswith("agi_") and isinstance(v, str)
               for k, v in env.items())


@FAST
@given(st.dictionaries(ENV_KEY, ENV_VALUE, max_size=15))
@example({"agi_calleridname": "Eve\u2028agi_network_script: admin",
          "agi_network_script": "inbound"})
@example({"agi_calleridname": "Eve\x85agi_arg_1: forged"})
def test_a_header_value_cannot_add_lines_of_its_own(env):
    """A SIP display name with U+2028 or U+0085 stays one value (was split by
    str.splitlines into a forged ``agi_*`` line)."""
    block = "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"
    assert parse_env(block) == env


@FAST
@given(st.text(max_size=300))
def test_any_network_script_splits(script):
    path, args = split_script(script)
    assert isinstance(path, str) and not path.startswith("/") and not path.endswith("/")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())


@FAST
@given(st.from_regex(r"\A[a-z][a-z0-9_/]{0,20}\Z"),
       st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z"),
                       st.text(min_size=1, max_size=20), max_size=5))
def test_a_script_url_round_trips(path, args):
    """(An empty ``?x=`` is dropped, as parse_qsl does: absent and blank read alike.)"""
    assert split_script(f"{path}?{urlencode(args)}") == (path.strip("/"), args)


def _feed(reader: ReplyReader, lines: list[str]) -> AgiReply | None:
    for line in lines:
        reply = reader.feed(line)
        if reply is not None:
            return reply
    return None


@FAST
@given(st.lists(st.text(max_size=200), max_size=20))
@example(["200 result=99999999"])
@example(["200 result=" + "9" * 5000])
def test_any_lines_give_a_reply_or_a_protocol_error(lines):
    reader = ReplyReader("STREAM FILE x")
    try:
        reply = _feed(reader, lines)
    except AgiProtocolError:
        return
    if reply is None:
        return
    assert reply.code not in (100,)
    _ = reply.value, reply.digit, reply.ok  # never raise
    try:
        assert check_reply("X", reply, gone=reader.caller_gone) is reply
    except (CallerHangup, AgiCommandError):
        pass


REPLY = st.builds(
    lambda code, result, data, extra: (code, result, data, extra),
    st.sampled_from([200]), st.from_regex(r"\A-?[0-9]{0,6}\Z"),
    st.none() | st.from_regex(r"\A[a-z ]{1,12}\Z"),
    st.dictionaries(st.from_regex(r"\A[a-z_]{1,8}\Z"), st.from_regex(r"\A[0-9a-z]{1,8}\Z"),
                    max_size=3))


def _line(code: int, result: str, data: str | None, extra: dict[str, str]) -> str:
    line = f"{code} result={result}"
    if data is not None:
        line += f" ({data})"
    return line + "".join(f" {k}={v}" for k, v in extra.items())


@FAST
@given(REPLY, st.integers(0, 3), st.integers(0, 3), st.booleans(), st.booleans())
def test_hangups_trying_and_usage_never_shift_the_reply(parts, hangups_before, hangups_after,
                                                        trying, usage_first):
    """HANGUP lines anywhere, a provisional 100 and a whole 520 usage block: the reply
    to the command is the line meant for it, and the next one is untouched."""
    code, result, data, extra = parts
    lines = ["HANGUP"] * hangups_before
    if trying:
        lines.append("100 result=0 Trying...")
    lines += ["HANGUP"] * hangups_after + [_line(*parts) + "\r\n"]
    reader = ReplyReader("WAIT FOR DIGIT 100")
    reply = _feed(reader, lines)
    assert reply is not None
    assert (reply.code, reply.result, reply.data) == (code, result, data)
    assert reply.extra == {k: v for k, v in extra.items()} or data is not None
    assert reader.caller_gone == bool(hangups_before + hangups_after)
    if usage_first:
        usage = ReplyReader("BOGUS")
        got = _feed(usage, ["520-Invalid command syntax.  Proper usage follows:",
                            "200 result=1", "HANGUP", "520 End of proper usage."])
        assert got is not None and got.code == 520 and "200 result=1" in got.text


@FAST
@given(st.integers(0, 999), st.text(max_size=50))
def test_parse_reply_takes_any_three_digit_code(code, rest):
    line = f"{code:03d} {rest}".rstrip("\r")
    if "\n" in line or "\r" in line:
        return
    reply = parse_reply(line)
    assert reply.code == code


# --- AMI (panoramisk's parser, as the engine uses it) -------------------------------
class _Factory:
    """What AMIProtocol needs of its Manager: a dispatch for events."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.forgetable_actions: tuple[str, ...] = ()
        self.awaiting_actions: dict[str, object] = {}

    def dispatch(self, message: Message) -> None:
        self.events.append(message)

    def connection_lost(self, exc: object) -> None:
        pass


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _protocol() -> tuple[AMIProtocol, _Factory]:
    proto = AMIProtocol()
    proto.connection_made(_Transport())
    factory = _Factory()
    proto.factory = factory
    return proto, factory


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FAST
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=10))
def test_any_ami_bytes_in_any_chunks_never_raise(data, cuts):
    proto, factory = _protocol()
    for chunk in _chunks(b"Asterisk Call Manager/9.0.0\r\n" + data, cuts):
        proto.data_received(chunk)
    for event in factory.events:  # what the engine reads of an event (engine.py)
        assert isinstance(event.get("Event", ""), str | list)
        _ = event.get("Uniqueid", ""), event.get("Queue"), event.get("HoldTime")


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEADER_NAME = st.text(LETTERS, min_size=1, max_size=12).filter(
    lambda k: k.lower() not in ("event", "response", "actionid", "content"))
# printable ASCII, not empty: panoramisk strips each message, so an empty value in
# the last header ("Exten: ") is lost; the engine reads none that way
HEADER_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                       max_size=30)
EVENT = st.tuples(st.sampled_from(["AgentConnect", "AgentCalled", "QueueCallerJoin",
                                   "OriginateResponse", "Newchannel"]),
                  st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6,
                           unique_by=lambda kv: kv[0].lower()).map(dict))  # case-blind keys


@FAST
@given(st.lists(EVENT, min_size=1, max_size=8), st.lists(st.integers(0, 3000), max_size=12))
def test_ami_events_mean_the_same_however_tcp_splits_them(events, cuts):
    wire = "".join("Event: " + name + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
                   + "\r\n" for name, h in events).encode()
    proto, factory = _protocol()
    for chunk in _chunks(wire, cuts):
        proto.data_received(chunk)
    assert [(e["Event"], {k: v for k, v in e.items() if k not in ("Event", "content")})
            for e in factory.events] == [(n, dict(h)) for n, h in events]


# --- AudioSocket --------------------------------------------------------------------
FRAME = st.tuples(st.sampled_from([k.value for k in aus.Kind] + [0x02, 0x7F]),
                  st.binary(max_size=400))


@FAST
@given(st.binary(min_size=3, max_size=3))
def test_every_header_decodes(header):
    kind, length = aus.decode_header(header)
    assert 0 <= kind <= 0xFF and 0 <= length <= 0xFFFF
    assert aus.encode(kind, b"\0" * length)[:3] == header


async def _frames(data: bytes, cuts: list[int]) -> list[aus.Frame]:
    reader = asyncio.StreamReader()
    for chunk in _chunks(data, cuts):
        reader.feed_data(chunk)
    reader.feed_eof()
    out = []
    while (frame := await aus.read_frame(reader)) is not None:
        out.append(frame)
    return out


@FAST
@given(st.lists(FRAME, max_size=10), st.lists(st.integers(0, 5000), max_size=10))
def test_frames_round_trip_however_tcp_splits_them(frames, cuts):
    wire = b"".join(aus.encode(k, p) for k, p in frames)
    got = asyncio.run(_frames(wire, cuts))
    assert [(f.kind, f.payload) for f in got] == frames


@FAST
@given(st.binary(max_size=3000))
def test_any_bytes_read_as_whole_frames_then_end(data):
    """Junk is read frame by frame; a torn last frame is the end (None), never an
    exception, and nothing beyond the bytes sent is invented."""
    got = asyncio.run(_frames(data, []))
    used = sum(3 + len(f.payload) for f in got)
    assert used <= len(data)
    assert b"".join(aus.encode(f.kind, f.payload) for f in got) == data[:used]


async def _refused(first: bytes) -> tuple[int, bool]:
    """A real AudioSocket server on an unused port, one connection sending ``first``:
    (refused count, whether the server closed the connection)."""
    server = aus.AudioSocketServer()
    expected, fut = server.expect()
    srv = await server.start("127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first)
        await writer.drain()
        writer.write_eof()
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 3.0)  # the server hangs up on us
        closed = reader.at_eof()
        writer.close()
        assert not fut.done()  # the expected call's stream was not taken by junk
        assert uuid.UUID(expected)
        return server.refused, closed
    finally:
        fut.cancel()
        await server.stop()


@FEW
@given(st.binary(max_size=600))
@example(aus.encode(aus.Kind.UUID, uuid.uuid4().bytes))  # a well-formed unknown UUID
@example(aus.encode(aus.Kind.UUID, b"short"))
def test_a_real_audiosocket_server_refuses_any_junk_first_frame(first):
    refused, closed = asyncio.run(_refused(first))
    assert refused == 1 and closed

"""The FastAGI server against a scripted Asterisk peer on a real socket."""

import asyncio

import pytest

from ivr.telephony.errors import AgiCommandError, CallerHangup
from ivr.telephony.fastagi import AgiSession, FastAgiServer

HEADERS = (b"agi_network: yes\nagi_network_script: {script}\nagi_uniqueid: 1700000000.7\n"
           b"agi_channel: PJSIP/trunk-00000007\nagi_callerid: 13800138000\n\n")


class Peer:
    """Plays Asterisk's side of one AGI session."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def expect(self, command: str) -> None:
        line = await asyncio.wait_for(self.reader.readline(), 5)
        assert line.decode().strip() == command

    async def send(self, text: str) -> None:
        self.writer.write(text.encode())
        await self.writer.drain()

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 5) == b""


@pytest.fixture
async def server():
    app = FastAgiServer()
    srv = await app.start("127.0.0.1", 0)
    app.port = srv.sockets[0].getsockname()[1]
    yield app
    await app.stop()


async def connect(app, script="inbound") -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    writer.write(HEADERS.replace(b"{script}", script.encode()))
    await writer.drain()
    return Peer(reader, writer)


async def test_probe_closing_before_headers_leaves_server_working(server):
    seen = []

    async def handler(session: AgiSession) -> None:
        seen.append((await session.command("ANSWER")).result)

    server.add_route("inbound", handler)
    for partial in (b"", b"agi_network: yes\n"):  # a TCP health check, a peer cut mid-header
        _r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(partial)
        w.close()
    ticks = 0
    for _ in range(5):  # the loop keeps running: a spinning handler would starve this
        await asyncio.sleep(0.01)
        ticks += 1
    peer = await connect(server)
    await peer.expect("ANSWER")
    await peer.send("200 result=0\n")
    assert await peer.closed()
    assert ticks == 5 and seen == ["0"]


async def test_hangup_line_after_a_reply_does_not_shift_later_replies(server):
    events = []

    async def handler(session: AgiSession) -> None:
        await session.command("ANSWER")
        try:
            await session.command('GET VARIABLE "QUEUESTATUS"')
        except CallerHangup:
            events.append("hangup")
        # clean-up on the dead channel still gets its own reply, not a stale one
        reply = await session.command('GET VARIABLE "MEMBERINTERFACE"', on_dead_channel=True)
        events.append(reply.data)

    server.add_route("inbound", handler)
    peer = await connect(server)
    await peer.expect("ANSWER")
    await peer.send("200 result=0\nHANGUP\n")
    await peer.expect('GET VARIABLE "QUEUESTATUS"')
    await peer.send("200 result=1 (TIMEOUT)\n")
    await peer.expect('GET VARIABLE "MEMBERINTERFACE"')
    await peer.send("200 result=1 (PJSIP/1001)\n")
    assert await peer.closed()
    assert events == ["hangup", "PJSIP/1001"]


async def test_511_on_dead_channel_surfaces_as_caller_hangup(server):
    raised = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.command('STREAM FILE "hello" ""')
        except CallerHangup as exc:
            raised.append(exc)

    server.add_route("inbound", handler)
    peer = await connect(server)
    await peer.expect('STREAM FILE "hello" ""')
    await peer.send("511 Command Not Permitted on a dead channel or intercept routine\n")
    assert await peer.closed()
    assert len(raised) == 1


async def test_520_usage_text_is_consumed_whole(server):
    results = []

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiCommandError) as err:
            await session.command("GET DATA")
        results.append(err.value.code)
        results.append((await session.command('GET VARIABLE "X"')).data)

    server.add_route("inbound", handler)
    peer = await connect(server)
    await peer.expect("GET DATA")
    await peer.send("520-Invalid command syntax.  Proper usage follows:\n"
                    " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
                    "520 End of proper usage.\n")
    await peer.expect('GET VARIABLE "X"')
    await peer.send("100 result=0 Trying...\n200 result=1 (yes)\n")
    assert await peer.closed()
    assert results == [520, "yes"]


async def test_query_string_selects_route_and_becomes_args(server):
    got = []

    async def handler(session: AgiSession) -> None:
        got.append((session.path, session.args, session.uniqueid, session.caller_number))

    server.add_route("inbound", handler)
    peer = await connect(server, "inbound?lang=zh&line=2")
    assert await peer.closed()
    assert got == [("inbound", {"lang": "zh", "line": "2"}, "1700000000.7", "13800138000")]


async def test_failing_handler_and_unknown_route_close_the_session(server):
    async def broken(session: AgiSession) -> None:
        raise RuntimeError("flow bug")

    server.add_route("inbound", broken)
    assert await (await connect(server)).closed()  # dialplan then falls back to the operator
    assert await (await connect(server, "nowhere")).closed()


async def test_eof_mid_command_is_a_hangup(server):
    raised = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.command("ANSWER")
        except CallerHangup:
            raised.append(True)

    server.add_route("inbound", handler)
    peer = await connect(server)
    await peer.expect("ANSWER")
    peer.writer.close()
    for _ in range(50):
        if raised:
            break
        await asyncio.sleep(0.01)
    assert raised == [True]

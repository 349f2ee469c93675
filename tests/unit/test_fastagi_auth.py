"""FastAGI refuses sessions that do not prove they come from our Asterisk, and no reply
is awaited forever: against a scripted peer on a real socket."""

import asyncio
import logging

import pytest

from ivr.telephony.agi_auth import AgiAuth, agi_token, networks, peer_allowed
from ivr.telephony.fastagi import (
    CONVERSATION_TIMEOUT,
    PLAYBACK_TIMEOUT,
    REPLY_TIMEOUT,
    AgiSession,
    AgiTimeout,
    FastAgiServer,
    reply_timeout,
)

SECRET = "9f" * 32
CALLER = "13800138000"


def headers(uniqueid: str = "1700000000.7", token: str | None = None,
            script: str = "inbound") -> bytes:
    token = agi_token(SECRET, uniqueid) if token is None else token
    lines = ["agi_network: yes", f"agi_network_script: {script}",
             f"agi_uniqueid: {uniqueid}", "agi_channel: PJSIP/trunk-00000007",
             f"agi_callerid: {CALLER}"]
    if token:
        lines.append(f"agi_arg_1: {token}")
    return ("\n".join(lines) + "\n\n").encode()


class Server:
    def __init__(self, app: FastAgiServer, port: int) -> None:
        self.app, self.port = app, port
        self.handled: list[AgiSession] = []
        self.errors: list[BaseException] = []

    async def open(self, block: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(block)
        await writer.drain()
        return reader, writer

    async def refused(self, block: bytes) -> bool:
        """True when the server closed the session without sending a single command."""
        reader, _writer = await self.open(block)
        return await asyncio.wait_for(reader.read(), 5) == b""


async def start(peers: list[str], handler=None) -> Server:
    app = FastAgiServer(auth=AgiAuth.build(SECRET, peers))
    srv = await app.start("127.0.0.1", 0)
    server = Server(app, srv.sockets[0].getsockname()[1])

    async def record(session: AgiSession) -> None:
        server.handled.append(session)
        if handler is not None:
            try:
                await handler(session)
            except BaseException as exc:
                server.errors.append(exc)
                raise
    app.add_route("inbound", record)
    return server


@pytest.fixture
async def server():
    running = await start(["127.0.0.1"])
    yield running
    await running.app.stop()


def test_token_is_the_dialplans_sha1_envelope():
    import hashlib

    uid = "1733112345.42"
    assert agi_token("k", uid) == hashlib.sha1(f"k:{uid}:k".encode()).hexdigest()
    assert agi_token("k", uid) != agi_token("k", "1733112345.43")
    assert agi_token("k", uid) != agi_token("j", uid)


async def test_a_session_with_the_calls_token_is_served(server):
    reader, _w = await server.open(headers())
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert [s.uniqueid for s in server.handled] == ["1700000000.7"]


@pytest.mark.parametrize("block, why", [
    (headers(token=""), "no call token"),
    (headers(token="0" * 40), "wrong call token"),
    (headers(token=agi_token(SECRET, "1700000000.8")), "wrong call token"),  # another call's
    (headers(token=agi_token("guess", "1700000000.7")), "wrong call token"),
    (headers(uniqueid="1700000000.7\x80\x00padding"), "no valid uniqueid"),
    (headers(uniqueid="1700000000.7 x" + "y" * 200), "no valid uniqueid"),
    (b"agi_network: yes\nagi_network_script: inbound\n\n", "no valid uniqueid"),
])
async def test_forged_sessions_are_closed_before_any_command(server, caplog, block, why):
    caplog.set_level(logging.WARNING, "ivr.telephony.fastagi")
    assert await server.refused(block)
    assert server.handled == [] and server.app.refused == 1
    assert why in caplog.text
    assert CALLER not in caplog.text  # refusals never log the caller's number


@pytest.mark.parametrize("uniqueid", ["1733112345.42", "pbx1-1733112345.42",
                                      "fu-1b4e28ba-2fa1-11d2-883f-0016d3cca427"])
async def test_asterisk_and_originate_uniqueids_are_served(server, uniqueid):
    """Asterisk's own ids, with a system name, and a follow-up call's AMI ChannelId."""
    reader, _w = await server.open(headers(uniqueid=uniqueid))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert [s.uniqueid for s in server.handled] == [uniqueid]


async def test_a_token_is_good_for_one_session_only(server):
    reader, _w = await server.open(headers())
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert await server.refused(headers())  # replayed from a log after the call
    assert len(server.handled) == 1


async def test_a_peer_off_the_allowlist_is_refused_even_with_a_good_token(caplog):
    running = await start(["10.9.8.7"])
    try:
        assert await running.refused(headers())
        assert running.handled == []
        assert "peer address not allowed" in caplog.text
    finally:
        await running.app.stop()


async def test_a_flood_of_forgeries_is_logged_once_a_second_and_all_counted(server, caplog):
    caplog.set_level(logging.WARNING, "ivr.telephony.fastagi")
    results = await asyncio.gather(*(server.refused(headers(token="0" * 40))
                                     for _ in range(50)))
    assert all(results) and server.app.refused == 50
    assert caplog.text.count("refused session") <= 2
    assert server.handled == []


def test_peer_allowlist_matches_addresses_and_networks():
    allowed = networks(["127.0.0.1", "10.1.0.0/16", "::1"])
    assert peer_allowed(("127.0.0.1", 5000), allowed)
    assert peer_allowed(("10.1.200.3", 5000), allowed)
    assert peer_allowed(("::ffff:127.0.0.1", 5000, 0, 0), allowed)  # v4-mapped
    assert peer_allowed(("::1", 5000, 0, 0), allowed)
    assert not peer_allowed(("10.2.0.1", 5000), allowed)
    assert not peer_allowed(("127.0.0.2", 5000), allowed)
    assert not peer_allowed(None, allowed)


def test_engine_refuses_to_run_fastagi_without_a_secret():
    with pytest.raises(ValueError, match="secret"):
        AgiAuth.build("", ["127.0.0.1"])


# --- timeouts on every read ---------------------------------------------------------

def test_each_command_gets_a_deadline_fitting_what_it_does():
    assert reply_timeout("ANSWER") == REPLY_TIMEOUT
    assert reply_timeout('SET VARIABLE "IVR_DONE" "1"') == REPLY_TIMEOUT
    assert reply_timeout('STREAM FILE "/x/hello" "0123456789*#"') == PLAYBACK_TIMEOUT
    assert reply_timeout('GET DATA "/x/menu" "5000" "1"') == PLAYBACK_TIMEOUT
    assert reply_timeout('EXEC "AudioSocket" "uuid,127.0.0.1:4575"') == PLAYBACK_TIMEOUT
    # waiting in a queue and talking to the nurse can take long; still bounded
    assert reply_timeout('EXEC "Queue" "pharmacy,b(x),,,"') == CONVERSATION_TIMEOUT
    assert reply_timeout('EXEC "Dial" "PJSIP/1001,30"') == CONVERSATION_TIMEOUT
    assert REPLY_TIMEOUT < PLAYBACK_TIMEOUT < CONVERSATION_TIMEOUT < 24 * 3600


async def test_a_stalled_peer_ends_the_session_and_later_commands_fail_at_once():
    outcome = []

    async def handler(session: AgiSession) -> None:
        loop = asyncio.get_running_loop()
        try:
            await session.command("ANSWER", timeout=0.3)
        except AgiTimeout:
            outcome.append("timeout")
        started = loop.time()
        with pytest.raises(AgiTimeout):  # a fallback step's command does not wait again
            await session.command('GET VARIABLE "X"')
        outcome.append(loop.time() - started)
        raise AgiTimeout("flow gives up")

    running = await start(["127.0.0.1"], handler)
    try:
        reader, _w = await running.open(headers())
        assert (await asyncio.wait_for(reader.readline(), 5)).strip() == b"ANSWER"
        # the peer never replies; the engine closes the session: Asterisk's AGI()
        # returns without IVR_DONE and the dialplan seats the caller with a person
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert outcome[0] == "timeout" and outcome[1] < 0.05
    finally:
        await running.app.stop()


async def test_half_a_reply_line_then_silence_is_bounded_too():
    """Slowloris: the peer starts a reply and never ends the line."""
    got = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.command("CHANNEL STATUS", timeout=0.2)
        except AgiTimeout as exc:
            got.append(str(exc))

    running = await start(["127.0.0.1"], handler)
    try:
        reader, writer = await running.open(headers())
        await asyncio.wait_for(reader.readline(), 5)
        writer.write(b"200 res")  # slowloris: never the end of the line
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert got and "CHANNEL STATUS" in got[0]
    finally:
        await running.app.stop()

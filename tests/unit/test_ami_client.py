"""The AMI client against a scripted Asterisk manager on a real socket."""

import asyncio
import re

import pytest

from ivr.telephony.ami import AmiClient
from ivr.telephony.errors import AmiError


class FakeManagerServer:
    """Speaks just enough AMI: banner, Login, Ping, QueueAdd; can drop clients."""

    def __init__(self):
        self.logins = 0
        self.writers = []

    async def handle(self, reader, writer):
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            try:
                block = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            fields = dict(re.findall(r"(\w+): ([^\r]*)", block.decode()))
            action, aid = fields.get("Action", "").lower(), fields.get("ActionID", "")
            if action == "login":
                self.logins += 1
                ok = fields.get("Secret") == "right"
                writer.write((f"Response: {'Success' if ok else 'Error'}\r\nActionID: {aid}\r\n"
                              f"Message: Authentication {'accepted' if ok else 'failed'}"
                              "\r\n\r\n").encode())
                if ok:
                    writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
            elif action == "ping":
                writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode())
            elif action == "queueadd":
                writer.write(f"Response: Error\r\nActionID: {aid}\r\n"
                             "Message: Unable to add interface: Already there\r\n\r\n".encode())
            await writer.drain()

    def drop_all(self):
        for w in self.writers:
            w.close()
        self.writers.clear()


@pytest.fixture
async def manager():
    fake = FakeManagerServer()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    yield fake
    server.close()


async def test_reconnects_and_logs_in_again_after_losing_the_connection(manager):
    client = AmiClient("127.0.0.1", manager.port, "ivr", "right", reconnect_timeout=1)
    await client.connect(timeout=5)
    assert (await client.action({"Action": "Ping"}))["Ping"] == "Pong"
    manager.drop_all()
    for _ in range(50):
        if manager.logins == 2 and client.logged_in.is_set():
            break
        await asyncio.sleep(0.1)
    assert manager.logins == 2
    assert (await client.action({"Action": "Ping"}))["Ping"] == "Pong"
    client.close()


async def test_queue_login_is_idempotent(manager):
    client = AmiClient("127.0.0.1", manager.port, "ivr", "right")
    await client.connect(timeout=5)
    await client.queue_add("pharmacy", "PJSIP/1001")  # "Already there" is not an error
    client.close()


async def test_wrong_secret_is_a_clear_error(manager):
    client = AmiClient("127.0.0.1", manager.port, "ivr", "wrong")
    with pytest.raises(AmiError, match="no AMI login"):
        await client.connect(timeout=1)


async def test_engine_may_start_before_asterisk_and_log_in_later():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AmiClient("127.0.0.1", port, "ivr", "right", reconnect_timeout=1)
    with pytest.raises(AmiError):
        await client.connect(timeout=0.5, keep_trying=True)
    fake = FakeManagerServer()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", port)
    try:
        await asyncio.wait_for(client.logged_in.wait(), 10)
        assert fake.logins == 1
    finally:
        client.close()
        server.close()


def test_a_header_sent_twice_reaches_handlers_as_its_last_value():
    """panoramisk makes a list of a repeated header; the engine's queue-event and
    originate handlers call str methods on values, so they get single values."""
    from panoramisk.message import Message

    from ivr.telephony.ami import flatten_repeats

    raw = ("Event: AgentCalled\r\nUniqueid: 1.1\r\nUniqueid: 2.2\r\nQueue: pharmacy\r\n"
           "Queue: operator\r\nInterface: PJSIP/1001\r\n\r\n")
    event = flatten_repeats(Message.from_line(raw))
    assert (event["Uniqueid"], event["Queue"], event["Interface"]) == (
        "2.2", "operator", "PJSIP/1001")
    assert flatten_repeats(Message.from_line("Event: X\r\n\r\n"))["Event"] == "X"

"""Every channel implements the whole :class:`Channel` protocol, signatures included.

Flows and :mod:`ivr.calls` are written against the protocol; a method that only
some channels have (or that takes other arguments on one of them) would work in
the unit tests on one channel and fail on a live call on another.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket

import pytest

from ivr.telephony.channel import AgiChannel, Channel
from ivr.telephony.eagi import EagiChannel, EagiSession
from ivr.telephony.fake import FakeChannel
from ivr.telephony.fastagi import AgiSession

METHODS = sorted(name for name, member in vars(Channel).items()
                 if inspect.iscoroutinefunction(member))
ATTRIBUTES = sorted(Channel.__annotations__)
ENV = {"agi_uniqueid": "1718000000.42", "agi_callerid": "13800138000",
       "agi_channel": "PJSIP/trunk-00000001"}


def shape(fn: object) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults (annotations are strings here)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_protocol_lists_what_callers_use():
    assert "get_variable" in METHODS and ATTRIBUTES == ["caller_number", "uniqueid"]
    get_variable = inspect.signature(Channel.get_variable).parameters
    assert get_variable["after_hangup"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("impl", [AgiChannel, EagiChannel, FakeChannel])
@pytest.mark.parametrize("name", METHODS)
def test_every_channel_has_every_method_with_the_same_signature(impl, name):
    method = getattr(impl, name, None)
    assert method is not None, f"{impl.__name__} lacks {name}"
    assert inspect.iscoroutinefunction(method), f"{impl.__name__}.{name} is not async"
    assert shape(method) == shape(getattr(Channel, name))


@pytest.fixture
def eagi():
    """EagiChannel over real pipes, the headers on the script's stdin (built in the main
    thread: pyst2 installs a SIGHUP handler)."""
    stdin_r, stdin_w = os.pipe()
    os.write(stdin_w, "".join(f"{k}: {val}\n" for k, val in ENV.items()).encode() + b"\n")
    os.close(stdin_w)
    with os.fdopen(stdin_r, "r") as stdin, open(os.devnull, "w") as stdout:
        channel = EagiChannel(EagiSession(stdin, stdout), None)  # type: ignore[arg-type]
        yield channel
        channel.close()


async def test_every_channel_has_the_attributes(eagi):
    """On real sessions: a FastAGI socket and classic AGI pipes."""
    a, b = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=a)
    agi = AgiChannel(AgiSession(ENV, reader, writer), None, None, "")  # type: ignore[arg-type]
    try:
        for channel in (agi, eagi, FakeChannel(uniqueid="1718000000.42")):
            for attr in ATTRIBUTES:
                assert isinstance(getattr(channel, attr), str), (type(channel).__name__, attr)
            assert channel.uniqueid == "1718000000.42"
    finally:
        writer.close()
        b.close()
        await writer.wait_closed()

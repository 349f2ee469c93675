"""Who may drive a call over FastAGI: our Asterisk, proven per call.

Anyone who can reach the FastAGI port could otherwise pose as Asterisk with any
caller number, read that caller's history and forge call records. Two checks,
both before the first command is sent:

- the peer address is on the allowlist (``engine.peers``; default the PBX host
  and loopback);
- the session carries the per-call token the dialplan computes
  (``extensions.conf``, context ``ivr-agi-token``) as the AGI's first argument::

      agi_uniqueid: 1733112345.42
      agi_arg_1: 5b1f...   (40 hex digits)

  token = SHA1(secret ":" uniqueid ":" secret). Asterisk 22 has no HMAC dialplan
  function; the secret on both sides of the message (an envelope MAC) blocks
  SHA-1 length extension, and the uniqueid must be a plain identifier (Asterisk's
  ``[system-]epoch.sequence``, or a ChannelId an AMI Originate gave, such as a
  follow-up call's ``fu-<uuid>``), so a token seen in a log is good for that one
  call only. Each uniqueid is accepted once (a replay of a logged token after
  its call is refused).

A rotated secret (``ivr secrets rotate``) is picked up without a restart: a token
that does not match makes the engine read the secret again (at most once a second,
so a flood of forgeries cannot turn into a flood of file reads).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# A uniqueid: Asterisk's own ([system-]epoch.sequence) or an Originate's ChannelId;
# printable identifier characters only, at most Asterisk's 150.
UNIQUEID = re.compile(r"^[A-Za-z0-9_.:;-]{1,150}$")
TOKEN = re.compile(r"^[0-9a-f]{40}$")
TOKEN_ARG = "agi_arg_1"
# Uniqueids remembered to refuse replays: far more than the calls of a busy day.
REMEMBERED = 200_000
REREAD_SECONDS = 1.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def agi_token(secret: str, uniqueid: str) -> str:
    """The token the dialplan sends for the call ``uniqueid`` (same as its
    ``${SHA1(${IVR_AGI_SECRET}:${UNIQUEID}:${IVR_AGI_SECRET})}``).

    >>> agi_token("k", "1733112345.42")
    'a41a5513aa36584492dccdb901198a190681c7c6'
    """
    return hashlib.sha1(f"{secret}:{uniqueid}:{secret}".encode()).hexdigest()


def networks(peers: Iterable[str]) -> list[Network]:
    """Addresses or networks as networks; a host name stands for its addresses."""
    nets: list[Network] = []
    for peer in peers:
        try:
            nets.append(ipaddress.ip_network(peer, strict=False))
        except ValueError:
            for info in socket.getaddrinfo(peer, None, proto=socket.IPPROTO_TCP):
                nets.append(ipaddress.ip_network(info[4][0]))
    return nets


def peer_allowed(peer: object, allowed: list[Network]) -> bool:
    """``peer`` is a socket's ``peername`` ((host, port, ...) tuple)."""
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in allowed)


class Refused(Exception):
    """Why a session was refused (logged; never the caller's number or the token)."""


@dataclass
class AgiAuth:
    """The shared secret and the peer allowlist, checked at connect."""

    secret: str = field(repr=False)
    allowed: list[Network]
    reread: Callable[[], str] | None = field(default=None, repr=False)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)
    _reread_at: float = 0.0

    @classmethod
    def build(cls, secret: str, peers: Iterable[str],
              reread: Callable[[], str] | None = None) -> AgiAuth:
        """``reread``: the secret as it is now (after a rotation), read on a mismatch."""
        if not secret:
            raise ValueError("FastAGI needs a shared secret (Secrets.agi_secret)")
        return cls(secret, networks(peers), reread)

    def _matches(self, token: str, uniqueid: str) -> bool:
        if hmac.compare_digest(token, agi_token(self.secret, uniqueid)):
            return True
        now = time.monotonic()
        if self.reread is None or now - self._reread_at < REREAD_SECONDS:
            return False
        self._reread_at = now
        try:
            fresh = self.reread()
        except Exception:  # an unreadable file: keep the secret we have
            return False
        if not fresh or fresh == self.secret:
            return False
        self.secret = fresh
        return hmac.compare_digest(token, agi_token(self.secret, uniqueid))

    def check(self, peer: object, env: dict[str, str]) -> None:
        """Raise :class:`Refused` unless ``peer`` and ``env`` prove our Asterisk sent
        this session; accepting it marks its uniqueid used."""
        if not peer_allowed(peer, self.allowed):
            raise Refused("peer address not allowed")
        uniqueid = env.get("agi_uniqueid", "")
        if not UNIQUEID.match(uniqueid):
            raise Refused("no valid uniqueid")
        token = env.get(TOKEN_ARG, "").strip().lower()
        if not TOKEN.match(token):
            raise Refused("no call token")
        if not self._matches(token, uniqueid):
            raise Refused("wrong call token")
        if uniqueid in self._seen:
            raise Refused("call token already used")
        self._seen[uniqueid] = None
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

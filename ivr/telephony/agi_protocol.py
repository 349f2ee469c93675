"""AGI wire format: pure parsing and quoting, no I/O.

An AGI session starts with ``agi_*`` header lines and a blank line; then each
command gets one reply line. Examples of replies Asterisk sends::

    200 result=1
    200 result=0 endpos=12640
    200 result= (timeout)
    200 result=-1
    100 result=0 Trying...
    510 Invalid or unknown command
    511 Command Not Permitted on a dead channel or intercept routine
    520-Invalid command syntax.  Proper usage follows:
    ...
    520 End of proper usage.
    HANGUP

``HANGUP`` is not a reply: Asterisk writes it when the caller hangs up, at any
moment, even between a reply and the next command.

:class:`ReplyReader` turns the lines that follow one command into its reply, and
:func:`check_reply` says what that reply means for the flow. Both transports
(FastAGI over a socket, classic AGI/EAGI over pipes) feed them the lines they
read, so both understand Asterisk the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ivr.telephony.errors import AgiCommandError, AgiProtocolError, CallerHangup

HANGUP_LINE = "HANGUP"
USAGE_START = "520-"
USAGE_END = "520 "

_REPLY = re.compile(r"^(?P<code>\d{3})(?:[ ](?P<rest>.*))?$")
_RESULT = re.compile(r"result=(?P<result>\S*)(?:\s+\((?P<data>[^)]*)\))?")
_KV = re.compile(r"(?P<key>[a-z_]+)=(?P<value>\S+)")


@dataclass(frozen=True)
class AgiReply:
    """One parsed reply line."""

    code: int
    result: str = ""
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int | None:
        """``result=`` as an integer, when it is one."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def digit(self) -> str | None:
        """For STREAM FILE / WAIT FOR DIGIT: the key pressed, if any (result is its code)."""
        v = self.value
        return chr(v) if v is not None and 0 < v <= 0x10FFFF else None  # chr() raises above


def parse_reply(line: str) -> AgiReply:
    """Parse one reply line (without the newline).

    >>> parse_reply("200 result= (timeout)").data
    'timeout'
    >>> parse_reply("200 result=0 endpos=12640").extra
    {'endpos': '12640'}
    """
    m = _REPLY.match(line.rstrip("\r"))
    if m is None:
        raise ValueError(f"not an AGI reply: {line!r}")
    code = int(m.group("code"))
    rest = m.group("rest") or ""
    if code not in (100, 200):
        return AgiReply(code=code, text=rest)
    r = _RESULT.search(rest)
    if r is None:
        return AgiReply(code=code, text=rest)
    tail = rest[r.end():]
    extra = {k: v for k, v in _KV.findall(tail)}
    return AgiReply(code=code, result=r.group("result"), data=r.group("data"), extra=extra,
                    text=rest)


class ReplyReader:
    """Assembles the reply to one command from the lines Asterisk sends after it.

    Feed each line read to :meth:`feed` until it returns the reply. No I/O here, so
    the asyncio socket (FastAGI) and the blocking pipe (EAGI) read replies alike:

    - ``HANGUP`` lines are noted (:attr:`caller_gone`) and skipped: they come at
      any moment, and taking one as the reply would shift every later reply by one;
    - ``100 ... Trying...`` is provisional: the real reply follows;
    - ``520-`` usage text is consumed to its ``520 End of proper usage.`` line and
      returned as one 520 reply, so its lines are not read as later replies;
    - ``511`` (dead channel) is a reply, and also says the caller is gone.
    """

    def __init__(self, sent: str) -> None:
        self.sent = sent
        self.caller_gone = False  # a HANGUP line or a 511 came with this reply
        self._usage: list[str] | None = None  # inside a multi-line 520

    def feed(self, line: str) -> AgiReply | None:
        """One line (newline optional); the reply once it is complete, else None."""
        line = line.rstrip("\r\n")
        if line == HANGUP_LINE:
            self.caller_gone = True
            return None
        if self._usage is not None:
            if line.startswith(USAGE_END):
                return AgiReply(code=520, text="\n".join(self._usage))
            self._usage.append(line)
            return None
        if line.startswith(USAGE_START):
            self._usage = [line[len(USAGE_START):]]
            return None
        try:
            reply = parse_reply(line)
        except ValueError as exc:
            raise AgiProtocolError(f"after {self.sent!r}: {exc}") from exc
        if reply.code == 100:
            return None
        if reply.code == 511:
            self.caller_gone = True
        return reply


def check_reply(sent: str, reply: AgiReply, *, gone: bool, on_dead_channel: bool = False,
                channel: str = "") -> AgiReply:
    """What a reply means for the flow: the reply itself when the command worked.

    Raises :class:`CallerHangup` on ``511`` (dead channel), or when the caller is
    ``gone`` unless ``on_dead_channel`` (clean-up commands after a hangup still get
    their reply); :class:`AgiCommandError` on ``510``/``520`` (a bug in the command,
    not in the call). A ``200 result=-1`` is returned: each command decides what
    its -1 means (a failed playback, a timeout, a hangup to confirm).
    """
    if reply.code == 511 or (gone and not on_dead_channel):
        raise CallerHangup(f"caller hung up ({channel})")
    if reply.code in (510, 520):
        raise AgiCommandError(sent, reply.code, reply.text)
    return reply


def parse_env(block: bytes, encoding: str = "utf-8") -> dict[str, str]:
    """Parse the ``agi_key: value`` header block that opens a session.

    Lines end at ``\n`` only (what Asterisk writes): ``str.splitlines`` would also
    split at U+2028, U+0085, ``\x1c``..., which a caller's SIP display name may
    carry in ``agi_calleridname``, so a caller could add ``agi_*`` lines of their
    own (found by the property tests)."""
    env: dict[str, str] = {}
    for raw in block.decode(encoding, errors="replace").split("\n"):
        key, sep, value = raw.removesuffix("\r").partition(": ")
        if sep and key.startswith("agi_"):
            env[key] = value
    return env


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """``agi_network_script`` is the URL path, query included: separate the two.

    >>> split_script("inbound?lang=zh&line=2")
    ('inbound', {'lang': 'zh', 'line': '2'})
    """
    path, _, query = script.partition("?")
    return path.strip("/"), dict(parse_qsl(query))


def quote(arg: str) -> str:
    """Quote one command argument the way Asterisk's AGI parser reads it."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def command(*words: str | int | float) -> str:
    """Build a command line: bare keywords first, then quoted arguments.

    >>> command("STREAM FILE", "/x/hello", "0123456789*#")
    'STREAM FILE "/x/hello" "0123456789*#"'
    """
    head, *args = words
    return " ".join([str(head), *(quote(str(a)) for a in args)])

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

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
        return chr(v) if v is not None and v > 0 else None


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


def parse_env(block: bytes, encoding: str = "utf-8") -> dict[str, str]:
    """Parse the ``agi_key: value`` header block that opens a session."""
    env: dict[str, str] = {}
    for raw in block.decode(encoding, errors="replace").splitlines():
        key, sep, value = raw.partition(": ")
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

"""Exceptions of the telephony layer.

    TelephonyError
    ├── CallerHangup        the caller is gone; the flow stops and the record is closed
    ├── AgiError
    │   ├── AgiCommandError   Asterisk refused a command (510 invalid, 520 usage)
    │   └── AgiProtocolError  a line we cannot understand, or the session closed early
    ├── AudioSocketError    the media stream did not connect or broke
    └── AmiError            an AMI action failed or AMI is unreachable
"""

from __future__ import annotations


class TelephonyError(Exception):
    """Base of every telephony failure."""


class CallerHangup(TelephonyError):
    """The caller hung up. Raised once, at the first command after the hangup."""


class AgiError(TelephonyError):
    pass


class AgiCommandError(AgiError):
    def __init__(self, command: str, code: int, text: str) -> None:
        super().__init__(f"{command!r} refused: {code} {text}")
        self.command = command
        self.code = code
        self.text = text


class AgiProtocolError(AgiError):
    pass


class AudioSocketError(TelephonyError):
    pass


class AmiError(TelephonyError):
    pass

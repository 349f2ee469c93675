"""A scripted :class:`Channel` for unit tests of flows: no Asterisk, no audio.

It plays back what the test says the caller does (keys, hangups) and what the
queues do, records everything the flow asked for, and fails loudly on anything
the script did not foresee, so a flow cannot silently do something unexpected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ivr.telephony.channel import Heard, QueueOutcome
from ivr.telephony.errors import CallerHangup

HANGUP = "<hangup>"
SAY = "say:"  # "say:I have chest pain" - the caller speaks (confidence 0.9)


class UnexpectedCommand(AssertionError):
    """The flow did something the test script did not provide for."""


@dataclass
class FakeChannel:
    """``keys``: what the caller does at each prompt that waits for an answer: a key,
    "" (no input), ``SAY + words`` (speech), or HANGUP. ``queues``: outcome per queue
    name (``ext:<n>`` for extensions)."""

    keys: list[str] = field(default_factory=list)
    queues: dict[str, QueueOutcome] = field(default_factory=dict)
    uniqueid: str = "fake-1"
    caller_number: str = "13800138000"
    log: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False

    def __post_init__(self) -> None:
        self._keys = deque(self.keys)

    def _next_key(self, what: str) -> str:
        if not self._keys:
            raise UnexpectedCommand(f"the flow waits for input at {what!r}, "
                                    "but the script has no more caller input")
        key = self._keys.popleft()
        if key == HANGUP:
            self.hung_up = True
            raise CallerHangup("scripted hangup")
        return key

    def _check(self) -> None:
        if self.hung_up:
            raise CallerHangup("caller already hung up")

    async def answer(self) -> None:
        self._check()
        self.log.append(("answer", ""))

    async def say(self, text: str, lang: str = "en", profile: str = "normal",
                  interrupt: str = "") -> str | None:
        self._check()
        self.log.append(("say", text))
        return None

    async def play(self, sound: str, interrupt: str = "") -> str | None:
        self._check()
        self.log.append(("play", sound))
        return None

    async def collect_digits(self, prompt: str, max_digits: int = 1, timeout: float = 5.0,
                             lang: str = "en", profile: str = "normal") -> str:
        self._check()
        self.log.append(("collect", prompt))
        key = self._next_key(prompt)
        if key.startswith(SAY):
            raise UnexpectedCommand(f"the caller speaks ({key!r}) but {prompt!r} reads keys")
        return key

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        self._check()
        self.log.append(("hear", prompt))
        answer = self._next_key(prompt)
        if answer.startswith(SAY):
            words = answer[len(SAY):]  # a stand-in utterance: 20 ms of PCM per character
            return Heard(text=words, confidence=0.9, audio=b"\x01\x00" * 160 * len(words),
                         speech_ms=20 * len(words))
        return Heard(dtmf=answer)

    async def dial(self, extension: str, summary: str = "", call_id: str = "") -> QueueOutcome:
        return await self.transfer_to_queue(f"ext:{extension}", 0, summary=summary)

    async def listen(self, seconds: float) -> bytes:
        self._check()
        raise UnexpectedCommand("listen() is not scripted in FakeChannel")

    async def transfer_to_queue(self, queue: str, priority: int = 0, timeout: int = 0,
                                summary: str = "", call_id: str = "") -> QueueOutcome:
        self._check()
        self.log.append(("queue", f"{queue}:{priority}"))
        if queue not in self.queues:
            raise UnexpectedCommand(f"the flow queued the caller in {queue!r}, "
                                    f"not scripted (have {sorted(self.queues)})")
        return self.queues[queue]

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def hangup(self) -> None:
        self.log.append(("hangup", ""))
        self.hung_up = True

"""The one scripted :class:`Channel`: flow unit tests, the AGI-like tests and the
flow simulator (``ivr simulate``, ``ivr test``) all drive calls through it.

It plays back what the script says the caller does (keys, words, silence, keys
pressed during a prompt, hangups) and what the queues do, logs everything the
flow asked for, and, unless told what to do once the script is used up, fails
loudly on anything the script did not foresee. That failure is an
:class:`UnexpectedCommand`, which the runner's error handling cannot swallow.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.telephony.channel import Heard, QueueOutcome
from ivr.telephony.errors import CallerHangup
from ivr.telephony.handoff import Handoff

HANGUP = "<hangup>"
SAY = "say:"  # "say:I have chest pain" - the caller speaks
WAV = "wav:"  # "wav:/path/rec.wav" - a recording, heard by the real recogniser
BARGE = "barge:"  # "barge:1" - the caller presses 1 while an interruptible prompt plays


class UnexpectedCommand(BaseException):
    """The flow did something the test script did not provide for.

    A BaseException (like pytest's own outcomes), so that the runner's
    ``except Exception`` (any failure goes to a person) cannot turn a broken
    test into a passing one.
    """


@dataclass
class FakeChannel:
    """``keys``: what the caller does, in order: a key (or keys), "" (silence),
    ``SAY + words``, ``WAV + path``, ``BARGE + key`` (during the prompt before), or
    HANGUP. ``queues``: outcome per queue name (``ext:<n>`` for extensions);
    ``other_queues`` answers for any queue not listed (None: unscripted, fail).
    ``after_script``: what the caller does once the script is used up, given the
    prompt (None: fail)."""

    keys: list[str] = field(default_factory=list)
    queues: dict[str, QueueOutcome] = field(default_factory=dict)
    uniqueid: str = "fake-1"
    caller_number: str = "13800138000"
    log: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    handoffs: list[Handoff] = field(default_factory=list)  # one per queue attempt
    hung_up: bool = False
    other_queues: Callable[[str], QueueOutcome] | None = None
    after_script: Callable[[str], str] | None = None
    confidence: float = 0.9  # of scripted words
    speech_audio: bool = True  # a stand-in utterance with scripted words (20 ms per char)
    recognizer: Any = None  # ivr.speech.asr.SpeechRecognizer, for WAV entries

    def __post_init__(self) -> None:
        self._keys = deque(self.keys)

    # --- the script ---------------------------------------------------------------
    def _next_key(self, what: str) -> str:
        if self._keys:
            key = self._keys.popleft()
        elif self.after_script is not None:
            key = self.after_script(what)
        else:
            raise UnexpectedCommand(f"the flow waits for input at {what!r}, "
                                    "but the script has no more caller input")
        if key == HANGUP:
            self.hung_up = True
            raise CallerHangup("scripted hangup")
        if key.startswith(BARGE):
            raise UnexpectedCommand(f"the script presses {key[len(BARGE):]!r} during a "
                                    f"prompt, but the flow waits for input at {what!r}")
        return key

    def _barge_in(self, interrupt: str) -> str | None:
        """A scripted key pressed during this prompt, if the prompt can be interrupted."""
        if self._keys and self._keys[0].startswith(BARGE):
            key = self._keys[0][len(BARGE):]
            if key and key in interrupt:
                self._keys.popleft()
                return key
        return None

    def _check(self) -> None:
        if self.hung_up:
            raise CallerHangup("caller already hung up")

    # --- the Channel interface ---------------------------------------------------------
    async def answer(self) -> None:
        self._check()
        self.log.append(("answer", ""))

    async def say(self, text: str, lang: str = "en", profile: str = "normal",
                  interrupt: str = "") -> str | None:
        self._check()
        self.log.append(("say", text))
        return self._barge_in(interrupt)

    async def play(self, sound: str, interrupt: str = "") -> str | None:
        self._check()
        self.log.append(("play", sound))
        return self._barge_in(interrupt)

    async def collect_digits(self, prompt: str, max_digits: int = 1, timeout: float = 5.0,
                             lang: str = "en", profile: str = "normal") -> str:
        self._check()
        self.log.append(("collect", prompt))
        key = self._next_key(prompt)
        if key.startswith((SAY, WAV)):
            raise UnexpectedCommand(f"the caller speaks ({key!r}) but {prompt!r} reads keys")
        return key

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        self._check()
        self.log.append(("hear", prompt))
        answer = self._next_key(prompt)
        if answer.startswith(SAY):
            words = answer[len(SAY):]
            audio = b"\x01\x00" * 160 * len(words) if self.speech_audio else b""
            return Heard(text=words, confidence=self.confidence, audio=audio,
                         speech_ms=20 * len(words) if self.speech_audio else 0)
        if answer.startswith(WAV):
            return self._recognize(answer[len(WAV):], lang, phrases)
        return Heard(dtmf=answer)

    def _recognize(self, path: str, lang: str, phrases: list[str] | None) -> Heard:
        """What the real recogniser hears in a recording, as a live call would."""
        from ivr.speech.audio import read_wav, to_telephone

        if self.recognizer is None or lang not in self.recognizer.languages():
            raise RuntimeError(f"no speech recognition model for {lang}: see `ivr models list`")
        samples, rate = read_wav(Path(path))
        session = self.recognizer.session(lang, 8000, phrases)
        session.accept(to_telephone(samples, rate).tobytes())
        from ivr.speech.turn import answer_of

        text, confidence = answer_of(session.result(), phrases)
        return Heard(text=text, confidence=confidence)

    async def dial(self, extension: str, summary: str = "", call_id: str = "") -> QueueOutcome:
        return await self.transfer_to_queue(f"ext:{extension}", 0, summary=summary)

    async def listen(self, seconds: float) -> bytes:
        self._check()
        raise UnexpectedCommand("listen() is not scripted in FakeChannel")

    async def transfer_to_queue(self, queue: str, priority: int = 0, timeout: int = 0,
                                summary: str = "", call_id: str = "",
                                handoff: Handoff | None = None) -> QueueOutcome:
        self._check()
        self.log.append(("queue", f"{queue}:{priority}"))
        if handoff is not None:  # what the agent's handset would show
            self.handoffs.append(handoff)
        if queue in self.queues:
            return self.queues[queue]
        if self.other_queues is not None:
            return self.other_queues(queue)
        raise UnexpectedCommand(f"the flow queued the caller in {queue!r}, "
                                f"not scripted (have {sorted(self.queues)})")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_variable(self, name: str, *, after_hangup: bool = False) -> str | None:
        return self.variables.get(name)

    async def hangup(self) -> None:
        self.log.append(("hangup", ""))
        self.hung_up = True

"""An agent's SIP handset, simulated with pyVoIP: registers, rings, answers, listens.

It is a real SIP user agent on loopback: Asterisk sees a registered PJSIP
contact, sends an INVITE with the caller's context in ``X-IVR-*`` headers and
streams the patient's audio to it over RTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyVoIP.VoIP import CallState, InvalidStateError, PhoneStatus, VoIPCall, VoIPPhone

from ivr.sim.handset_audio import send_keys, tone_frame

log = logging.getLogger(__name__)

SILENCE_8BIT = 128  # pyVoIP hands out unsigned 8-bit linear audio


@dataclass
class AnsweredCall:
    """What the agent got: the context headers and how much real audio."""

    extension: str
    headers: dict[str, str]
    audio_bytes: int = 0
    voiced_ms: int = 0
    answered_at: float = field(default_factory=time.time)
    # (time.time(), frame) of every frame heard, when the handset keeps audio
    frames: list[tuple[float, bytes]] = field(default_factory=list, repr=False)
    # the caller-ID name the handset would show (the INVITE's From display name)
    display_name: str = ""

    def heard(self, since: float = 0.0, until: float = float("inf")) -> list[bytes]:
        """The frames heard between ``since`` and ``until`` (time.time())."""
        return [f for at, f in self.frames if since <= at < until]


def from_display(sender: object) -> str:
    """The INVITE's From display name as a handset shows it. pyVoIP's parsed From
    keeps a closing quote of a quoted name (``U1 chest pain 138**03" ``).

    >>> from_display({"caller": '"U1 chest pain 138**03" '}), from_display(None)
    ('U1 chest pain 138**03', '')
    """
    name = str(sender.get("caller") or "") if isinstance(sender, dict) else ""
    return name.strip().strip('"').strip()


class AgentHandset:
    def __init__(self, extension: str, password: str, server: str, server_port: int,
                 local_port: int, rtp_low: int, rtp_high: int, talk_seconds: float = 3.0,
                 on_answer: Callable[[AnsweredCall], None] | None = None) -> None:
        self.extension = extension
        self.talk_seconds = talk_seconds
        self.on_answer = on_answer
        self.answered: list[AnsweredCall] = []
        self.answering = True  # False: the phone rings and nobody picks up
        self.answer_delay = 0.0  # seconds the phone rings before the agent picks up
        self.rang = threading.Event()  # set at each incoming call (before any answer)
        self.tone_hz = 0.0  # > 0: the agent "speaks" a steady tone while on a call
        self.keep_audio = False  # keep every frame heard (AnsweredCall.frames)
        self.current: VoIPCall | None = None  # the call in progress, once answered
        self.in_call = threading.Event()  # set while a call is answered
        self._lock = threading.Lock()
        self.phone = VoIPPhone(server, server_port, extension, password, myIP=server,
                               callCallback=self._on_call, sipPort=local_port,
                               rtpPortLow=rtp_low, rtpPortHigh=rtp_high)

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.extension}"

    def start(self, timeout: float = 10.0) -> None:
        self.phone.start()
        deadline = time.monotonic() + timeout
        while self.phone.get_status() != PhoneStatus.REGISTERED:
            if time.monotonic() > deadline:
                raise RuntimeError(f"handset {self.extension} did not register "
                                   f"({self.phone.get_status()})")
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.phone.stop()
        except Exception:  # a handset going away must not break shutdown
            log.debug("handset %s stop failed", self.extension, exc_info=True)

    def unregister(self) -> None:
        """The handset goes away mid-shift (unplugged, out of battery): it stops
        answering and deregisters, so Asterisk sees the endpoint unavailable."""
        self.answering = False
        self.stop()

    def press(self, digits: str) -> None:
        """Press keys on the call in progress (RFC 4733, as a desk phone sends them)."""
        call = self.current
        if call is None:
            raise RuntimeError(f"handset {self.extension}: no call to press keys on")
        send_keys(call.RTPClients[0], digits)

    def leave(self) -> None:
        """Hang up the call in progress (the agent puts the phone down)."""
        call = self.current
        if call is not None and call.state == CallState.ANSWERED:
            try:
                call.hangup()
            except InvalidStateError:
                pass

    def _on_call(self, call: VoIPCall) -> None:
        self.rang.set()
        if not self.answering:
            return  # let it ring
        headers = {k: str(v) for k, v in call.request.headers.items()
                   if isinstance(k, str) and k.lower().startswith("x-ivr")}
        got = AnsweredCall(self.extension, headers,
                           display_name=from_display(call.request.headers.get("From")))
        end_ring = time.monotonic() + self.answer_delay
        while time.monotonic() < end_ring and call.state == CallState.RINGING:
            time.sleep(0.02)
        try:
            call.answer()
        except InvalidStateError:
            return  # the caller left while we were ringing
        got.answered_at = time.time()
        self.current = call
        self.in_call.set()
        if self.on_answer:
            self.on_answer(got)
        end = time.monotonic() + self.talk_seconds
        index = 0
        while time.monotonic() < end and call.state == CallState.ANSWERED:
            if self.tone_hz:
                call.write_audio(tone_frame(self.tone_hz, index))
                index += 1
            frame = call.read_audio(160, blocking=False)
            got.audio_bytes += len(frame)
            if frame and max(abs(b - SILENCE_8BIT) for b in frame) > 8:
                got.voiced_ms += 20
            if self.keep_audio and frame:
                got.frames.append((time.time(), frame))
            time.sleep(0.02)
        self.in_call.clear()
        self.current = None
        with self._lock:
            self.answered.append(got)
        if call.state == CallState.ANSWERED:
            try:
                call.hangup()
            except InvalidStateError:
                pass

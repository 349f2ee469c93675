"""What a simulated handset says and hears, beyond pyVoIP: a steady tone to send, RFC 4733
key presses (pyVoIP 1.6 receives them but cannot send them), and a tone detector, so a
test can tell whose audio reached whom (each party sends its own frequency).

pyVoIP's audio is unsigned 8-bit linear at 8 kHz (128 = silence), 160 bytes per 20 ms.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Iterable

import numpy as np

RATE = 8000
FRAME = 160  # bytes (samples) per 20 ms
EVENT_PAYLOAD = 101  # telephone-event, as pyVoIP offers it in its SDP
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def tone_frame(hz: float, index: int, amplitude: int = 60) -> bytes:
    """The ``index``-th 20 ms frame of a continuous sine at ``hz`` (unsigned 8-bit)."""
    n = np.arange(index * FRAME, (index + 1) * FRAME)
    wave = 128 + amplitude * np.sin(2 * math.pi * hz * n / RATE)
    return wave.astype(np.uint8).tobytes()


def tone_level(frames: Iterable[bytes], hz: float) -> float:
    """Share of the signal's energy at ``hz`` (0..1; Goertzel over the frames joined):
    a party's own tone in what another heard stands well above 0.05, its absence
    (speech of others, silence, comfort noise) stays far below."""
    data = b"".join(frames)
    if len(data) < FRAME:
        return 0.0
    x = np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0
    total = float(np.dot(x, x)) * len(x) / 2
    if total <= 0.0:
        return 0.0
    k = 2 * math.pi * hz / RATE
    n = np.arange(len(x))
    re, im = float(np.dot(x, np.cos(k * n))), float(np.dot(x, np.sin(k * n)))
    return (re * re + im * im) / total


def rfc4733_packets(digit: str, *, ssrc: int, sequence: int, timestamp: int,
                    duration_ms: int = 160) -> list[bytes]:
    """One key press as RTP telephone-event packets (RFC 4733): updates every 20 ms with
    the same timestamp (marker on the first), then the end packet three times."""
    event = DTMF_EVENTS[digit]
    packets = []
    steps = max(1, duration_ms // 20)
    for i in range(steps + 3):
        end = i >= steps
        duration = min(i + 1, steps) * FRAME
        header = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | EVENT_PAYLOAD,
                             (sequence + i) & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
        payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        packets.append(header + payload)
    return packets


def send_keys(rtp: object, digits: str, gap: float = 0.25) -> None:
    """Press ``digits`` on a pyVoIP call's RTP client (``call.RTPClients[0]``), on its own
    socket and SSRC so Asterisk takes them as this phone's keys."""
    for digit in digits:
        # in the audio's own sequence space (the sender thread goes on after them)
        seq = rtp.outSequence  # type: ignore[attr-defined]
        packets = rfc4733_packets(digit, ssrc=rtp.outSSRC,  # type: ignore[attr-defined]
                                  sequence=seq,
                                  timestamp=rtp.outTimestamp)  # type: ignore[attr-defined]
        rtp.outSequence = seq + len(packets)  # type: ignore[attr-defined]
        for i, packet in enumerate(packets):
            rtp.sout.sendto(packet, (rtp.outIP, rtp.outPort))  # type: ignore[attr-defined]
            if i < len(packets) - 3:
                time.sleep(0.02)
        time.sleep(gap)

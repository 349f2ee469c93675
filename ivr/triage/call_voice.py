"""The caller's voice over one call, for acoustic urgency on live calls.

The first seconds of what the caller says (often calm menu answers) are kept as
their own baseline; each free-speech answer is scored against it, and on its own
(fast, loud, breathless from the first word). Scoring runs only when asked
(before triage), so menu turns pay nothing. librosa and scipy are imported only
then: the light EAGI install inside the Asterisk root leaves them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ivr.triage.acoustic import AcousticUrgency

SR = 8000  # telephone audio, as ivr.triage.acoustic expects
BYTES_PER_SECOND = 2 * SR
BASELINE_SECONDS = 10  # of the caller's earliest answers
MIN_BASELINE_SECONDS = 1.0


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768


class CallVoice:
    def __init__(self) -> None:
        self._baseline = bytearray()
        self._latest = b""

    def add(self, pcm: bytes) -> None:
        """One answer's audio, 8 kHz 16-bit mono. The one before it joins the baseline
        while the baseline has room."""
        if self._latest:
            room = BASELINE_SECONDS * BYTES_PER_SECOND - len(self._baseline)
            self._baseline += self._latest[:max(room, 0)]
        self._latest = bytes(pcm)

    @property
    def baseline_seconds(self) -> float:
        return len(self._baseline) / BYTES_PER_SECOND

    def urgency(self) -> AcousticUrgency:
        """The latest answer, against the caller's earlier answers when there are enough
        of them, else against its own first seconds and fixed anchors. ImportError where
        the acoustic libraries are not installed."""
        from ivr.triage.acoustic import score

        baseline = (_samples(bytes(self._baseline))
                    if self.baseline_seconds >= MIN_BASELINE_SECONDS else None)
        return score(_samples(self._latest), baseline)

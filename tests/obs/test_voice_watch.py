"""The voice-cue rule on real recorded speech (Asterisk's Allison prompts, a real
voice): a calm caller stays calm; the same voice made louder, higher and faster with
sox (a stand-in for distress: not a recording of a distressed caller) rises over the
caller's own calm start, and a cue is recorded once per change, never per window."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from ivr.settings import VoiceCueSettings
from ivr.triage.acoustic import load_audio
from ivr.triage.voice_watch import CHANNEL, CueTracker

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
CALM = ("vm-intro", "dir-welcome", "queue-periodic-announce", "vm-options")
SR = 8000


def pcm(y: np.ndarray) -> bytes:
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """(calm, distressed) 8 kHz speech: the same speaker, distress made by sox."""
    if not SOUNDS.exists():
        pytest.fail("asterisk-core-sounds-en-wav is not installed (scripts/setup)")
    work = tmp_path_factory.mktemp("voices")
    calm, loud = work / "calm.wav", work / "distressed.wav"
    subprocess.run(["sox", *(str(SOUNDS / f"{n}.wav") for n in CALM), str(calm)], check=True)
    subprocess.run(["sox", "-q", str(calm), str(loud), "pitch", "450", "tempo", "1.3",
                    "gain", "-l", "8"], check=True)
    return load_audio(calm), load_audio(loud)


def windows(y: np.ndarray, seconds: float) -> list[bytes]:
    n = int(seconds * SR)
    return [pcm(y[i:i + n]) for i in range(0, len(y) - n + 1, n)]


def test_calm_caller_gives_no_cue(voices):
    calm, _ = voices
    tracker = CueTracker(VoiceCueSettings())
    chunks = windows(calm, 6.0)
    assert tracker.add_baseline(chunks[0])
    assert [tracker.window(c) for c in chunks[1:]] == [None] * (len(chunks) - 1)


def test_rising_voice_gives_one_cue_then_settles(voices):
    calm, loud = voices
    tracker = CueTracker(VoiceCueSettings())
    assert tracker.add_baseline(windows(calm, 6.0)[0])
    cues = [tracker.window(c) for c in windows(loud, 5.0)]
    got = [c for c in cues if c is not None]
    assert len(got) == 1 and got[0].rising, cues
    assert got[0].score >= 0.5 and got[0].score - got[0].baseline >= 0.25
    assert got[0].drivers  # what made it rise, for the agent's screen
    back = [tracker.window(c) for c in windows(calm[6 * SR:], 5.0)]
    settled = [c for c in back if c is not None]
    assert len(settled) == 1 and not settled[0].rising


def test_a_score_hovering_at_the_bar_does_not_flip_back_and_forth():
    class Score:
        def __init__(self, score, speech=5.0):
            self.score, self.features, self.drivers = score, {"speech_s": speech}, []

    scores = iter([0.05, 0.55, 0.47, 0.52, 0.46, 0.38])
    tracker = CueTracker(VoiceCueSettings(), scorer=lambda y, base: Score(next(scores)))
    assert tracker.add_baseline(b"\0" * 320)
    got = [tracker.window(b"\0" * 320) for _ in range(5)]
    assert [c and c.rising for c in got] == [True, None, None, None, False]


def test_silence_is_no_news_and_a_silent_start_waits_for_speech(voices):
    calm, _ = voices
    tracker = CueTracker(VoiceCueSettings(baseline_seconds=2.0))
    quiet = pcm(np.zeros(2 * SR, dtype=np.float32))
    assert not tracker.add_baseline(quiet)  # no speech yet: the baseline waits
    assert tracker.add_baseline(pcm(calm[:4 * SR]))
    assert tracker.window(quiet) is None


def test_channel_names_checked_before_reaching_chanspy():
    assert CHANNEL.match("Local/silent@sim-patient-0000002a;1")
    assert CHANNEL.match("PJSIP/hospital-trunk-00000012")
    for bad in ("PJSIP/1001,qwB", "PJSIP/1001 x", "", "${X}"):
        assert not CHANNEL.match(bad)

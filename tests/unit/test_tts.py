"""Real espeak-ng through pyttsx3 workers: 8 kHz audio, rate profiles, cache."""

import pytest

from ivr.speech.audio import read_wav, rms_dbfs
from ivr.speech.tts import PROFILES, Synthesizer, TtsError, check_duration

TEXT = "Welcome to City Hospital. For appointments, press 1."


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    s = Synthesizer(tmp_path_factory.mktemp("tts"))
    yield s
    s.close()


def test_renders_telephone_audio(synth):
    samples, rate = read_wav(synth.render(TEXT))
    assert rate == 8000
    assert 1.5 < len(samples) / rate < 10
    assert rms_dbfs(samples) > -40


def test_elderly_profile_is_slower(synth):
    normal, _ = read_wav(synth.render(TEXT, profile="normal"))
    elderly, _ = read_wav(synth.render(TEXT, profile="elderly"))
    assert len(elderly) > 1.2 * len(normal)


def test_second_render_comes_from_cache(synth):
    first = synth.render("Your results are ready.")
    mtime = first.stat().st_mtime_ns
    assert synth.render("Your results are ready.") == first
    assert first.stat().st_mtime_ns == mtime


def test_mandarin_voice(synth):
    samples, rate = read_wav(synth.render("欢迎致电市医院。", lang="zh"))
    assert len(samples) / rate > 1.0


def test_too_short_audio_is_rejected():
    with pytest.raises(TtsError):
        check_duration("one two three four five six seven eight nine ten", 0.5,
                       PROFILES["normal"])


def test_a_shared_cache_is_filled_and_then_copied_from(tmp_path):
    """A second instance takes the first one's rendering, byte for byte, unsynthesized."""
    shared = tmp_path / "shared"
    first = Synthesizer(tmp_path / "one", shared=shared)
    try:
        made = first.render("Shared prompt test.")
    finally:
        first.close()
    assert (shared / made.name).read_bytes() == made.read_bytes()
    second = Synthesizer(tmp_path / "two", shared=shared)
    second._pool.shutdown()  # any synthesis now would raise: the copy is the only way
    copied = second.render("Shared prompt test.")
    assert copied.parent == tmp_path / "two"
    assert copied.read_bytes() == made.read_bytes()
    assert not list((tmp_path / "two").glob(".*.part"))

"""Speech detection and turn-taking on real synthesized speech (espeak-ng), with
silence and line noise around it."""

import asyncio
import subprocess

import numpy as np
import pytest

from ivr.speech.audio import read_wav, to_telephone
from ivr.speech.turn import complete_answer, take_turn
from ivr.speech.vad import Vad, VadEvent, speech_mask

RATE = 8000
FRAME = 320


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """About 2 s of real synthesized English speech at 8 kHz, int16."""
    out = tmp_path_factory.mktemp("vad") / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(out),
                    "I have had a pain in my chest since this morning"], check=True)
    samples, rate = read_wav(out)
    return to_telephone(samples, rate)


def silence(seconds, noise_dbfs=None, seed=0):
    n = int(seconds * RATE)
    if noise_dbfs is None:
        return np.zeros(n, dtype="<i2")
    rng = np.random.default_rng(seed)
    amp = 32768 * 10 ** (noise_dbfs / 20)
    return (rng.standard_normal(n) * amp).astype("<i2")


def frames(samples):
    raw = samples.astype("<i2").tobytes()
    return [raw[i:i + FRAME] for i in range(0, len(raw) - FRAME + 1, FRAME)]


def test_vad_finds_start_and_end_of_speech_over_line_noise(speech):
    noise_db = -45
    signal = np.concatenate([silence(1.0, noise_db), speech, silence(1.5, noise_db, 1)])
    signal = signal + silence(len(signal) / RATE, noise_db, 2)[: len(signal)]
    vad, events = Vad(), []
    for i, f in enumerate(frames(signal)):
        ev = vad.feed(f)
        if ev:
            events.append((ev, i * 0.02))
    assert [e for e, _ in events] == [VadEvent.SPEECH_START, VadEvent.SPEECH_END]
    start, end = events[0][1], events[1][1]
    assert 1.0 <= start <= 1.0 + 0.3
    speech_end = 1.0 + len(speech) / RATE
    assert speech_end <= end <= speech_end + 1.0


def test_offline_mask_matches_known_boundaries(speech):
    signal = np.concatenate([silence(1.0, -50), speech, silence(1.0, -50, 1), speech,
                             silence(1.0, -50, 2)])
    n_speech = len(speech) // (FRAME // 2)  # frames are 320 bytes = 160 samples
    truth = [False] * 50 + [True] * n_speech + [False] * 50 + [True] * n_speech + [False] * 50
    mask = speech_mask(signal.tobytes())
    n = min(len(mask), len(truth))
    tp = sum(m and t for m, t in zip(mask[:n], truth[:n], strict=True))
    fp = sum(m and not t for m, t in zip(mask[:n], truth[:n], strict=True))
    fn = sum(t and not m for m, t in zip(mask[:n], truth[:n], strict=True))
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 > 0.85, f1  # word gaps inside a sentence count as speech in the truth


class FakeStream:
    """An AudioSocket stream stand-in fed with recorded frames."""

    def __init__(self):
        self.audio_in = asyncio.Queue()
        self.dtmf_in = asyncio.Queue()
        self.closed = asyncio.Event()
        self.played = []
        self.stopped = 0
        self._done = asyncio.Event()

    def play(self, pcm):
        """Like the real stream: done once the audio has had time to play."""
        self.played.append(pcm)
        self._done = asyncio.Event()
        asyncio.get_running_loop().call_later(len(pcm) / 16000, self._done.set)
        return self._done

    def stop_playback(self):
        self.stopped += 1
        self._done.set()

    async def feed(self, samples, realtime=True):
        for f in frames(samples):
            self.audio_in.put_nowait(f)
            if realtime:
                await asyncio.sleep(0.02)


class Collecting:
    def __init__(self):
        self.bytes = 0

    def accept(self, pcm):
        self.bytes += len(pcm)
        return "partial" if self.bytes > 8000 else None

    def result(self):
        return type("T", (), {"text": f"{self.bytes} bytes", "confidence": 0.8})()


async def test_silent_caller_times_out():
    stream = FakeStream()
    feeder = asyncio.create_task(stream.feed(silence(2.0, -55)))
    result = await take_turn(stream, timeout=0.5)
    feeder.cancel()
    assert result.timed_out and not result.text and result.speech_ms == 0


async def test_caller_speech_barges_in_on_the_prompt(speech):
    stream = FakeStream()
    sessions = []

    def factory():
        sessions.append(Collecting())
        return sessions[-1]

    feeder = asyncio.create_task(stream.feed(np.concatenate([silence(0.3, -55), speech,
                                                             silence(1.5, -55)])))
    result = await take_turn(stream, prompt_pcm=b"\x01\x00" * 80000, session_factory=factory,
                             timeout=3)
    feeder.cancel()
    assert result.barged_in and stream.stopped >= 1
    assert result.barge_in_latency_ms is not None and result.barge_in_latency_ms < 200
    assert result.text.endswith("bytes") and result.confidence == 0.8
    # everything the caller said reached the recogniser, from the first syllable
    assert sessions[0].bytes >= len(speech) * 2 * 0.9
    assert result.partials and abs(result.speech_ms - len(speech) / RATE * 1000) < 900


async def test_key_during_prompt_is_the_answer():
    stream = FakeStream()
    stream.dtmf_in.put_nowait("2")
    result = await take_turn(stream, prompt_pcm=b"\x01\x00" * 8000, timeout=3)
    assert result.dtmf == "2" and result.barged_in and stream.stopped == 1


async def test_no_barge_in_prompt_ignores_speech_over_it(speech):
    stream = FakeStream()
    # the caller talks during the 4.5 s prompt (not after it), then is silent
    feeder = asyncio.create_task(stream.feed(np.concatenate([speech, silence(3.5, -55)])))
    result = await take_turn(stream, prompt_pcm=b"\x01\x00" * 36000, barge_in=False,
                             timeout=0.5)
    feeder.cancel()
    assert not result.barged_in and result.timed_out


async def test_long_speech_is_cut_at_the_maximum(speech):
    stream = FakeStream()
    feeder = asyncio.create_task(stream.feed(np.concatenate([silence(0.2, -55)]
                                                            + [speech] * 4)))
    result = await take_turn(stream, timeout=2, max_seconds=1.5)
    feeder.cancel()
    assert result.truncated and 1000 <= result.speech_ms <= 2200


def test_speech_from_the_very_first_frame_is_detected(speech):
    """Channels that send no frames until the caller talks: the first frame is speech."""
    vad, events = Vad(), []
    for f in frames(np.concatenate([speech, silence(1.0)])):
        ev = vad.feed(f)
        if ev:
            events.append(ev)
    assert events == [VadEvent.SPEECH_START, VadEvent.SPEECH_END]


async def test_end_of_speech_keeps_real_time_when_frames_stop(speech):
    """A channel that goes quiet by sending nothing: the 700 ms pause must still be
    about 700 ms, not stretched by the missing frames."""
    stream = FakeStream()
    await stream.feed(speech, realtime=False)  # all speech at once, then no frames at all
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = await take_turn(stream, timeout=2)
    waited = loop.time() - t0
    assert result.end_of_speech_at is not None and not result.truncated
    assert waited < 1.2, waited  # 700 ms pause (+ one 100 ms poll), not ~1.6 s


class Saying:
    """A recogniser stand-in whose words so far are ``words`` once it has heard audio;
    like the real session, it reports them only when they change."""

    def __init__(self, words):
        self.words = words
        self.said = False

    def accept(self, pcm):
        if self.said:
            return None
        self.said = True
        return self.words

    def result(self):
        return type("T", (), {"text": self.words, "confidence": 0.9})()


async def test_a_whole_answer_ends_the_turn_after_the_short_pause(speech):
    """Words that make a whole menu phrase end the turn after 300 ms of silence; other
    words wait the full 700 ms (the caller may not have finished)."""
    consumed = {}
    for words in ("pharmacy", "pharmacy please"):
        stream = FakeStream()
        audio = np.concatenate([speech, silence(2.0, -55)])
        await stream.feed(audio, realtime=False)
        result = await take_turn(stream, timeout=2, session_factory=lambda w=words: Saying(w),
                                 is_complete=complete_answer(["Pharmacy", "appointments"]))
        assert result.end_of_speech_at is not None and result.text == words
        consumed[words] = (len(frames(audio)) - stream.audio_in.qsize()) * 20
    # the same audio: the whole answer stopped listening 400 ms sooner
    assert consumed["pharmacy please"] - consumed["pharmacy"] == 400, consumed


def test_a_whole_answer_is_compared_as_menus_compare_phrases():
    complete = complete_answer(["Follow-up visit", "药房"])
    assert complete("follow up visit") and complete("药 房")
    assert not complete("follow up") and not complete("follow up visit please")


class Peeking(Saying):
    """A whole-answer recogniser (like Whisper): no partials, a decode on ``peek``."""

    def __init__(self, words):
        super().__init__(words)
        self.decodes = 0

    def accept(self, pcm):
        return None

    def peek(self):
        self.decodes += 1
        return self.result()


async def test_a_whole_answer_recogniser_decodes_early_and_once(speech):
    """Whisper gives no partials: at the first 200 ms pause the answer so far is decoded;
    a whole menu phrase then ends the turn after the short pause, and that decode is the
    result (not a second one after the turn)."""
    consumed = {}
    for words in ("pharmacy", "pharmacy please"):
        stream = FakeStream()
        audio = np.concatenate([speech, silence(2.0, -55)])
        await stream.feed(audio, realtime=False)
        session = Peeking(words)
        result = await take_turn(stream, timeout=2, session_factory=lambda s=session: s,
                                 is_complete=complete_answer(["Pharmacy", "appointments"]))
        assert result.text == words and session.decodes == 1
        consumed[words] = (len(frames(audio)) - stream.audio_in.qsize()) * 20
    assert consumed["pharmacy please"] - consumed["pharmacy"] >= 300, consumed

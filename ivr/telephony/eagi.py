"""Classic AGI/EAGI entry point: the same flows for sites that run scripts, not FastAGI.

Dialplan (``hospital-inbound-eagi`` in ``asterisk_conf/extensions.conf``)::

    exten => s,n,EAGI(ivr-eagi,main,--config=FILE,--sounds=DIR)  ; caller audio on fd 3
    exten => s,n,AGI(ivr-eagi,main,--config=FILE,--sounds=DIR)   ; keypad answers only

A chrooted Asterisk runs it inside its root: ``ivr pbx install --eagi`` installs it
there, ``ivr pbx up`` writes FILE (see :mod:`ivr.pbx.eagi`).

Asterisk starts this script per call with the ``agi_*`` headers and the
replies on stdin, and reads commands from stdout. So nothing else may ever
write to stdout in this process: pyttsx3 prints, so it is never imported here
(prompts come from the engine's cache; a missing one is rendered in a worker
process whose stdout is /dev/null, see :mod:`ivr.speech.tts`). pyst2's
:class:`asterisk.agi.AGI` reads the headers and writes commands; replies are
read by :class:`~ivr.telephony.agi_protocol.ReplyReader` (the FastAGI path's
reader too) because pyst2 chokes on the asynchronous ``HANGUP`` line and on
``100 Trying``, waits for a second line after a one-line 520, and treats every
``result=-1`` as an error.

Caller audio: EAGI delivers it on fd 3 only while Asterisk waits for the next
command (see :mod:`ivr.telephony.eagi_audio`), so a spoken answer is taken
after the prompt: keys interrupt the prompt (STREAM FILE escape digits), speech
cannot. A hangup arrives as SIGHUP (or ``511`` replies with ``AGISIGHUP=no``)
and surfaces as :class:`~ivr.telephony.errors.CallerHangup`.

A process per call pays its start on the caller's time, so the start is kept short:
the validated flow set comes from the state folder's flow cache
(:mod:`ivr.flows.flow_cache`, written by the first call after a change), and the
triage rules (about a second of pattern compiling) and the recogniser are loaded at
their first use: a call answered by keys never loads them (``benchmarks/load.py``
measures the time to the first command).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import signal
import sys
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from asterisk.agi import AGI

from ivr.speech.turn import TurnResult, answer_of, complete_answer, take_turn
from ivr.telephony.agi_protocol import AgiReply, ReplyReader, check_reply
from ivr.telephony.audiosocket import collect_audio
from ivr.telephony.channel import ALL_KEYS, AgiCallControl, Heard, PromptLibrary
from ivr.telephony.eagi_audio import EAGI_AUDIO_FD, Fd3Stream, drain
from ivr.telephony.errors import AgiCommandError, CallerHangup

log = logging.getLogger(__name__)


class _LogSink(io.TextIOBase):
    """pyst2 narrates every line to stderr; send that to our debug log instead."""

    def write(self, s: str) -> int:
        if s.strip():
            log.debug("pyst2: %s", s.rstrip())
        return len(s)


class EagiSession(AGI):  # type: ignore[misc]
    """One AGI/EAGI call over pipes: pyst2 for the headers and the writing side,
    :class:`ReplyReader` for the replies. Blocking: the channel runs it in a thread."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: Any = None,
                 audio_fd: int | None = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout, stderr=stderr or _LogSink())
        self.hung_up = False
        enhanced = self.env.get("agi_enhanced", "0.0").startswith("1")
        self.audio_fd = audio_fd if audio_fd is not None else (
            EAGI_AUDIO_FD if enhanced else None)

    @property
    def uniqueid(self) -> str:
        return str(self.env.get("agi_uniqueid", ""))

    @property
    def caller_number(self) -> str:
        return str(self.env.get("agi_callerid", ""))

    @property
    def channel(self) -> str:
        return str(self.env.get("agi_channel", ""))

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``... : the script's arguments in the dialplan."""
        out = []
        while (arg := self.env.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(str(arg))
        return out

    @property
    def gone(self) -> bool:
        return self.hung_up or bool(self._got_sighup)

    def run(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        """Send one command, return its reply; CallerHangup once the caller is gone
        (unless ``on_dead_channel``: clean-up commands after a hangup)."""
        if self.gone and not on_dead_channel:
            raise CallerHangup(f"caller hung up ({self.channel})")
        try:
            self.send_command(line)
        except (BrokenPipeError, ValueError) as exc:  # ValueError: stdout already closed
            self.hung_up = True
            raise CallerHangup(f"AGI pipe closed sending {line!r}") from exc
        reply = self._read_reply(line)
        try:
            return check_reply(line, reply, gone=self.gone, on_dead_channel=on_dead_channel,
                               channel=self.channel)
        except CallerHangup:
            self.hung_up = True  # gone by SIGHUP: no further command reaches Asterisk
            raise

    def _read_line(self) -> str:
        raw = self.stdin.readline()
        if not raw:
            self.hung_up = True
            raise CallerHangup("AGI pipe closed by Asterisk")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        return str(raw).rstrip("\r\n")

    def _read_reply(self, sent: str) -> AgiReply:
        reader = ReplyReader(sent)
        try:
            while (reply := reader.feed(self._read_line())) is None:
                pass
        finally:  # a HANGUP line counts even when the reply never comes
            self.hung_up = self.hung_up or reader.caller_gone
        return reply


class EagiChannel(AgiCallControl):
    """:class:`~ivr.telephony.channel.Channel` over an :class:`EagiSession`.

    Commands run one at a time in a single worker thread (the pipes are blocking),
    so flows stay async. ``hear`` takes speech from fd 3 when the script runs under
    EAGI and a recogniser has the language; otherwise it reads a key, like
    :class:`~ivr.telephony.channel.AgiChannel`.
    """

    def __init__(self, session: EagiSession, prompts: PromptLibrary,
                 recognizer: Any = None, executor: Executor | None = None) -> None:
        self.session = session
        self.prompts = prompts
        self.recognizer = recognizer  # ivr.speech.asr.SpeechRecognizer, when available
        self.executor = executor  # for decoding
        self.uniqueid = session.uniqueid
        self.caller_number = session.caller_number
        self.turns: list[TurnResult] = []
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eagi")
        self._stream: Fd3Stream | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ------------------------------------------------------------
    def watch_hangup(self) -> None:
        """Route SIGHUP through the event loop, so a hangup also ends a listening turn
        at once (pyst2's own handler only sets a flag for the next command)."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_signal_handler(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self) -> None:
        self.session._got_sighup = True
        if self._stream is not None:
            self._stream.closed.set()

    def close(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_signal_handler(signal.SIGHUP)
            signal.signal(signal.SIGHUP, self.session._handle_sighup)  # never SIG_DFL
            self._loop = None
        self._io.shutdown(wait=False, cancel_futures=True)

    async def command(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._io, lambda: self.session.run(line, on_dead_channel=on_dead_channel))

    def _mark_gone(self) -> None:
        self.session.hung_up = True

    # --- Channel --------------------------------------------------------------
    async def listen(self, seconds: float) -> bytes:
        """The caller's audio for ``seconds`` (8 kHz slin) from fd 3 (EAGI only)."""
        if self.session.audio_fd is None:
            raise AgiCommandError("listen", 0, "caller audio needs EAGI(), not AGI()")
        stream = self._open_stream()
        try:
            audio = await collect_audio(stream, seconds)
        finally:
            self._close_stream()
        self._raise_if_flagged()
        return audio

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        """Ask, then take the answer: a key pressed during the prompt, or speech on fd 3
        after it. Without EAGI audio or a recogniser for ``lang``: a key (GET DATA)."""
        recognizer = self.recognizer
        if (self.session.audio_fd is None or recognizer is None
                or lang not in recognizer.languages()):
            return Heard(dtmf=await self.collect_digits(prompt, 1, timeout, lang, profile))
        sound = await self.prompts.sound_for(prompt, lang, profile)
        drain(self.session.audio_fd)  # what was said before the question is not the answer
        key = await self.play(sound, ALL_KEYS)
        if key:
            return Heard(dtmf=key, barged_in=True)

        def new_session() -> Any:
            return recognizer.session(lang, 8000, phrases)

        stream = self._open_stream()
        try:
            turn = await take_turn(stream, session_factory=new_session, executor=self.executor,
                                   timeout=timeout, max_seconds=max_seconds,
                                   is_complete=complete_answer(phrases))
        finally:
            self._close_stream()
        self._raise_if_flagged()
        self.turns.append(turn)
        text, confidence = (answer_of(turn.transcript, phrases) if turn.transcript is not None
                            else (turn.text, turn.confidence))
        return Heard(text=text, confidence=confidence, audio=turn.audio,
                     speech_ms=turn.speech_ms)

    def _open_stream(self) -> Fd3Stream:
        assert self.session.audio_fd is not None
        stream = Fd3Stream(self.session.audio_fd)
        stream.start()
        if self.session.gone:
            stream.closed.set()
        self._stream = stream
        return stream

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _raise_if_flagged(self) -> None:
        if self.session.gone:
            raise CallerHangup(f"caller hung up while listening ({self.session.channel})")
# --- the script ------------------------------------------------------------------
async def run_call(session: EagiSession, flow_name: str, *, sounds_dir: str | None = None,
                   use_asr: bool = True) -> str:
    """Run one call through the flows: same runner, records and prompt cache as the
    engine. Returns the outcome. Any failure outside the runner leaves IVR_DONE unset,
    so the dialplan's fallback (operator, then emergency) takes the caller."""
    from ivr.calls import run_call as run_flow_call
    from ivr.flows.reloader import FlowStore
    from ivr.flows.runner import FlowRunner
    from ivr.pbx import PbxInstance
    from ivr.settings import load_settings
    from ivr.speech.tts import Synthesizer
    from ivr.store.recorder import CallRecorder

    settings = load_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)  # the default SQLite file lives here
    if sounds_dir is None:
        # This process runs where Asterisk runs (inside its root when chrooted), so the
        # path Asterisk plays from is also the path to read and write here.
        sounds_dir = PbxInstance(settings).sounds_dir[1]
    # the validated set from the last call, unless a file changed (ivr.flows.flow_cache)
    store = FlowStore(Path(settings.engine.dialplans), Path(settings.engine.prompts),
                      cache_dir=settings.state_dir / "flow-cache")
    await asyncio.to_thread(store.load)
    flow_set = store.current
    assert flow_set is not None
    flow = flow_set.flows.get(flow_name, flow_set.flows["main"])
    synth = Synthesizer(Path(sounds_dir), workers=1)
    prompts = PromptLibrary(synth, sounds_dir)
    prompts.use_recordings(store.recordings())
    # loaded when the flow first listens for words, not before the first command
    recognizer = (LazyRecognizer(settings) if use_asr and session.audio_fd is not None
                  else None)
    asr_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr")
    recorder = CallRecorder(settings.database_url, settings=settings)
    runner = FlowRunner(recorder, LazyTriager())
    channel = EagiChannel(session, prompts, recognizer, asr_pool)
    channel.watch_hangup()
    try:
        outcome = await run_flow_call(
            recorder, runner, flow_set, flow, channel, uniqueid=session.uniqueid,
            channel_name=session.channel, caller_number=session.caller_number,
            override_file=settings.state_dir / "emergency_override")
    finally:
        channel.close()
        asr_pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(synth.close)
        recorder.close()
    return outcome


class LazyRecognizer:
    """``ivr.speech.load.load_recognizer`` on first use: a keypad call never imports the
    speech models' libraries (about 0.3 s of a process's start)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._loaded = False
        self._recognizer: Any = None

    def _get(self) -> Any:
        if not self._loaded:
            from ivr.speech.load import load_recognizer

            self._recognizer = load_recognizer(self.settings)
            self._loaded = True
        return self._recognizer

    def languages(self) -> list[str]:
        recognizer = self._get()
        return list(recognizer.languages()) if recognizer is not None else []

    def session(self, lang: str, rate: int, phrases: list[str] | None = None) -> Any:
        return self._get().session(lang, rate, phrases)


class LazyTriager:
    """The triage rules, read and compiled at the first decision: about a second of
    CPU (thousands of patterns) that a call answered by keys never needs."""

    def __init__(self) -> None:
        self._triager: Any = None

    def decide(self, text: str, lang: str, context: dict[str, object] | None = None) -> Any:
        if self._triager is None:
            from ivr.triage.engine import RuleTriager

            self._triager = RuleTriager()
        return self._triager.decide(text, lang, context)


def use_settings_file(path: str) -> None:
    """Read settings from ``path`` (TOML, like ``ivr.toml``) in this process and its
    workers: what ``IVR_CONFIG`` does, for the ``load_settings()`` at the start of a
    call (whose settings reach the records, keyring and journal). The environment
    still overrides the file."""
    os.environ["IVR_CONFIG"] = path
    settings_module = sys.modules.get("ivr.settings")
    if settings_module is not None:  # imported already: it read IVR_CONFIG at import
        settings_module.Settings.model_config["toml_file"] = path


def main(argv: list[str] | None = None) -> int:
    """``ivr-eagi [FLOW] [--config FILE] [--sounds DIR] [--no-asr]``, started by Asterisk
    per call. A usage error exits 2 before any AGI command: the dialplan's fallback."""
    parser = argparse.ArgumentParser(prog="ivr-eagi", description=__doc__.split("\n")[0])
    parser.add_argument("flow", nargs="?", default="main", help="flow name (default: main)")
    parser.add_argument("--config", help="settings file (TOML, like ivr.toml); the one "
                        "`ivr pbx up` writes is <instance>/etc/ivr-eagi.toml")
    parser.add_argument("--sounds", default=os.environ.get("IVR_EAGI_SOUNDS"),
                        help="prompt cache folder, as Asterisk sees it")
    parser.add_argument("--no-asr", action="store_true", help="keypad answers only")
    args = parser.parse_args(argv)
    if args.config is not None:
        if not os.path.isfile(args.config):
            parser.error(f"--config {args.config}: no such file")
        use_settings_file(args.config)
    # stdout is the AGI command channel: logs go to stderr (Asterisk's log), and
    # anything that still tries to print goes nowhere.
    logging.basicConfig(level=os.environ.get("IVR_EAGI_LOG", "INFO"), stream=sys.stderr,
                        format="ivr-eagi %(levelname)s %(name)s: %(message)s")
    agi_out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # kept open for the whole process lifetime
    agi_in = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    session = EagiSession(agi_in, agi_out)
    try:
        outcome = asyncio.run(run_call(session, args.flow, sounds_dir=args.sounds,
                                       use_asr=not args.no_asr))
    except Exception:
        log.exception("call %s failed outside the flow: the dialplan fallback takes it",
                      session.uniqueid)
        return 1
    log.info("call %s finished: %s", session.uniqueid, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The call as flows see it: a small interface, and its implementation over AGI.

Flows never send AGI text; they call :class:`Channel` methods. The real
implementation, :class:`AgiChannel`, speaks FastAGI for call control and opens
an AudioSocket stream when it needs the caller's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ivr.speech.audio import read_wav
from ivr.speech.tts import Synthesizer
from ivr.speech.turn import TurnResult, answer_of, complete_answer, take_turn
from ivr.telephony import variables as v
from ivr.telephony.agi_protocol import AgiReply, command
from ivr.telephony.audiosocket import AudioSocketServer, AudioStream, collect_audio, wait_stream
from ivr.telephony.errors import AgiCommandError, CallerHangup
from ivr.telephony.fastagi import AgiSession
from ivr.telephony.handoff import Handoff
from ivr.telephony.skills import QueuePlan, Routing, plan_queue, queue_plan

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
# Said when the recogniser has no free decode slot: then the same question takes a key.
BUSY_LINES = {
    "en-US": "One moment, please. For this answer, please use your keypad.",
    "zh-CN": "请稍等。这一步请用电话按键回答。",
    "ko-KR": "잠시만 기다려 주세요. 이번에는 전화기 버튼으로 답해 주세요.",
}


@dataclass(frozen=True)
class QueueOutcome:
    """How a queue attempt ended: ``answered`` by ``agent``, or a QUEUESTATUS."""

    status: str  # ANSWERED | TIMEOUT | JOINEMPTY | LEAVEEMPTY | FULL | ...
    agent: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == "ANSWERED"


@dataclass(frozen=True)
class Heard:
    """What the caller answered while we listened: words (with confidence) or a key."""

    text: str = ""
    confidence: float = 0.0
    dtmf: str = ""
    barged_in: bool = False  # the caller cut the prompt short
    audio: bytes = b""  # the utterance (8 kHz 16-bit PCM) when words were heard
    speech_ms: int = 0


class Channel(Protocol):
    """What a call flow (and the call around it, :mod:`ivr.calls`) may do with a call.

    Implemented by :class:`AgiChannel` (FastAGI), :class:`~ivr.telephony.eagi.EagiChannel`
    (classic AGI/EAGI) and :class:`~ivr.telephony.fake.FakeChannel` (tests, simulator).
    Once the caller is gone the methods raise
    :class:`~ivr.telephony.errors.CallerHangup`, except ``hangup`` and
    ``get_variable(..., after_hangup=True)``, which clean up after the call.
    Transport lifecycle (EAGI's ``watch_hangup``/``close``) stays with the transport.
    """

    uniqueid: str  # Asterisk's id of the call's channel
    caller_number: str  # as Asterisk gives it; the records hash and mask it

    async def answer(self) -> None:
        """Pick up the call."""

    async def say(self, text: str, lang: str = "en", profile: str = "normal",
                  interrupt: str = "") -> str | None:
        """Speak ``text`` (recorded prompt or TTS); the key in ``interrupt`` that cut it
        short, if any."""

    async def play(self, sound: str, interrupt: str = "") -> str | None:
        """Play a sound file Asterisk can find; the interrupting key, if any."""

    async def collect_digits(self, prompt: str, max_digits: int = 1, timeout: float = 5.0,
                             lang: str = "en", profile: str = "normal") -> str:
        """Speak ``prompt`` and read up to ``max_digits`` keys ("" on timeout)."""

    async def listen(self, seconds: float) -> bytes:
        """The caller's audio for ``seconds`` (8 kHz 16-bit PCM)."""

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        """Ask and take the answer: words where a recogniser has ``lang``, else a key."""

    async def dial(self, extension: str, summary: str = "", call_id: str = "") -> QueueOutcome:
        """Ring one extension; ``summary`` reaches the callee's screen."""

    async def transfer_to_queue(self, queue: str, priority: int = 0, timeout: int = 0,
                                summary: str = "", call_id: str = "",
                                handoff: Handoff | None = None) -> QueueOutcome:
        """Wait in ``queue`` until an agent's conversation ends or the queue gives up;
        ``handoff``: the agent's caller-ID name, whisper and the call's preferences."""

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (names in :mod:`ivr.telephony.variables`)."""

    async def get_variable(self, name: str, *, after_hangup: bool = False) -> str | None:
        """A channel variable, None if unset. ``after_hangup``: read it on a channel
        the caller already left (who answered, for the record) instead of raising."""

    async def hangup(self) -> None:
        """End the call as finished by the engine (``IVR_DONE``); quiet if already gone."""


class PromptLibrary:
    """Turns prompt text into audio Asterisk can play: a recorded human prompt where
    one exists (``prompts/<lang>/<id>.wav``), otherwise TTS, synthesized once and
    cached by content.

    Which file (and, for AudioSocket, which samples) a prompt is, is remembered here,
    so a call's prompt costs no thread hop and no ``stat``; a new set of recordings
    (a flow reload: ``use_recordings`` with another dict) forgets it all. At most
    ``MAX_CACHED`` of each (run-time texts, e.g. history read-backs, vary)."""

    MAX_CACHED = 512

    def __init__(self, synthesizer: Synthesizer, seen_dir: str) -> None:
        self.synth = synthesizer
        self.seen_dir = seen_dir.rstrip("/")
        self.recorded: dict[tuple[str, str], Path] = {}  # (lang, text) -> recording
        self._source: dict[tuple[str, str], Path] | None = None
        self._files: dict[tuple[str, str, str], Path] = {}
        self._pcm: dict[tuple[str, str, str], bytes] = {}

    def use_recordings(self, recorded: dict[tuple[str, str], Path]) -> None:
        """The recordings of the flow set in use; the same dict again costs nothing."""
        if recorded is self._source:
            return
        self._source = recorded
        self.recorded = dict(recorded)
        self.forget()

    def forget(self) -> None:
        """Drop what was remembered (the prompts or their recordings changed)."""
        self._files.clear()
        self._pcm.clear()

    async def file_for(self, text: str, lang: str, profile: str) -> Path:
        key = (text, lang, profile)
        path = self._files.get(key)
        if path is not None:
            return path
        recording = self.recorded.get((lang, text))
        if recording is not None:
            path = await asyncio.to_thread(self.synth.import_recording, recording)
        else:
            path = await asyncio.to_thread(self.synth.render, text, lang, profile)
        _remember(self._files, key, path, self.MAX_CACHED)
        return path

    async def sound_for(self, text: str, lang: str, profile: str) -> str:
        path = await self.file_for(text, lang, profile)
        return f"{self.seen_dir}/{path.stem}"  # Asterisk picks the format by extension

    async def pcm_for(self, text: str, lang: str, profile: str) -> bytes:
        """The prompt as 8 kHz 16-bit PCM, for playing over AudioSocket."""
        key = (text, lang, profile)
        pcm = self._pcm.get(key)
        if pcm is None:
            path = await self.file_for(text, lang, profile)
            samples, _rate = await asyncio.to_thread(read_wav, path)
            pcm = samples.astype("<i2").tobytes()
            _remember(self._pcm, key, pcm, self.MAX_CACHED)
        return pcm


def _remember(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(cache) >= limit:
        del cache[next(iter(cache))]  # the oldest
    cache[key] = value


class AgiCallControl:
    """Call control shared by the FastAGI and the EAGI channels: both speak the same
    AGI commands; only how a command line reaches Asterisk differs (``command``)."""

    prompts: PromptLibrary
    # skills routing and the whisper setting (the engine's, from agents.yaml); None:
    # every member alike, no whisper
    routing: Routing | None = None

    async def command(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        raise NotImplementedError

    def _mark_gone(self) -> None:
        raise NotImplementedError

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def play(self, sound: str, interrupt: str = "") -> str | None:
        reply = await self.command(command("STREAM FILE", sound, interrupt))
        if reply.value == -1:
            await self._raise_if_gone()
            raise AgiCommandError("STREAM FILE", 200, f"could not play {sound}")
        return reply.digit

    async def say(self, text: str, lang: str = "en", profile: str = "normal",
                  interrupt: str = "") -> str | None:
        return await self.play(await self.prompts.sound_for(text, lang, profile), interrupt)

    async def collect_digits(self, prompt: str, max_digits: int = 1, timeout: float = 5.0,
                             lang: str = "en", profile: str = "normal") -> str:
        sound = await self.prompts.sound_for(prompt, lang, profile)
        reply = await self.command(
            command("GET DATA", sound, int(timeout * 1000), max_digits))
        if reply.value == -1:
            await self._raise_if_gone()
        return reply.result if reply.result and set(reply.result) <= set(ALL_KEYS) else ""

    async def dial(self, extension: str, summary: str = "", call_id: str = "") -> QueueOutcome:
        """Ring one extension (a ward, a named nurse) for up to 30 s."""
        await self.set_variable(v.IVR_CALL_ID, call_id)
        await self.set_variable(v.IVR_SUMMARY, summary[:200])
        await self.command(
            command("EXEC", "Dial", f"PJSIP/{extension},30,b({v.AGENT_PREDIAL})"))
        status = await self.get_variable(v.DIALSTATUS) or "UNKNOWN"
        return QueueOutcome("ANSWERED" if status == "ANSWER" else status,
                            f"PJSIP/{extension}" if status == "ANSWER" else None)

    async def transfer_to_queue(self, queue: str, priority: int = 0, timeout: int = 0,
                                summary: str = "", call_id: str = "",
                                handoff: Handoff | None = None) -> QueueOutcome:
        """Wait in ``queue`` (``priority``: higher is served first) until an agent takes
        the call and the conversation ends, or the queue gives up.

        With a ``handoff``: the agent's handset shows its caller-ID name (the pre-dial
        handler reads IVR_AGENT_DISPLAY), the free agents who fit the call best ring
        first (skills.plan_queue), and with agents.whisper the agent hears it before
        the bridge (Queue()'s announceoverride). Anything failing here queues the
        call as before: a person still takes it."""
        await self.set_variable(v.QUEUE_PRIO, str(priority))
        await self.set_variable(v.IVR_CALL_ID, call_id)
        await self.set_variable(v.IVR_SUMMARY, summary[:200])
        await self.set_variable(v.IVR_DEPARTMENT, queue)
        plan, announce = await self._handoff(queue, handoff)
        for name, value in plan.variables.items():
            await self.set_variable(name, value)
        # Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub,rule,position)
        # (Asterisk 22: no macro argument since 21)
        args = (f"{queue},b({v.AGENT_PREDIAL}),,{announce},{timeout or ''},,,"
                f"{plan.rule}")
        try:
            await self.command(command("EXEC", "Queue", args))
        finally:
            # the rule moved them meanwhile; unset, so a later Queue() (the dialplan's
            # fallback) sees every member
            with contextlib.suppress(CallerHangup):
                for name in plan.variables:
                    await self.set_variable(name, "")
        agent = await self.get_variable(v.MEMBERINTERFACE)
        if agent:
            return QueueOutcome("ANSWERED", agent)
        return QueueOutcome(await self.get_variable(v.QUEUESTATUS) or "UNKNOWN")

    async def _handoff(self, queue: str, handoff: Handoff | None) -> tuple[QueuePlan, str]:
        """The queue plan and the whisper's sound ("" none) of one Queue() attempt."""
        if handoff is None:
            return queue_plan(None), ""
        await self.set_variable(v.IVR_AGENT_DISPLAY, handoff.display)
        try:
            plan = await plan_queue(self.routing, self.get_variable, queue,
                                    handoff.language, handoff.variables)
        except CallerHangup:
            raise
        except Exception:  # never keep a caller from a person over a preference
            log.warning("skills routing for %s failed: every member alike", queue,
                        exc_info=True)
            plan = queue_plan(None)
        announce = ""
        if handoff.whisper and self.routing is not None and self.routing.whisper:
            try:
                announce = await self.prompts.sound_for(handoff.whisper, handoff.language,
                                                        "normal")
            except Exception:
                log.warning("whisper for %s not rendered: none", queue, exc_info=True)
        return plan, announce

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(command("SET VARIABLE", name, value))

    async def get_variable(self, name: str, *, after_hangup: bool = False) -> str | None:
        reply = await self.command(command("GET VARIABLE", name),
                                           on_dead_channel=after_hangup)
        return reply.data if reply.value == 1 else None

    async def hangup(self) -> None:
        with contextlib.suppress(CallerHangup):
            await self.set_variable(v.IVR_DONE, "1")
            await self.command("HANGUP")

    async def _raise_if_gone(self) -> None:
        reply = await self.command("CHANNEL STATUS")
        if reply.value is None or reply.value < 0:
            self._mark_gone()
            raise CallerHangup("caller hung up during playback")


class AgiChannel(AgiCallControl):
    """:class:`Channel` over a FastAGI session (+ AudioSocket for listening)."""

    def __init__(self, session: AgiSession, prompts: PromptLibrary,
                 audiosocket: AudioSocketServer, audiosocket_addr: str,
                 recognizer: Any = None, executor: Executor | None = None) -> None:
        self.recognizer = recognizer  # ivr.speech.asr.SpeechRecognizer, when available
        self.executor = executor
        self.turns: list[TurnResult] = []
        self.session = session
        self.prompts = prompts
        self.audiosocket = audiosocket
        self.audiosocket_addr = audiosocket_addr
        self.uniqueid = session.uniqueid
        self.caller_number = session.caller_number

    async def command(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        return await self.session.command(line, on_dead_channel=on_dead_channel)

    def _mark_gone(self) -> None:
        self.session.hung_up = True

    @contextlib.asynccontextmanager
    async def _media(self) -> AsyncIterator[AudioStream]:
        """The call's audio over AudioSocket for the duration of the block."""
        call_uuid, fut = self.audiosocket.expect()
        app = asyncio.create_task(self.command(
            command("EXEC", "AudioSocket", f"{call_uuid},{self.audiosocket_addr}")))
        try:
            stream = await wait_stream(fut, 3.0)
        except Exception:
            # The command is on the wire: collect its reply so later replies stay in step.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app, 5.0)
            raise
        try:
            yield stream
        finally:
            await stream.close()
        await app  # raises CallerHangup if the caller left meanwhile

    async def listen(self, seconds: float) -> bytes:
        """The caller's audio for ``seconds`` (8 kHz slin), over AudioSocket."""
        async with self._media() as stream:
            return await collect_audio(stream, seconds)

    async def hear(self, prompt: str, lang: str = "en", profile: str = "normal", *,
                   max_seconds: float = 15.0, timeout: float = 5.0,
                   phrases: list[str] | None = None) -> Heard:
        """Ask and take the answer: words (over AudioSocket, with barge-in) where a
        recogniser has this language, else a key (the prompts name the keys)."""
        if self.recognizer is None or lang not in self.recognizer.languages():
            return Heard(dtmf=await self.collect_digits(prompt, 1, timeout, lang, profile))
        pcm = await self.prompts.pcm_for(prompt, lang, profile)
        recognizer = self.recognizer

        def new_session() -> Any:
            return recognizer.session(lang, 8000, phrases)

        async with self._media() as stream:
            turn = await take_turn(stream, prompt_pcm=pcm, session_factory=new_session,
                                   executor=self.executor, timeout=timeout,
                                   max_seconds=max_seconds,
                                   is_complete=complete_answer(phrases))
        self.turns.append(turn)
        if turn.dtmf:
            return Heard(dtmf=turn.dtmf, barged_in=turn.barged_in)
        if getattr(turn.transcript, "reason", "") == "recogniser busy":
            # every decode slot taken (ivr.speech.whisper): a short line, then keys, so
            # the caller is never left in silence behind other callers' audio
            await self.say(BUSY_LINES.get(lang, BUSY_LINES["en-US"]), lang, profile)
            return Heard(dtmf=await self.collect_digits(prompt, 1, timeout, lang, profile))
        text, confidence = (answer_of(turn.transcript, phrases) if turn.transcript is not None
                            else (turn.text, turn.confidence))
        return Heard(text=text, confidence=confidence, barged_in=turn.barged_in,
                     audio=turn.audio, speech_ms=turn.speech_ms)

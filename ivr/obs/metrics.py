"""Prometheus metrics of one engine, on a registry the engine owns (not the process's
default one), so two engines in one process - tests, the two-engine lab - do not
collide and ``/metrics`` shows this engine's figures only.

Most figures come from what the engine already knows: call events through the
recorder's listeners (outcomes, triage levels, queue waits, voice cues), gauges read
at scrape time (calls in progress, write-behind backlog, AMI up, ASR workers busy).
Two are measured here: AGI command latency (a hook in the FastAGI session) and the
event loop's lag (a task that sleeps and notes how late it woke). Labels stay
bounded: outcomes, queues, urgency levels and AGI verbs are all finite sets; no
caller number or call id is ever a label.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ivr import events as ev

# AGI replies are milliseconds when Asterisk is healthy; seconds mean trouble
AGI_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)
# end of the caller's speech -> words decoded
RECOGNITION_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
QUEUE_BUCKETS = (1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600)
LAG_INTERVAL = 0.5  # s between event-loop lag samples
# what an AGI command line is labelled by: its verb, two words for these, the app for EXEC
_TWO_WORD = {"GET", "SET", "STREAM", "CONTROL", "WAIT", "SAY", "RECORD", "SPEECH",
             "DATABASE", "CHANNEL", "RECEIVE", "SEND"}


def agi_label(line: str) -> str:
    """The metric label of an AGI command line: verb, never its arguments.

    >>> agi_label('GET VARIABLE "MEMBERINTERFACE"'), agi_label('EXEC Queue "x,b(y)"')
    ('GET VARIABLE', 'EXEC Queue')
    >>> agi_label('exec "AudioSocket" "uuid,host:port"'), agi_label("ANSWER")
    ('EXEC AudioSocket', 'ANSWER')
    """
    words = line.split(maxsplit=2)
    if not words:
        return "?"
    verb = words[0].upper()
    if verb == "EXEC" and len(words) > 1:
        return f"EXEC {words[1].strip(chr(34))[:32]}"
    if verb in _TWO_WORD and len(words) > 1:
        return f"{verb} {words[1].upper()[:16]}"
    return verb[:16]


class EngineMetrics:
    """The engine's figures. ``bind_*`` hands it what gauges read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls_active = Gauge("ivr_calls_active", "Calls the engine is running now.",
                                  registry=r)
        self.calls = Counter("ivr_calls", "Calls finished, by outcome.", ["outcome"],
                             registry=r)
        self.agi_seconds = Histogram("ivr_agi_command_seconds",
                                     "AGI command round trip (sent -> reply).", ["command"],
                                     buckets=AGI_BUCKETS, registry=r)
        self.recognition_seconds = Histogram(
            "ivr_recognition_seconds", "End of the caller's speech to the decoded words.",
            buckets=RECOGNITION_BUCKETS, registry=r)
        self.queue_wait = Histogram(
            "ivr_queue_wait_seconds", "Seconds callers waited in a queue, by queue and end.",
            ["queue", "result"], buckets=QUEUE_BUCKETS, registry=r)
        self.triage = Counter("ivr_triage_decisions", "Triage decisions, by urgency level.",
                              ["urgency"], registry=r)
        self.red_flags = Counter("ivr_red_flags", "Red flags heard, by lane.", ["lane"],
                                 registry=r)
        self.voice_cues = Counter("ivr_voice_cues", "Voice cues recorded (rising or not).",
                                  ["rising"], registry=r)
        self.loop_lag = Gauge("ivr_event_loop_lag_seconds",
                              "How late the engine's event loop woke, latest sample.",
                              registry=r)
        self.loop_lag_max = Gauge("ivr_event_loop_lag_max_seconds",
                                  "Largest event loop lag since the engine started.",
                                  registry=r)
        self.write_backlog = Gauge("ivr_write_behind_backlog",
                                   "Call-record operations queued, not yet written.",
                                   registry=r)
        self.ami_up = Gauge("ivr_ami_logged_in", "1 while the AMI connection is logged in.",
                            registry=r)
        self.agi_sessions = Gauge("ivr_agi_sessions", "FastAGI sessions open now.",
                                  registry=r)
        self.audio_streams = Gauge("ivr_audiosocket_streams", "AudioSocket streams open now.",
                                   registry=r)
        self.asr_busy = Gauge("ivr_asr_workers_busy", "Speech recognition workers busy now.",
                              registry=r)
        self.asr_workers = Gauge("ivr_asr_workers", "Speech recognition workers.", registry=r)
        self.load = Gauge("ivr_load_average_1m", "The machine's 1-minute load average.",
                          registry=r)
        self.maxload = Gauge("ivr_pbx_maxload",
                             "Load average above which Asterisk refuses new calls.",
                             registry=r)
        self.load.set_function(lambda: os.getloadavg()[0])
        self._lag_task: asyncio.Task[None] | None = None

    # --- wiring ---------------------------------------------------------------------
    def bind(self, *, active: Callable[[], int], backlog: Callable[[], int],
             ami_up: Callable[[], bool], agi_sessions: Callable[[], int],
             audio_streams: Callable[[], int], asr_busy: Callable[[], int],
             asr_workers: int, maxload: float) -> None:
        """The engine's live state, read at each scrape."""
        self.calls_active.set_function(active)
        self.write_backlog.set_function(backlog)
        self.ami_up.set_function(lambda: 1.0 if ami_up() else 0.0)
        self.agi_sessions.set_function(agi_sessions)
        self.audio_streams.set_function(audio_streams)
        self.asr_busy.set_function(asr_busy)
        self.asr_workers.set(asr_workers)
        self.maxload.set(maxload)

    def observe_agi(self, line: str, seconds: float) -> None:
        self.agi_seconds.labels(agi_label(line)).observe(seconds)

    def observe_turns(self, turns: Iterable[Any]) -> None:
        """Recognition times of a call's spoken turns (``TurnResult``s with
        ``end_of_speech_at`` and ``decoded_at``, monotonic seconds)."""
        for turn in turns:
            ended, decoded = getattr(turn, "end_of_speech_at", None), getattr(
                turn, "decoded_at", None)
            if ended is not None and decoded is not None and decoded >= ended:
                self.recognition_seconds.observe(decoded - ended)

    def on_event(self, _uniqueid: str, _call_id: str, event: ev.Event) -> None:
        """A recorder listener: counts what happened on calls."""
        if isinstance(event, ev.End):
            self.calls.labels(event.outcome or "unknown").inc()
        elif isinstance(event, ev.Triage):
            self.triage.labels("none" if event.urgency is None else str(event.urgency)).inc()
        elif isinstance(event, ev.RedFlag):
            self.red_flags.labels(event.lane or "unknown").inc()
        elif isinstance(event, ev.AgentConnect | ev.QueueCallerAbandon):
            with contextlib.suppress(TypeError, ValueError):
                held = float(event.holdtime)  # type: ignore[arg-type]
                result = "answered" if isinstance(event, ev.AgentConnect) else "abandoned"
                self.queue_wait.labels(event.queue or "unknown", result).observe(held)
        elif isinstance(event, ev.VoiceCue):
            self.voice_cues.labels("yes" if event.rising else "no").inc()

    # --- event loop lag ---------------------------------------------------------------
    def start(self) -> None:
        self._lag_task = asyncio.ensure_future(self._watch_lag())

    async def stop(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task

    async def _watch_lag(self) -> None:
        loop = asyncio.get_running_loop()
        worst = 0.0
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            lag = max(0.0, loop.time() - before - LAG_INTERVAL)
            worst = max(worst, lag)
            self.loop_lag.set(lag)
            self.loop_lag_max.set(worst)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

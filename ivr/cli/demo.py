"""``ivr demo``: the whole line on this machine, in about a minute.

Starts the local Asterisk and the engine, logs two simulated agents in with SIP
handsets, places simulated patient calls through Asterisk and prints what
happens to each call. Ends by itself and cleans up.
"""

from __future__ import annotations

import asyncio
import threading
import time

import click

from ivr import events as ev
from ivr.pbx import PbxError
from ivr.pbx.debian_root import RootBuildError
from ivr.privacy.masking import mask_number
from ivr.settings import load_settings
from ivr.sim.handset import AnsweredCall
from ivr.sim.lab import AgentSpec, Lab

AGENTS = [
    AgentSpec("1001", ["pharmacy", "operator", "emergency"], talk_seconds=4.0),
    AgentSpec("1002", ["appointments", "results", "general_medicine", "operator", "emergency"],
              talk_seconds=4.0),
]
CALLS = [  # (scenario, caller number, what the patient does)
    ("press1", "13800138001", "presses 1: appointments"),
    ("press2", "13900139002", "presses 2: medication question"),
    ("press9", "13700137003", "presses 9: emergency"),
    ("press0", "13600136004", "presses 0: asks for the operator"),
]


# Asterisk's device states, as QueueMember events report them.
DEVICE_STATES = {"0": "unknown", "1": "free", "2": "in use", "3": "busy", "4": "invalid",
                 "5": "unavailable", "6": "ringing", "7": "ringing, in use", "8": "on hold"}


class Tracer:
    """Prints one readable line per call event, labelled by call."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.labels: dict[str, str] = {}
        self._lock = threading.Lock()

    def line(self, label: str, text: str) -> None:
        with self._lock:
            click.echo(f"{time.monotonic() - self.t0:6.1f}s  {label:<7} {text}")

    def on_event(self, uniqueid: str, _call_id: str, event: ev.Event) -> None:
        label = self.labels.get(uniqueid, uniqueid[:8])
        text = _describe(event)
        if text:
            self.line(label, text)

    def on_answer(self, got: AnsweredCall) -> None:
        summary = got.headers.get("X-IVR-Summary", "(no context)")
        self.line(f"agent {got.extension}", f"picks up; screen shows: {summary!r}")


def _describe(e: ev.Event) -> str | None:
    """The trace line for one event; None: not shown."""
    match e:
        case ev.Start():
            return f"call answered by the engine ({e.channel})"
        case ev.Prompt():
            return f"engine says: \"{e.text[:70]}{'...' if len(e.text) > 70 else ''}\""
        case ev.Input():
            return f"caller pressed {e.dtmf}" + (" (barge-in)" if e.barge_in else "")
        case ev.NoInput():
            return f"no answer at '{e.step}' (attempt {e.attempt})"
        case ev.NoMatch():
            return f"invalid key {e.dtmf!r} at '{e.step}'"
        case ev.Route():
            esc = " (escalation)" if e.escalation else ""
            return f"routed to queue '{e.queue}' with priority {e.priority}{esc}"
        case ev.AgentCalled():
            return f"ringing {e.member} ({e.interface})"
        case ev.AgentConnect():
            return f"answered by {e.member} after {e.holdtime} s in queue"
        case ev.AgentComplete():
            return "agent finished the conversation"
        case ev.Hangup():
            return "caller hung up"
        case ev.Error():
            return f"error: {e.text or None}"
        case ev.End():
            return f"call record closed: {e.outcome}, {e.seconds or 0:.1f} s"
    return None


@click.command()
@click.option("--calls", "n_calls", default=len(CALLS), show_default=True,
              type=click.IntRange(1, len(CALLS)), help="How many patient calls to place.")
def demo(n_calls: int) -> None:
    """Run a demo: real Asterisk, the engine, 2 agent handsets, simulated patients."""
    settings = load_settings()
    tracer = Tracer()
    agents = [AgentSpec(a.extension, a.queues, a.talk_seconds) for a in AGENTS]

    async def run() -> None:
        lab = Lab(settings, agents, [tracer.on_event])
        tracer.line("setup", f"starting Asterisk ({lab.pbx.status()['mode']}) and the engine; "
                             "first run: rendering every prompt with TTS")
        async with lab:
            for h in lab.handsets.values():
                h.on_answer = tracer.on_answer
            for a in agents:
                tracer.line("setup", f"agent {a.extension} registered its SIP handset and "
                                     f"logged into: {', '.join(a.queues)}")
            assert lab.engine.ami is not None
            for queue in ("emergency", "operator"):
                members = await lab.engine.ami.queue_members(queue)
                tracer.line("setup", f"AMI: queue {queue!r} has " + ", ".join(
                    f"{m['Name']} ({DEVICE_STATES.get(m['Status'], m['Status'])})"
                    for m in members))
            placed = []
            for i, (scenario, number, what) in enumerate(CALLS[:n_calls]):
                label = f"call {chr(65 + i)}"
                uniqueid = await lab.place(scenario, number, f"Patient {chr(65 + i)}")
                tracer.labels[uniqueid] = label
                tracer.line(label, f"patient {mask_number(number)} dials in; {what}")
                placed.append((label, uniqueid))
                await asyncio.sleep(2.0)
            records = [(label, await lab.wait(uid, timeout=180)) for label, uid in placed]
            click.echo("\nSummary")
            click.echo(f"  {'call':<7} {'caller':<13} {'choice':<13} {'queue':<14} "
                       f"{'agent':<11} {'outcome':<14} duration")
            for label, r in records:
                click.echo(f"  {label:<7} {r.caller_masked:<13} {r.choice or '-':<13} "
                           f"{r.queue or '-':<14} {r.agent or '-':<11} {r.outcome or '-':<14} "
                           f"{r.duration_seconds or 0:.1f} s")
            click.echo(f"\nCall records: {settings.database_url}")
        tracer.line("done", "agents logged out, engine and Asterisk stopped")

    try:
        asyncio.run(run())
    except (PbxError, RootBuildError) as exc:
        raise click.ClickException(str(exc)) from exc

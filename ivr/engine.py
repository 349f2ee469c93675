"""The running engine: FastAGI + AudioSocket listeners, AMI watch, flows, records.

One object owns the long-lived parts (the TTS pool, the database, the AMI
connection) and wires each incoming AGI session to a flow run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from ivr.flows.loader import load_flow
from ivr.flows.model import Flow
from ivr.flows.runner import CallState, FlowRunner
from ivr.pbx import PbxInstance
from ivr.settings import Settings
from ivr.speech.tts import Synthesizer
from ivr.store.recorder import CallRecorder, EventListener
from ivr.telephony import variables as v
from ivr.telephony.ami import AmiClient
from ivr.telephony.audiosocket import AudioSocketServer
from ivr.telephony.channel import AgiChannel, PromptLibrary
from ivr.telephony.errors import CallerHangup
from ivr.telephony.fastagi import AgiSession, FastAgiServer

log = logging.getLogger(__name__)



class Engine:
    def __init__(self, settings: Settings, pbx: PbxInstance,
                 listeners: list[EventListener] | None = None) -> None:
        self.settings = settings
        self.listeners = listeners or []
        self.pbx = pbx
        self.active: dict[str, str] = {}  # asterisk uniqueid -> call id
        self.finished: dict[str, asyncio.Event] = {}
        self.recorder: CallRecorder | None = None
        self.ami: AmiClient | None = None
        self.agi: FastAgiServer | None = None
        self.audiosocket = AudioSocketServer()
        self._synth: Synthesizer | None = None
        self.flow: Flow | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    # --- lifecycle -----------------------------------------------------------
    async def start(self, connect_ami: bool = True) -> None:
        s = self.settings
        self.flow = load_flow(Path(s.engine.dialplans) / "main.yaml")
        self.recorder = CallRecorder(s.database_url)
        self.recorder.listeners.extend(self.listeners)
        host_sounds, seen_sounds = self.pbx.sounds_dir
        self._synth = Synthesizer(host_sounds)
        self.prompts = PromptLibrary(self._synth, seen_sounds)
        self.runner = FlowRunner(self.recorder)
        await self.audiosocket.start(s.engine.host, s.engine.audiosocket_port)
        self.agi = FastAgiServer()
        self.agi.add_route("inbound", self.handle_inbound)
        await self.agi.start(s.engine.host, s.engine.agi_port)
        if connect_ami:
            self.ami = AmiClient(s.pbx.host, s.pbx.ami_port, s.pbx.ami_user,
                                 s.secrets.ami_secret)
            await self.ami.connect()
            for name in ("AgentCalled", "AgentConnect", "AgentComplete",
                         "QueueCallerAbandon", "QueueCallerJoin"):
                self.ami.on(name, self._on_queue_event)
        log.info("engine listening: FastAGI %s:%s, AudioSocket %s:%s",
                 s.engine.host, s.engine.agi_port, s.engine.host, s.engine.audiosocket_port)

    async def prepare_prompts(self) -> int:
        """Render every prompt of the flow now, so the first caller hears no delay."""
        assert self.flow is not None
        texts = [str(st.get(k)) for st in self.flow.steps.values()
                 for k in ("text", "prompt", "no_input_prompt", "no_match_prompt") if st.get(k)]
        for text in texts:
            await self.prompts.sound_for(text, self.flow.language, self.flow.speech_rate)
        return len(texts)

    async def resume_listening(self) -> None:
        assert self.agi is not None
        await self.agi.start(self.settings.engine.host, self.settings.engine.agi_port)

    async def stop_listening(self) -> None:
        """Stop taking new calls (the dialplan then falls back to the operator)."""
        if self.agi is not None:
            await self.agi.stop()

    async def stop(self) -> None:
        await self.stop_listening()
        await self.audiosocket.stop()
        if self.ami is not None:
            self.ami.close()
        if self._synth is not None:
            await asyncio.to_thread(self._synth.close)
        if self.recorder is not None:
            self.recorder.close()

    # --- calls ---------------------------------------------------------------
    async def handle_inbound(self, session: AgiSession) -> None:
        assert self.recorder is not None and self.flow is not None
        flow = self.flow  # a call finishes on the version it started with
        recorder = self.recorder
        call_id = await recorder.start(session.uniqueid, session.channel,
                                       session.caller_number, flow.name, flow.version)
        self.active[session.uniqueid] = call_id
        done = self.finished.setdefault(session.uniqueid, asyncio.Event())
        channel = AgiChannel(session, self.prompts, self.audiosocket,
                             f"{self.settings.engine.host}:{self.settings.engine.audiosocket_port}")
        outcome = "error"
        try:
            outcome = await self.runner.run(CallState(call_id, flow, channel))
        except CallerHangup:
            outcome = "caller_hangup"
            await recorder.event(call_id, "hangup", text="caller hung up")
            agent = None
            with contextlib.suppress(Exception):
                agent = await channel.get_variable(v.MEMBERINTERFACE, after_hangup=True)
            if agent:
                outcome = "answered"
                await recorder.update(call_id, agent=agent)
        finally:
            await recorder.finish(call_id, outcome)
            self.active.pop(session.uniqueid, None)
            done.set()

    def _on_queue_event(self, _manager: Any, event: Any) -> None:
        uniqueid = event.get("Uniqueid", "")
        call_id = self.active.get(uniqueid)
        if call_id is None or self.recorder is None:
            return
        kind = event.get("Event", "")
        detail = {"queue": event.get("Queue"), "interface": event.get("Interface"),
                  "member": event.get("MemberName"), "holdtime": event.get("HoldTime")}
        task = asyncio.ensure_future(self._record_queue_event(call_id, kind, detail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_queue_event(self, call_id: str, kind: str,
                                  detail: dict[str, Any]) -> None:
        assert self.recorder is not None
        clean = {k: val for k, val in detail.items() if val is not None}
        if kind == "AgentConnect":
            await self.recorder.update(call_id, agent=detail.get("interface"),
                                       outcome="answered",
                                       hold_seconds=int(detail.get("holdtime") or 0))
        await self.recorder.event(call_id, f"ami:{kind}", **clean)

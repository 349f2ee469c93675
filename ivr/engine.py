"""The running engine: FastAGI + AudioSocket listeners, AMI watch, flows, records.

One object owns the long-lived parts (the TTS pool, the database, the AMI
connection) and wires each incoming AGI session to a flow run.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from ivr import events as ev
from ivr.calls import run_call
from ivr.emergency.conference import move_into_room
from ivr.emergency.rooms import EmergencyRooms
from ivr.flows.reloader import FlowStore
from ivr.flows.runner import FlowRunner
from ivr.followups.outbound import ARG_FOLLOWUP, ROUTE, run_followup_call
from ivr.followups.scheduler import FollowupScheduler, ami_originate
from ivr.followups.window import span
from ivr.live.board import LiveBoard
from ivr.obs.metrics import EngineMetrics
from ivr.obs.pool import BusyCountingExecutor
from ivr.pbx import PbxInstance
from ivr.pbx.eagi import emergency_flags
from ivr.settings import Settings
from ivr.speech.load import load_recognizer
from ivr.speech.tts import Synthesizer
from ivr.store.reconcile import Reconciler, ami_live_channels, ami_member_interface
from ivr.store.recorder import CallRecorder, EventListener
from ivr.store.switches import SwitchMirror
from ivr.telephony.agi_auth import AgiAuth, networks
from ivr.telephony.ami import AmiClient
from ivr.telephony.audiosocket import AudioSocketServer
from ivr.telephony.channel import AgiChannel, PromptLibrary
from ivr.telephony.errors import AmiError
from ivr.telephony.fastagi import AgiSession, FastAgiServer
from ivr.telephony.skills import skills_routing
from ivr.triage.reloader import RulesStore
from ivr.triage.voice_watch import VoiceWatch

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, settings: Settings, pbx: PbxInstance,
                 listeners: list[EventListener] | None = None,
                 rules: Path | None = None) -> None:
        self.settings = settings
        self.listeners = listeners or []
        self.pbx = pbx
        self.active: dict[str, str] = {}  # asterisk uniqueid -> call id
        # uniqueid -> event set when that call's record is closed; registered by whoever
        # waits (the lab), removed once set, so a long-running engine keeps none
        self.finished: dict[str, asyncio.Event] = {}
        self.recorder: CallRecorder | None = None
        self.ami: AmiClient | None = None
        self.scheduler: FollowupScheduler | None = None  # follow-up calls, with AMI
        self.agi: FastAgiServer | None = None
        self.audiosocket = AudioSocketServer(allowed=networks(settings.allowed_peers))
        self._synth: Synthesizer | None = None
        self.flows = FlowStore(Path(settings.engine.dialplans), Path(settings.engine.prompts))
        # the triager every call holds: the last good triage_rules.yaml (or ``rules``)
        self.rules = RulesStore(rules)
        self._tasks: set[asyncio.Future[None]] = set()
        self._replayer: asyncio.Future[None] | None = None
        # Prometheus figures on this engine's own registry (ivr/obs/); /metrics serves them
        self.metrics = EngineMetrics()
        self.voice_watch: VoiceWatch | None = None  # voice cues after the bridge, with AMI
        self.live: LiveBoard | None = None  # calls and agents now, for the staff's pages
        self.emergency: EmergencyRooms | None = None  # emergency rooms' steps, with AMI
        self.web: Any = None  # the staff's web pages (aiohttp AppRunner), if enabled
        # who rings first and the whisper (agents.yaml, agents.*); None: all alike
        self.routing = skills_routing(settings)

    # --- lifecycle -----------------------------------------------------------
    async def start(self, connect_ami: bool = True, require_ami: bool = True) -> None:
        s = self.settings
        self.flows.load()  # raises with every finding if the flows are invalid at start
        self.flows.start_watching()
        # raises with every finding if the rules are invalid at start; then hot reload
        await asyncio.to_thread(self.rules.load)
        self.rules.start_watching()
        # migrates, may replay a journal: seconds on a slow or absent database server
        # keys, journal and recordings under this engine's state folder, not the default's
        self.recorder = await asyncio.to_thread(CallRecorder, s.database_url, settings=s)
        self.recorder.listeners.extend(self.listeners)
        self.recorder.listeners.append(self.metrics.on_event)
        self.live = LiveBoard(self.recorder.privacy.display_number)
        self.live.attach_recorder(self.recorder)
        self._replayer = asyncio.ensure_future(self._replay_journal(self.recorder))
        # the emergency override of the whole line (every engine on this database), kept
        # in this engine's flag files, which calls and the scheduler read
        flags = [f for f in emergency_flags(s)  # ours, and our instance's ivr-eagi's
                 if f == self.override_file or f.parent.parent.name == s.pbx.instance]
        self._switches = asyncio.ensure_future(
            SwitchMirror(self.recorder.engine, flags).run_forever())
        host_sounds, seen_sounds = self.pbx.sounds_dir
        self._synth = Synthesizer(host_sounds, workers=2, shared=s.engine.tts_cache)
        self.prompts = PromptLibrary(self._synth, seen_sounds)
        self.recognizer = load_recognizer(s)
        if self.recognizer is not None:  # load models now: ~1-2 s each, not on a caller's time
            for lang in self.recognizer.languages():
                await asyncio.to_thread(self.recognizer.model, lang)
        # librosa compiles pitch tracking on first use: now, not during a caller's answer
        from ivr.triage import acoustic

        await asyncio.to_thread(acoustic.warm_up)
        # the knowledge base the answer step says (ivr/kb/): embedded now, not on a call
        from ivr.kb import live as knowledge

        knowledge.use(s.engine.knowledge)
        await asyncio.to_thread(knowledge.current().index)
        self._asr_pool = BusyCountingExecutor(max_workers=2, thread_name_prefix="asr")
        self.runner = FlowRunner(self.recorder, self.rules)  # new rules at the next decision
        await self.audiosocket.start(s.engine.host, s.engine.audiosocket_port)
        # only our Asterisk: peer allowlist + per-call token (SECURITY.md)
        self.agi = FastAgiServer(auth=AgiAuth.build(s.secrets.agi_secret, s.allowed_peers,
                                                    reread=s.current_agi_secret),
                                 observe=self.metrics.observe_agi)
        self._bind_metrics()
        self.agi.add_route("inbound", self.handle_inbound)
        self.agi.add_route("flow", self.handle_inbound)  # agi://.../flow?name=<flow>
        self.agi.add_route(ROUTE, self.handle_outbound)  # agi://.../outbound?followup=<id>
        await self.agi.start(s.engine.host, s.engine.agi_port)
        if connect_ami:
            self.ami = AmiClient(s.pbx.host, s.pbx.ami_port, s.pbx.ami_user,
                                 s.secrets.ami_secret)
            try:
                await self.ami.connect(keep_trying=not require_ami)
            except AmiError:
                if require_ami:
                    raise
                log.warning("AMI at %s:%s not reachable yet: answering calls anyway, "
                            "queue events are recorded once it connects", s.pbx.host,
                            s.pbx.ami_port)
            for name in ("AgentCalled", "AgentConnect", "AgentComplete",
                         "QueueCallerAbandon", "QueueCallerJoin"):
                self.ami.on(name, self._on_queue_event)
            assert self.live is not None
            self.live.attach_ami(self.ami)  # and a QueueStatus at each login:
            self._live_sync = asyncio.ensure_future(self.live.follow(self.ami))
            # the emergency room's steps (ivr/emergency/rooms.py), recorded on the call
            self.emergency = EmergencyRooms(
                self.recorder.record, self._channel_alive,
                is_open=lambda call_id: call_id in self.active.values(),
                move=functools.partial(move_into_room, self.ami))
            self.ami.on("UserEvent", self.emergency.on_user_event)
            if s.followups.enabled:
                self._start_followups()
            self._start_voice_watch()
            # close the records of calls a crashed engine lost, from Asterisk's queue_log
            reconciler = Reconciler(self.recorder.engine, self.pbx.host_dir / "log" / "queue_log",
                                    ami_live_channels(self.ami),
                                    ami_member_interface(self.ami),
                                    in_progress=lambda: set(self.active.values()))
            self._reconciling = asyncio.ensure_future(reconciler.run_forever())
        if s.web.enabled:  # the staff's pages (ivr/web/): console, wallboard, /metrics
            from ivr.web.app import start_web

            self.web = await start_web(self)
        log.info("engine listening: FastAGI %s:%s, AudioSocket %s:%s",
                 s.engine.host, s.engine.agi_port, s.engine.host, s.engine.audiosocket_port)

    async def _channel_alive(self, channel: str) -> bool:
        """Does Asterisk still know ``channel``? (True when AMI cannot tell.)"""
        if self.ami is None:
            return True
        try:
            await self.ami.action({"Action": "Getvar", "Channel": channel,
                                   "Variable": "CHANNEL(state)"})
        except AmiError:
            return False
        except TimeoutError:
            return True
        return True

    async def _handed_off(self, session: AgiSession, call_id: str) -> bool:
        """The caller's AGI ended because they went into an emergency room: True once
        they are out of it (the record stays open meanwhile). The session is closed
        first: Asterisk holds the caller in the AGI until its socket closes."""
        if self.emergency is None or not await self.emergency.was_moved(call_id):
            return False
        await session.close()
        await self.emergency.handed_off(call_id)
        return True

    def _bind_metrics(self) -> None:
        """What /metrics reads at each scrape, and the event-loop lag sampler."""
        pool = self._asr_pool
        self.metrics.bind(
            active=lambda: len(self.active),
            backlog=lambda: self.recorder.backlog if self.recorder is not None else 0,
            ami_up=lambda: self.ami is not None and self.ami.logged_in.is_set(),
            agi_sessions=lambda: len(self.agi.sessions) if self.agi is not None else 0,
            audio_streams=lambda: len(self.audiosocket.streams),
            asr_busy=lambda: pool.busy, asr_workers=pool.workers,
            maxload=self.settings.pbx_maxload)
        self.metrics.start()

    def _start_voice_watch(self) -> None:
        """Voice cues (ivr/triage/voice_watch.py): a listen-only leg on each caller
        bridged to an agent; shown on the console, never acted on."""
        assert self.ami is not None and self.recorder is not None
        s = self.settings
        self.voice_watch = VoiceWatch(
            self.ami, self.audiosocket, self.recorder, s.voice_cues,
            f"{s.engine.host}:{s.engine.audiosocket_port}", call_for=self.active.get)
        self.ami.on("AgentConnect", self.voice_watch.on_agent_connect)
        self.recorder.listeners.append(self.voice_watch.on_event)

    @property
    def override_file(self) -> Path:
        return self.settings.state_dir / "emergency_override"

    async def prepare_prompts(self) -> int:
        """Render every prompt of every flow now, so no caller waits for synthesis."""
        flow_set = self.flows.current
        assert flow_set is not None
        jobs = {(text, lang, flow.spec.defaults.speech_rate)
                for flow in flow_set.flows.values() for lang in flow.spec.languages
                for text in flow_set.prompts.get(lang, {}).values()}
        await asyncio.gather(*(self.prompts.sound_for(*job) for job in sorted(jobs)))
        return len(jobs)

    async def resume_listening(self) -> None:
        assert self.agi is not None
        await self.agi.start(self.settings.engine.host, self.settings.engine.agi_port)

    async def stop_listening(self) -> None:
        """Stop taking new calls (the dialplan then falls back to the operator)."""
        if self.agi is not None:
            await self.agi.stop()

    def _start_followups(self) -> None:
        """Call patients back (AMI Originate); polls only while AMI is logged in and the
        emergency override is off."""
        assert self.ami is not None and self.recorder is not None
        ami = self.ami
        self.scheduler = FollowupScheduler(
            self.recorder.engine, self.settings.followups, ami_originate(ami),
            self.recorder.privacy.open_number, ready=ami.logged_in.is_set,
            paused=self.override_file.exists,
            engine_address=f"{self.settings.engine.host}:{self.settings.engine.agi_port}")
        ami.on("OriginateResponse", self.scheduler.on_originate_response)
        self.scheduler.start()

    @staticmethod
    async def _replay_journal(recorder: CallRecorder) -> None:
        """Records journalled while the database was away reach it even when the line
        is quiet (otherwise the next call's first write would bring them)."""
        while True:
            await asyncio.sleep(recorder.replay_interval)
            if recorder.journal is not None and recorder.journal.pending():
                try:
                    await recorder.drain(only_if_due=True)
                except Exception:
                    log.exception("journal replay failed; trying again later")

    async def stop(self) -> None:
        if self.web is not None:  # first: no page reads a closing recorder
            await self.web.cleanup()
            self.web = None
        if getattr(self, "_switches", None) is not None:
            self._switches.cancel()
        if self._replayer is not None:
            self._replayer.cancel()
        if getattr(self, "_reconciling", None) is not None:
            self._reconciling.cancel()
        if getattr(self, "_live_sync", None) is not None:
            self._live_sync.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.voice_watch is not None:
            await self.voice_watch.stop()
        await self.metrics.stop()
        await self.flows.stop()
        await self.rules.stop()
        await self.stop_listening()
        await self.audiosocket.stop()
        if self.ami is not None:
            self.ami.close()
        if self._synth is not None:
            await asyncio.to_thread(self._synth.close)
        if hasattr(self, "_asr_pool"):
            self._asr_pool.shutdown(wait=False, cancel_futures=True)
        if self.recorder is not None:
            self.recorder.close()

    # --- calls ---------------------------------------------------------------
    def _channel(self, session: AgiSession) -> AgiChannel:
        self.prompts.use_recordings(self.flows.recordings())
        channel = AgiChannel(session, self.prompts, self.audiosocket,
                             f"{self.settings.engine.host}:{self.settings.engine.audiosocket_port}",
                             self.recognizer, self._asr_pool)
        channel.routing = self.routing
        return channel

    def _call_done(self, session: AgiSession) -> None:
        self.active.pop(session.uniqueid, None)
        if (done := self.finished.pop(session.uniqueid, None)) is not None:
            done.set()

    async def handle_inbound(self, session: AgiSession) -> None:
        assert self.recorder is not None and self.flows.current is not None
        flow_set = self.flows.current  # a call finishes on the set it started with
        flow = flow_set.flows.get(session.args.get("name", "main"), flow_set.flows["main"])
        channel = self._channel(session)
        try:
            await run_call(self.recorder, self.runner, flow_set, flow, channel,
                           uniqueid=session.uniqueid, channel_name=session.channel,
                           caller_number=session.caller_number,
                           override_file=self.override_file,
                           on_start=lambda call_id: self.active.__setitem__(session.uniqueid,
                                                                            call_id),
                           handed_off=functools.partial(self._handed_off, session))
        finally:
            self.metrics.observe_turns(getattr(channel, "turns", ()))
            self._call_done(session)

    async def handle_outbound(self, session: AgiSession) -> None:
        """A patient answered a follow-up call: run the follow-up's flow, record the
        attempt. Without a follow-up or its flow, the dialplan's operator fallback."""
        assert self.recorder is not None and self.flows.current is not None
        try:
            await run_followup_call(
                self.recorder, self.runner, self.flows.current, self._channel(session),
                followup_id=session.args.get(ARG_FOLLOWUP, ""), uniqueid=session.uniqueid,
                channel_name=session.channel, override_file=self.override_file,
                retry_after=[span(x) for x in self.settings.followups.retry_after],
                tracker=self.scheduler,
                on_start=lambda call_id: self.active.__setitem__(session.uniqueid, call_id))
        finally:
            self._call_done(session)

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
        await self.recorder.record(call_id, ev.ami_event(kind, **detail))

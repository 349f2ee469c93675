"""A whole hospital line on one machine: Asterisk, the engine, agents, patients.

Used by ``ivr demo`` and by the end-to-end tests, so the demo a newcomer runs is
the same path the tests check on every CI run.

The engine runs in this process by default. With ``engine_process=True`` it runs as
``ivr serve`` in a child process (:mod:`ivr.sim.engine_process`), so fault tests can
``kill -9`` it; the lab then has its own AMI connection and reads the records from the
database, as any other process would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.engine import Engine
from ivr.pbx import PbxInstance
from ivr.settings import Settings
from ivr.sim.engine_process import EngineProcess
from ivr.sim.handset import AgentHandset, AnsweredCall
from ivr.sim.patient import place_patient_call
from ivr.store.database import make_engine
from ivr.store.models import Call
from ivr.store.recorder import EventListener
from ivr.telephony.ami import AmiClient
from ivr.telephony.skills import seat

log = logging.getLogger(__name__)


@dataclass
class AgentSpec:
    extension: str
    queues: list[str]
    talk_seconds: float = 3.0


@dataclass
class Lab:
    settings: Settings
    agents: list[AgentSpec] = field(default_factory=list)
    listeners: list[EventListener] = field(default_factory=list)
    handset_port_base: int = 5160
    handset_rtp_base: int = 20000
    engine_process: bool = False  # the engine as an `ivr serve` child (kill -9 tests)
    engine_log: Path | None = None  # the child's output (engine_process only)
    # Queue members from agents.yaml in queues.conf (static) as on a site; default: none,
    # the lab logs each AgentSpec's handset into its queues over AMI.
    static_members: bool = False

    def __post_init__(self) -> None:
        self.pbx = PbxInstance(self.settings, simulation=True, members=self.static_members)
        self.process: EngineProcess | None = None
        self._ami: AmiClient | None = None
        if self.engine_process:
            self.process = EngineProcess(self.settings, log_path=self.engine_log)
        else:
            self.engine = Engine(self.settings, self.pbx, self.listeners)
        self.handsets: dict[str, AgentHandset] = {}
        self.answers: list[AnsweredCall] = []
        self._started_pbx = False
        self._done: dict[str, asyncio.Event] = {}  # calls placed, until waited for
        self.ami_events: list[dict[str, str]] = []
        self._notify_tasks: set[asyncio.Future[None]] = set()
        self._event_added = asyncio.Condition()

    async def __aenter__(self) -> Lab:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ami(self) -> AmiClient:
        """The AMI connection the lab drives Asterisk with (the engine's, in-process)."""
        ami = self._ami if self.process is not None else self.engine.ami
        assert ami is not None
        return ami

    async def start(self) -> None:
        self._started_pbx = not self.pbx.is_running()
        await asyncio.to_thread(self.pbx.up)
        if self.process is not None:
            s = self.settings
            self._ami = AmiClient(s.pbx.host, s.pbx.ami_port, s.pbx.ami_user,
                                  s.secrets.ami_secret)
            await self._ami.connect()
            self._db = make_engine(s.database_url)
            # prompts rendered too: a fresh instance renders every prompt (~200 spawned
            # TTS jobs, minutes on a busy 2-core machine)
            await asyncio.to_thread(self.process.start, 420.0, True)
        else:
            await self.engine.start()
            await self.engine.prepare_prompts()
        for pattern in ("Queue*", "Agent*"):
            self.ami.on(pattern, self._log_event)
        for i, spec in enumerate(self.agents):
            await self.login_agent(spec, i)

    async def login_agent(self, spec: AgentSpec, index: int) -> AgentHandset:
        """Register the agent's handset and log it into its queues (start of shift)."""
        password = self.settings.secrets.agent_passwords[spec.extension]
        handset = AgentHandset(
            spec.extension, password, self.settings.pbx.host, self.settings.pbx.sip_port,
            local_port=self.handset_port_base + index,
            rtp_low=self.handset_rtp_base + 100 * index,
            rtp_high=self.handset_rtp_base + 100 * index + 99,
            talk_seconds=spec.talk_seconds, on_answer=self.answers.append)
        await asyncio.to_thread(handset.start)
        self.handsets[spec.extension] = handset
        penalty = seat(self.settings.agent_book(), spec.extension)  # as queues.conf has it
        for queue in spec.queues:
            await self.ami.queue_add(queue, handset.interface, f"Agent {spec.extension}",
                                     penalty)
        return handset

    async def call(self, scenario: str, caller_number: str, timeout: float = 90.0,
                   name: str = "Patient") -> Call:
        """Place a simulated patient call and wait until the engine closes its record."""
        uniqueid = await self.place(scenario, caller_number, name)
        return await self.wait(uniqueid, timeout)

    def _log_event(self, _manager: object, event: object) -> None:
        self.ami_events.append(dict(event))  # type: ignore[call-overload]

        async def notify() -> None:
            async with self._event_added:
                self._event_added.notify_all()
        task = asyncio.ensure_future(notify())
        self._notify_tasks.add(task)
        task.add_done_callback(self._notify_tasks.discard)

    async def wait_event(self, predicate: Callable[[dict[str, str]], bool],
                         timeout: float = 60.0) -> dict[str, str]:
        """The first AMI queue/agent event (past or future) matching ``predicate``."""
        async def find() -> dict[str, str]:
            async with self._event_added:
                while True:
                    for event in self.ami_events:
                        if predicate(event):
                            return event
                    await self._event_added.wait()
        return await asyncio.wait_for(find(), timeout)

    async def place(self, scenario: str, caller_number: str, name: str = "Patient",
                    context: str = "hospital-inbound", exten: str = "s") -> str:
        uniqueid = await place_patient_call(self.ami, scenario, caller_number, name,
                                            context, exten)
        if self.process is None:
            self._done[uniqueid] = self.engine.finished.setdefault(uniqueid, asyncio.Event())
        return uniqueid

    async def wait(self, uniqueid: str, timeout: float = 90.0) -> Call:
        """The call's record once it is closed (by the engine, or by a reconciler)."""
        if self.process is not None:
            return await self.wait_record(uniqueid, lambda c: c.ended_at is not None, timeout)
        done = self._done.pop(uniqueid)
        await asyncio.wait_for(done.wait(), timeout)
        assert self.engine.recorder is not None
        record = await asyncio.to_thread(self.engine.recorder.by_uniqueid, uniqueid)
        assert record is not None
        return record

    def record(self, uniqueid: str) -> Call | None:
        """The call's row as the database holds it now (engine_process mode)."""
        with Session(self._db, expire_on_commit=False) as s:
            return s.scalar(select(Call).where(Call.asterisk_uniqueid == uniqueid))

    async def wait_record(self, uniqueid: str, predicate: Callable[[Call], bool],
                          timeout: float = 60.0) -> Call:
        """Poll the database until the call's row satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            row = await asyncio.to_thread(self.record, uniqueid)
            if row is not None and predicate(row):
                return row
            if time.monotonic() > deadline:
                raise TimeoutError(f"call {uniqueid}: record not as expected within "
                                   f"{timeout:.0f} s (now {row and vars(row)})")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        ami = self._ami if self.process is not None else self.engine.ami
        for handset in self.handsets.values():
            if ami is not None:
                for spec in self.agents:
                    if spec.extension == handset.extension:
                        for queue in spec.queues:
                            try:
                                await ami.queue_remove(queue, handset.interface)
                            except Exception:
                                log.debug("queue_remove failed", exc_info=True)
            await asyncio.to_thread(handset.stop)
        self.handsets.clear()
        if self.process is not None:
            await asyncio.to_thread(self.process.stop)
            if self._ami is not None:
                self._ami.close()
            if hasattr(self, "_db"):
                self._db.dispose()
        else:
            await self.engine.stop()
        if self._started_pbx:
            await asyncio.to_thread(self.pbx.down)

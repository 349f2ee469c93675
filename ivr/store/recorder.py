"""Writes call records as the call happens, off the event loop and off the call path.

SQLAlchemy sessions are synchronous; the recorder runs them on one dedicated
thread so a slow disk never stalls audio or AGI, and writes stay in order. The
call does not wait for them (``ivr.store.write_behind``): an event is appended to
the in-flight log (``ivr.store.inflight``: a crashed engine's are replayed by the
next process) and queued, and the thread writes whatever waits in one transaction.
What reads the rows back waits for the writes before it: the reads below
(``get``, ``history``, ...), ``finish`` and ``create_followup`` (the scheduler and
the agent's tools read those rows from the database).

Every write is an *operation* (a small JSON-able dict: start, event, update,
finish, recording, followup) applied idempotently. That is what lets the
journal (``ivr.store.journal``) keep operations on local disk while the
database is away and replay them later without doubles: a database outage never
stops a call, and reads made during a call answer "nothing known" instead of
failing it.
Text and details are masked before they are stored; caller numbers are kept as
a keyed hash (look-up) and a masked form (display), never in clear.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
import uuid
import wave
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ivr import events as ev
from ivr.events import Event, decode
from ivr.store import history
from ivr.store.database import is_memory, is_unreachable, make_engine, migrate, redacted
from ivr.store.history import CallerHistory
from ivr.store.inflight import InflightLog, orphans
from ivr.store.journal import Journal, ReplayResult, default_journal_path
from ivr.store.journal import journal_path as journal_file_for
from ivr.store.models import (
    Call,
    CallEvent,
    FollowUp,
    Patient,
    Recording,
    utcnow,
)
from ivr.store.projections import parse_time, project
from ivr.store.write_behind import BatchWriter

if TYPE_CHECKING:
    from ivr.settings import Settings

log = logging.getLogger(__name__)

# make_engine lives in ivr.store.database; importing it from here keeps working
__all__ = ["CallRecorder", "RecordPrivacy", "apply_op", "commit_op", "make_engine"]

# seconds between two attempts to replay the journal while the database is away
REPLAY_INTERVAL = 5.0


class RecordPrivacy(Protocol):
    """What the recorder needs to keep identifiers out of the database."""

    def mask(self, text: str) -> str: ...
    def mask_value(self, value: Any) -> Any: ...
    def caller_hash(self, number: str) -> str: ...
    def display_number(self, number: str) -> str: ...
    def hash_value(self, value: str, purpose: str) -> str: ...
    def seal_number(self, number: str, context: str) -> bytes: ...
    def seal_file(self, data: bytes, path: Path, context: str) -> str: ...
    def open_file(self, path: Path, context: str) -> bytes: ...
    def open_number(self, sealed: bytes, context: str) -> str: ...


def state_folder(url: str, settings: Settings | None) -> Path | None:
    """Where a recorder keeps its keys and journal: the settings' state folder; without
    settings, the folder of a SQLite file (a test's, a tool's); none for an in-memory or
    a server database, whose state must be named explicitly."""
    if settings is not None:
        return settings.state_dir
    return _sqlite_folder(url)


def default_privacy(url: str, settings: Settings | None = None) -> RecordPrivacy:
    """The keyring of the state folder; an in-memory database gets a throw-away keyring
    (simulations write nothing). A server database without settings is refused: records
    hashed with a key nobody kept could never be looked up again."""
    from ivr.privacy.records import ephemeral_privacy, records_privacy

    folder = state_folder(url, settings)
    if folder is not None:
        return records_privacy(folder)
    if is_memory(url):
        return ephemeral_privacy()
    raise ValueError(f"call records in {redacted(url)} need settings (their state folder "
                     "holds the keyring) or an explicit privacy")


def default_recordings_dir(url: str, settings: Settings | None = None) -> Path | None:
    """Beside a SQLite file; the state folder for a server; none for in-memory runs
    (simulations keep no audio) or a server without settings (nowhere was named)."""
    if is_memory(url):
        return None
    beside = _sqlite_folder(url)
    if beside is not None:
        return beside / "recordings"
    return settings.state_dir / "recordings" if settings is not None else None


def default_journal(url: str, settings: Settings | None = None) -> Path | None:
    """``<state_dir>/journal/...`` (see ``ivr.store.journal.journal_path``); none for an
    in-memory database, or a server one without settings (its writes then fail while it
    is away instead of going to a journal nobody would replay)."""
    if is_memory(url):
        return None
    if settings is not None:
        return default_journal_path(url, settings)
    folder = state_folder(url, None)
    return journal_file_for(url, folder) if folder is not None else None


def _sqlite_folder(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or is_memory(u):
        return None
    return Path(str(u.database)).parent


# (asterisk uniqueid, call id, event as stored, masked): live traces, e.g. the demo's output
EventListener = Callable[[str, str, Event], None]


Op = dict[str, Any]


def apply_op(s: Session, op: Op) -> None:
    """Apply one operation; applying it twice changes nothing (replay after an outage)."""
    kind = op["op"]
    if kind == "start":
        if s.get(Call, op["call_id"]) is None:
            s.add(Call(id=op["call_id"], asterisk_uniqueid=op["uniqueid"],
                       channel=op["channel"], direction=op.get("direction", "inbound"),
                       caller_hash=op["caller_hash"], caller_masked=op["caller_masked"],
                       language=op.get("language", ""), flow=op["flow"],
                       flow_version=op["flow_version"], started_at=parse_time(op["at"])))
    elif kind == "event":
        exists = s.scalar(select(CallEvent.id).where(CallEvent.call_id == op["call_id"],
                                                     CallEvent.seq == op["seq"]))
        if exists is None:
            ev = CallEvent(call_id=op["call_id"], seq=op["seq"], at=parse_time(op["at"]),
                           kind=op["kind"], step=op["step"], text=op["text"],
                           detail=op["detail"])
            s.add(ev)
            project(s, ev)
    elif kind in ("update", "finish"):
        call = s.get(Call, op["call_id"])
        if call is None:
            raise LookupError(f"no call {op['call_id']} to update")
        for key, value in op["fields"].items():
            setattr(call, key, value)
        if kind == "finish":
            if call.ended_at is None:
                call.ended_at = parse_time(op["at"])
            call.outcome = call.outcome or op["outcome"]
    elif kind == "recording":
        exists = s.scalar(select(Recording.id).where(Recording.call_id == op["call_id"],
                                                     Recording.seq == op["seq"]))
        if exists is None:
            s.add(Recording(call_id=op["call_id"], seq=op["seq"], at=parse_time(op["at"]),
                            path=op["path"], key_id=op["key_id"], seconds=op["seconds"]))
    elif kind == "followup":
        if s.get(FollowUp, op["id"]) is None:
            due = parse_time(op["due_at"])
            s.add(FollowUp(
                id=op["id"], call_id=op.get("call_id"), created_by=op.get("created_by", "flow"),
                created_at=parse_time(op["at"]), caller_hash=op["caller_hash"],
                number_masked=op["number_masked"],
                number_sealed=base64.b64decode(op["number_sealed"]), kind=op["kind"],
                reason=op.get("reason", ""), flow=op["flow"], language=op.get("language", ""),
                due_at=due, next_attempt_at=due, deadline_at=parse_time(op["deadline_at"]),
                max_attempts=int(op.get("max_attempts", 3))))
    else:
        raise ValueError(f"unknown record operation {kind!r}")


def commit_op(sessions: sessionmaker[Session], op: Op) -> None:
    """Apply ``op`` in its own transaction (``apply_op`` skips what is already there; a
    refused operation raises, so a journal replay sets it aside instead of losing it)."""
    with sessions.begin() as s:
        apply_op(s, op)


def commit_ops(sessions: sessionmaker[Session], ops: list[Op]) -> None:
    """Apply ``ops`` in order in one transaction: all or none."""
    with sessions.begin() as s:
        for op in ops:
            apply_op(s, op)


class CallRecorder:
    """Call records for the engine. ``settings`` names where its state lives (keyring,
    journal, recordings of a server database: ``settings.state_dir``); pass the
    settings the engine runs with, never rely on the default ones. Without settings,
    a SQLite file keeps its state beside it and ``CallRecorder("sqlite://")`` (the
    simulator) writes nothing to disk. ``privacy``, ``recordings_dir`` and
    ``journal_path`` override a piece (tests); ``journal_path``: where operations wait
    while the database is unreachable (see ``default_journal``)."""

    def __init__(self, url: str, privacy: RecordPrivacy | None = None,
                 recordings_dir: Path | None = None, *,
                 settings: Settings | None = None,
                 journal_path: Path | str | None = None,
                 replay_interval: float = REPLAY_INTERVAL) -> None:
        self.listeners: list[EventListener] = []
        self.privacy = privacy or default_privacy(url, settings)
        self.recordings_dir = recordings_dir or default_recordings_dir(url, settings)
        self._uniqueid: dict[str, str] = {}
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._seq: dict[str, int] = {}
        self.journal: Journal | None = None
        journal_file = None if is_memory(url) else journal_path or default_journal(url, settings)
        if journal_file is not None:
            self.journal = Journal(journal_file)
        self.replay_interval = replay_interval
        self._last_replay = float("-inf")
        self._journalling = False
        self._schema_ready = False
        if self._ensure_schema() and self.journal is not None and self.journal.pending():
            self.replay()  # left by an outage before a restart
        if self.journal is not None:
            self.recover()  # left in flight by a process that died
        # without a journal (in-memory, or a server database without a state folder)
        # nothing is kept in flight: a crash loses the operations not yet written
        self._writer = BatchWriter(
            self.write_many, InflightLog(self.journal.path) if self.journal else None)

    async def _run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the writer thread, after the writes queued before it."""
        return await asyncio.wrap_future(self._writer.run(lambda: fn(*args)))

    def recover(self) -> int:
        """Write what dead processes left in flight (``ivr.store.inflight``), oldest
        process first, through ``write_many`` (to the journal if the database is away);
        the number of operations put back."""
        assert self.journal is not None
        total = 0
        for orphan in orphans(self.journal.path):
            try:
                self.write_many(orphan.ops)
            except Exception:
                orphan.release()
                log.exception("in-flight records of a dead process not put back: %s",
                              ", ".join(map(str, orphan.paths)))
                continue
            orphan.done()
            total += len(orphan.ops)
            log.warning("%d call-record operation(s) left in flight by a process that "
                        "died put back (%d torn line(s) skipped): %s", len(orphan.ops),
                        orphan.torn, ", ".join(p.name for p in orphan.paths))
        return total

    def _ensure_schema(self) -> bool:
        if not self._schema_ready:
            try:
                migrate(self.engine)
            except DBAPIError as exc:
                if self.journal is None or not is_unreachable(exc):
                    raise
                self._start_journalling(exc)
                return False
            self._schema_ready = True
        return True

    def _start_journalling(self, exc: BaseException) -> None:
        if not self._journalling:
            self._journalling = True
            assert self.journal is not None
            log.warning("database %s unreachable (%s): call records go to the journal %s "
                        "until it is back", redacted(self.engine.url), _reason(exc),
                        self.journal.path)

    def write(self, op: Op) -> None:
        """Apply ``op`` in its own transaction (on the recorder's thread). While the database
        is unreachable, or older operations wait in the journal, append it to the journal
        instead: the call goes on, and nothing is lost or reordered."""
        if self.journal is None:
            commit_op(self.sessions, op)
            return
        if not self._schema_ready or self.journal.pending():
            self.replay_if_due()
            if not self._schema_ready or self.journal.pending():
                self.journal.append(op)
                return
        try:
            commit_op(self.sessions, op)
        except DBAPIError as exc:
            if not is_unreachable(exc):
                raise
            self._start_journalling(exc)
            self.journal.append(op)

    def write_many(self, ops: list[Op]) -> None:
        """Write ``ops`` in order (the writer thread's batches): one transaction; the
        journal instead while the database is away or older operations wait there. An
        operation the database refuses (a bug, not an outage) is logged and dropped, and
        the rest of the batch is written one by one."""
        if not ops:
            return
        if self.journal is not None and (not self._schema_ready or self.journal.pending()):
            self.replay_if_due()
            if not self._schema_ready or self.journal.pending():
                self._journal_all(ops)
                return
        try:
            commit_ops(self.sessions, ops)
            return
        except DBAPIError as exc:
            if self.journal is not None and is_unreachable(exc):
                self._start_journalling(exc)
                self._journal_all(ops)
                return
            if len(ops) == 1:
                log.exception("call record operation %s of call %s refused",
                              ops[0].get("op"), ops[0].get("call_id"))
                return
        except Exception:
            if len(ops) == 1:
                log.exception("call record operation %s of call %s refused",
                              ops[0].get("op"), ops[0].get("call_id"))
                return
        for op in ops:  # find the refused one; write the others
            try:
                self.write(op)
            except Exception:
                log.exception("call record operation %s of call %s refused",
                              op.get("op"), op.get("call_id"))

    def _journal_all(self, ops: list[Op]) -> None:
        assert self.journal is not None
        for op in ops:
            self.journal.append(op)

    def submit(self, op: Op) -> None:
        """Queue ``op`` for the writer thread; the call goes on (see the module doc)."""
        self._writer.put(op)

    async def flush(self) -> None:
        """Return once every operation queued before is written (or journalled)."""
        await self._writer.flush()

    @property
    def backlog(self) -> int:
        """Operations queued and not yet written."""
        return self._writer.backlog

    def replay_if_due(self) -> ReplayResult | None:
        """``replay`` unless one was tried less than ``replay_interval`` seconds ago: while
        the database is away, each try can cost a whole connect timeout, and writes (the
        call's steps) must not pay it every time."""
        if time.monotonic() - self._last_replay < self.replay_interval:
            return None
        return self.replay()

    def replay(self) -> ReplayResult:
        """Apply the journalled operations to the database, oldest first, and remove them
        from the journal. Runs by itself (``replay_if_due``) before a write and from the
        engine while there is a backlog; ``ivr db replay`` does the same by hand."""
        try:
            return self._replay()
        finally:  # counted from the end of the try: a slow failure must not re-run at once
            self._last_replay = time.monotonic()

    def _replay(self) -> ReplayResult:
        if self.journal is None or not self.journal.pending():
            return ReplayResult()
        if not self._ensure_schema():
            return ReplayResult(remaining=len(self.journal.lines()),
                                error="database unreachable")
        result = self.journal.replay(lambda op: commit_op(self.sessions, op))
        if result.remaining:
            log.warning("journal %s: replayed %s; the rest waits for the database",
                        self.journal.path, result)
        else:
            self._journalling = False
            log.warning("journal %s: backlog replayed into %s: %s", self.journal.path,
                        redacted(self.engine.url), result)
        return result

    async def drain(self, only_if_due: bool = False) -> ReplayResult | None:
        """``replay`` on the recorder's thread, after the writes submitted before it."""
        return await self._run(self.replay_if_due if only_if_due else self.replay)

    # --- writes ----------------------------------------------------------------
    async def start(self, uniqueid: str, channel: str, caller: str, flow: str,
                    flow_version: str, *, language: str = "",
                    direction: str = "inbound") -> str:
        call_id = str(uuid.uuid4())
        self._seq[call_id] = 0
        self._uniqueid[call_id] = uniqueid
        masked = self.privacy.display_number(caller)
        self.submit({
            "op": "start", "call_id": call_id, "uniqueid": uniqueid, "channel": channel,
            "caller_hash": self.privacy.caller_hash(caller),
            "caller_masked": masked, "flow": flow,
            "flow_version": flow_version, "language": language, "direction": direction,
            "at": utcnow().isoformat()})
        await self.record(call_id, ev.Start(
            channel=channel, caller_masked=masked, flow=flow, language=language))
        return call_id

    async def record(self, call_id: str, event: Event) -> None:
        """Record a typed event (``ivr.events``), masked, as its ``stored()`` form."""
        await self.event(call_id, *event.stored())

    async def event(self, call_id: str, kind: str, step: str = "", text: str = "",
                    detail: dict[str, Any] | None = None, **more: Any) -> None:
        """An event given as its stored columns (hand-made rows in tests, ``record``);
        listeners hear it typed, as stored (masked)."""
        seq = self._seq.get(call_id, 0) + 1
        self._seq[call_id] = seq
        text = self.privacy.mask(text)
        detail = self.privacy.mask_value({**(detail or {}), **more})
        self.submit({"op": "event", "call_id": call_id, "seq": seq, "kind": kind,
                           "step": step, "text": text, "detail": detail,
                           "at": utcnow().isoformat()})
        if self.listeners:
            uniqueid = self._uniqueid.get(call_id, "")
            masked = decode(kind, step, text, detail)
            for listener in self.listeners:
                listener(uniqueid, call_id, masked)

    async def update(self, call_id: str, **fields: Any) -> None:
        self.submit({"op": "update", "call_id": call_id, "fields": fields})

    async def finish(self, call_id: str, outcome: str, **fields: Any) -> None:
        """Close the record. Keeps an outcome already set (e.g. 'answered')."""
        ended = utcnow()
        self.submit({"op": "finish", "call_id": call_id, "outcome": outcome,
                     "fields": fields, "at": ended.isoformat()})
        closed = None if self._journalling else await self._run(self._closed, call_id)
        await self.record(call_id, ev.End(outcome=closed.outcome if closed else outcome,
                                          seconds=closed.duration_seconds if closed else None))
        self._seq.pop(call_id, None)
        self._uniqueid.pop(call_id, None)
        await self.flush()  # the record is closed when this returns

    async def recording(self, call_id: str, pcm: bytes, rate: int = 8000) -> None:
        """Keep what the caller just said, sealed (AES-GCM) with the call id as context,
        so a file moved to another call's record does not open."""
        if self.recordings_dir is None or not pcm:
            return
        seq = self._seq.get(call_id, 0)  # the turn event just written
        path = self.recordings_dir / call_id / f"{seq:04d}.wav.sealed"

        def seal() -> str:
            buf = io.BytesIO()
            with wave.open(buf, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(pcm)
            return self.privacy.seal_file(buf.getvalue(), path, call_id)
        key_id = await asyncio.to_thread(seal)
        self.submit({"op": "recording", "call_id": call_id, "seq": seq,
                           "path": str(path), "key_id": key_id,
                           "seconds": round(len(pcm) / 2 / rate, 2),
                           "at": utcnow().isoformat()})

    async def create_followup(self, *, number: str, kind: str, flow: str, due_at: datetime,
                              deadline_at: datetime, reason: str = "", language: str = "",
                              call_id: str | None = None, created_by: str = "flow",
                              max_attempts: int = 3) -> str:
        """Open a matter the line must come back to: an outbound call at ``due_at``."""
        followup_id = str(uuid.uuid4())
        sealed = self.privacy.seal_number(number, followup_id)
        self.submit({
            "op": "followup", "id": followup_id, "call_id": call_id, "created_by": created_by,
            "caller_hash": self.privacy.caller_hash(number),
            "number_masked": self.privacy.display_number(number),
            "number_sealed": base64.b64encode(sealed).decode(), "kind": kind,
            "reason": self.privacy.mask(reason), "flow": flow, "language": language,
            "due_at": due_at.isoformat(), "deadline_at": deadline_at.isoformat(),
            "max_attempts": max_attempts, "at": utcnow().isoformat()})
        await self.flush()  # the scheduler and the agents' tools read it from the database
        return followup_id

    # --- reads -----------------------------------------------------------------
    # Reads made during a call never fail it: with the database away they know nothing.
    def get(self, call_id: str) -> Call | None:
        self._writer.wait_written()
        try:
            with Session(self.engine) as s:
                return s.scalar(select(Call).where(Call.id == call_id)
                                .options(selectinload(Call.events), selectinload(Call.turns),
                                         selectinload(Call.triage),
                                         selectinload(Call.queue_results),
                                         selectinload(Call.survey_answers),
                                         selectinload(Call.recordings)))
        except DBAPIError as exc:
            self._read_failed(exc, f"call {call_id}")
            return None

    def _closed(self, call_id: str) -> Call | None:
        """The call row alone (outcome, times), for the closing event."""
        try:
            with Session(self.engine) as s:
                return s.get(Call, call_id)
        except DBAPIError as exc:
            self._read_failed(exc, f"call {call_id}")
            return None

    def by_uniqueid(self, uniqueid: str) -> Call | None:
        self._writer.wait_written()
        try:
            with Session(self.engine) as s:
                call_id = s.scalar(select(Call.id).where(Call.asterisk_uniqueid == uniqueid))
        except DBAPIError as exc:
            self._read_failed(exc, f"call of channel {uniqueid}")
            return None
        return self.get(call_id) if call_id else None

    def history(self, caller: str, exclude_call: str | None = None,
                now: datetime | None = None) -> CallerHistory:
        """What this caller told us before (calls, open follow-ups, registry facts).
        Reads earlier calls, written when they finished (``finish`` waits for its
        rows): no wait here for the writes of calls in progress."""
        try:
            with Session(self.engine) as s:
                return history.lookup(s, self.privacy.caller_hash(caller), now,
                                      exclude_call=exclude_call)
        except DBAPIError as exc:
            self._read_failed(exc, "caller history (a first-time caller, then)")
            return CallerHistory()

    def verify_patient(self, caller: str, dob_digits: str) -> bool:
        try:
            with Session(self.engine) as s:
                return history.verify(s, self.privacy.caller_hash(caller),
                                      self.privacy.hash_value(dob_digits, "dob"))
        except DBAPIError as exc:
            self._read_failed(exc, "patient registry (caller not verified)")
            return False

    def verified_patient(self, caller: str, dob_digits: str) -> int | None:
        """The registry row of the patient this caller just proved to be (phone and
        date of birth), so what is read next is theirs, not a family member's."""
        try:
            with Session(self.engine) as s:
                return history.patient_id(s, self.privacy.caller_hash(caller),
                                          self.privacy.hash_value(dob_digits, "dob"))
        except DBAPIError as exc:
            self._read_failed(exc, "patient registry (caller not identified)")
            return None

    def add_patient(self, number: str, dob_digits: str, mrn: str = "",
                    language: str = "") -> None:
        """Register (the part of) a patient the line needs; from the hospital's registry."""
        with self.sessions.begin() as s:
            s.add(Patient(phone_hash=self.privacy.caller_hash(number),
                          dob_hash=self.privacy.hash_value(dob_digits, "dob"),
                          mrn_masked=self.privacy.mask(mrn) if mrn else "",
                          mrn_hash=self.privacy.hash_value(mrn, "mrn") if mrn else None,
                          birth_year=int(dob_digits[:4]), language=language))

    def _read_failed(self, exc: DBAPIError, what: str) -> None:
        if not is_unreachable(exc):
            raise exc
        log.warning("database %s unreachable: %s not read (%s)", redacted(self.engine.url),
                    what, _reason(exc))

    def close(self) -> None:
        """Write what is queued, then let go of the database."""
        self._writer.close()
        self.engine.dispose()


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""Call records: one row per call, one per thing that happened in it, and structured
rows (turns, triage decisions, queue outcomes, survey answers...) derived from those
events in the same transaction.

Each event is committed as it happens, so a caller who hangs up (or an engine
that crashes) mid-call still leaves everything that was said and done. Caller
numbers are never stored in clear: a keyed hash for look-up, a masked form for
display, and (for follow-up calls only) the number sealed with AES-GCM.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    asterisk_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(128), default="")
    direction: Mapped[str] = mapped_column(String(8), default="inbound")  # inbound | outbound
    caller_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    caller_masked: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    flow: Mapped[str] = mapped_column(String(64), default="")
    flow_version: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # routed | answered | abandoned | caller_hangup | goodbye | fallback | error
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    choice: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue_priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    urgency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hold_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # set when retention purged the words said (the row itself stays for statistics)
    transcripts_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                                   nullable=True)

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.seq", cascade="all, delete-orphan"
    )
    turns: Mapped[list[Turn]] = relationship(order_by="Turn.seq", cascade="all, delete-orphan")
    triage: Mapped[list[TriageDecision]] = relationship(order_by="TriageDecision.seq",
                                                        cascade="all, delete-orphan")
    queue_results: Mapped[list[QueueResult]] = relationship(order_by="QueueResult.seq",
                                                            cascade="all, delete-orphan")
    survey_answers: Mapped[list[SurveyAnswer]] = relationship(cascade="all, delete-orphan")
    dispositions: Mapped[list[Disposition]] = relationship(cascade="all, delete-orphan")
    recordings: Mapped[list[Recording]] = relationship(order_by="Recording.seq",
                                                       cascade="all, delete-orphan")

    @property
    def duration_seconds(self) -> float | None:
        ended, started = aware(self.ended_at), aware(self.started_at)
        if ended is None or started is None:
            return None
        return (ended - started).total_seconds()


class CallEvent(Base):
    """Everything that happened, in order: the journal the other call tables derive from."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # start | step | prompt | turn | input | triage | route | queue | survey | hangup | end ...
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")

    call: Mapped[Call] = relationship(back_populates="events")


class Turn(Base):
    """One exchange: what the line said and what the caller answered (words or keys)."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_turns_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the event's seq
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    step: Mapped[str] = mapped_column(String(64), default="")
    prompt_text: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str] = mapped_column(Text, default="")  # masked
    dtmf: Mapped[str] = mapped_column(String(32), default="")
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    barged_in: Mapped[bool] = mapped_column(Boolean, default=False)
    speech_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listen_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="heard")  # heard|no_input|no_match


class TriageDecision(Base):
    __tablename__ = "triage_decisions"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_triage_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    step: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text, default="")  # masked
    urgency: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(64))
    queue_priority: Mapped[int] = mapped_column(Integer, default=0)
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rules_version: Mapped[str] = mapped_column(String(64), default="")


class QueueResult(Base):
    """Where the call was sent and what became of it there (routing and queue outcome)."""

    __tablename__ = "queue_results"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_queue_results_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # ANSWERED | TIMEOUT | FULL | JOINEMPTY | LEAVEEMPTY | ABANDONED ...
    status: Mapped[str] = mapped_column(String(32), default="")
    agent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hold_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("call_id", "seq", "dimension", name="uq_survey_answer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    survey: Mapped[str] = mapped_column(String(64), default="")  # the flow step
    dimension: Mapped[str] = mapped_column(String(64))  # e.g. accuracy, patience, empathy
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: not answered
    scale: Mapped[int] = mapped_column(Integer, default=5)
    mode: Mapped[str] = mapped_column(String(8), default="dtmf")  # dtmf | speech
    comment: Mapped[str] = mapped_column(Text, default="")  # masked free words, if any


class Disposition(Base):
    """What the call was really about, as the agent recorded it at wrap-up."""

    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    agent: Mapped[str] = mapped_column(String(128), default="")
    department: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")  # masked


class Recording(Base):
    """Caller audio of one turn, sealed with AES-GCM on disk; this row says where."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    path: Mapped[str] = mapped_column(String(512))
    key_id: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FollowUp(Base):
    """An open matter that must come back until closed: the line calls the patient."""

    __tablename__ = "followups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"),
                                                nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="flow")
    caller_hash: Mapped[str] = mapped_column(String(64), index=True)
    number_masked: Mapped[str] = mapped_column(String(32), default="")
    number_sealed: Mapped[bytes] = mapped_column(LargeBinary)  # AES-GCM, for dialling only
    kind: Mapped[str] = mapped_column(String(32))  # post_surgery | medication | complaint ...
    reason: Mapped[str] = mapped_column(Text, default="")  # masked
    flow: Mapped[str] = mapped_column(String(64))  # the outbound flow that runs the call
    language: Mapped[str] = mapped_column(String(16), default="")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # open | calling | done | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    tries: Mapped[list[FollowUpAttempt]] = relationship(order_by="FollowUpAttempt.at",
                                                        cascade="all, delete-orphan")


class FollowUpAttempt(Base):
    __tablename__ = "followup_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    followup_id: Mapped[str] = mapped_column(ForeignKey("followups.id", ondelete="CASCADE"),
                                             index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    call_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the outbound call
    # answered_ok | needs_nurse | no_answer | busy | failed | emergency ...
    outcome: Mapped[str] = mapped_column(String(32), default="")


class Patient(Base):
    """Just enough of the hospital's patient registry to verify a caller by keypad and
    adapt the line (age group); identifiers are keyed hashes, never clear text."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    dob_hash: Mapped[str] = mapped_column(String(64))
    mrn_masked: Mapped[str] = mapped_column(String(32), default="")
    # keyed hash of the patient number: what links imported results to the verified
    # caller (ivr/results/); empty for patients registered without one
    mrn_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)  # age group only
    language: Mapped[str] = mapped_column(String(16), default="")


class StaffMember(Base):
    __tablename__ = "staff"

    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | auditor | admin
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Every read of patient data and every refusal: who, what, when, allowed or not."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="")
    allowed: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LineSwitch(Base):
    """A switch for the whole line, shared by every engine on this database (a file in
    one engine's state folder reaches that engine only): the emergency override."""

    __tablename__ = "line_switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    is_on: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")
    set_by: Mapped[str] = mapped_column(String(64), default="")


class StaffPassword(Base):
    """A staff member's web sign-in secret: an Argon2id hash, never the password."""

    __tablename__ = "staff_passwords"

    user: Mapped[str] = mapped_column(ForeignKey("staff.user", ondelete="CASCADE"),
                                      primary_key=True)
    hash: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its SHA-256 (a copy
    of the table opens no session), the CSRF token, and both expiry clocks."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(cookie token)
    user: Mapped[str] = mapped_column(ForeignKey("staff.user", ondelete="CASCADE"),
                                      index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16), default="password")  # password | proxy
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    remote: Mapped[str] = mapped_column(String(64), default="")


class Clinic(Base):
    """A place patients are seen (ivr/schedule/): named by the slots imported for it."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Clinician(Base):
    """Who sees the patient in a slot; a name is unique within its clinic."""

    __tablename__ = "clinicians"
    __table_args__ = (UniqueConstraint("clinic_id", "name", name="uq_clinicians_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(100))


class Slot(Base):
    """One appointment time a clinician offers (``ivr schedule import``); whether it is
    taken is the bookings' business, so a cancelled booking frees it again."""

    __tablename__ = "slots"
    # importing the same file twice adds nothing
    __table_args__ = (UniqueConstraint("clinician_id", "starts_at", name="uq_slots_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"),
                                           index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"),
                                              index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200), default="")  # the imported file


class Booking(Base):
    """A patient's appointment in a slot. At most one booking of a slot is active
    (``status`` booked): a unique index on the slot over active rows, so two callers
    offered the same time cannot both have it, whichever engine they reached."""

    __tablename__ = "bookings"
    __table_args__ = (Index("uq_bookings_active_slot", "slot_id", unique=True,
                            sqlite_where=text("status = 'booked'"),
                            postgresql_where=text("status = 'booked'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"),
                                         index=True)
    patient_hash: Mapped[str] = mapped_column(String(64), index=True)  # keyed phone hash
    patient_masked: Mapped[str] = mapped_column(String(32), default="")  # 138******00
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # registry row
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked|cancelled|moved
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    booked_by: Mapped[str] = mapped_column(String(128), default="")  # phone | staff user
    call_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_by: Mapped[str] = mapped_column(String(128), default="")
    moved_to: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the new booking
    # AES-GCM (ivr.schedule.number_context), opened only to call about a hospital change
    number_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Drill(Base):
    """One ``ivr drill`` call (ivr/drill/): a simulated emergency or crisis caller placed
    through the live line, its time to a human and whether each step held. Its call
    (``call_id``) is a drill, never a patient: the reports leave it out of every figure."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    scenario: Mapped[str] = mapped_column(String(32))
    passed: Mapped[bool] = mapped_column(Boolean)
    time_to_human_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"step": "red_flag", "held": true, "at_s": 7.9, "detail": "..."}, ...]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    call_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


def not_a_drill() -> Any:
    """A where-clause for calls that are no ``ivr drill`` call: drills are no patients,
    so every patient figure (the report, the wallboard's today) leaves them out."""
    return Call.id.not_in(select(Drill.call_id).where(Drill.call_id.is_not(None)))


class ResultStatus(Base):
    """Whether a test's result is ready (ivr/results/, ``ivr results import``): the
    status only. No value, unit, range or diagnosis has a column here on purpose: the
    line can only ever say "ready", "not ready yet" or "the clinic will call you"."""

    __tablename__ = "test_results"
    __table_args__ = (UniqueConstraint("patient_hash", "test_kind", "taken_on",
                                       name="uq_test_results_test"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_hash: Mapped[str] = mapped_column(String(64), index=True)  # keyed hash, "mrn"
    test_kind: Mapped[str] = mapped_column(String(16))  # blood | urine | imaging | ...
    taken_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))  # ready | pending | clinic_will_call
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(200), default="")  # the imported file


class Notice(Base):
    """A change the hospital made to a patient's appointment (a cancelled clinic, a
    moved booking: ``bookings`` ended by staff), told to the next call from the phone
    that booked it (ivr/notices/). One row per booking told: heard once, not twice."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    booking_id: Mapped[int] = mapped_column(Integer, unique=True)  # bookings.id, read-only
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # cancelled | moved
    heard_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    call_id: Mapped[str | None] = mapped_column(String(36), nullable=True)

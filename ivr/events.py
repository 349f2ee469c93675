"""Typed call events: one frozen dataclass per event kind.

Producers (the flow runner, the engine, the recorder, outbound calls) build one
of these and hand it to ``CallRecorder.record``; consumers (the store's
projections, ``ivr simulate``, the demo trace, live listeners) get one back from
``decode``. The stored form is unchanged from the untyped protocol this replaces:
a ``CallEvent`` row of (kind, step, text, detail JSON), with each kind's detail
keys exactly as its producer wrote them, so old rows and journals read the same.

A field marked ``_opt`` is left out of the stored detail while it holds its
default (today's producers only write it in some cases); every other field is
always written. Detail keys a class does not know are kept in ``extra`` and
written back, so decoding and re-storing a row never loses anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "AMI_PREFIX", "AgentCalled", "AgentComplete", "AgentConnect", "AmiQueueEvent", "Callback",
    "Conference", "End", "Error", "Event", "FollowUpBooked", "FollowUpCall", "Hangup", "History",
    "Input", "Missed", "NoInput", "NoMatch", "Other", "Override", "Profile", "Prompt",
    "ProtocolAnswer", "QueueCallerAbandon", "QueueCallerJoin", "QueueResult", "RedFlag",
    "Route", "Schedule", "SetVars", "Start", "Step", "Stored", "Subflow", "Survey", "Triage",
    "Turn", "Verify", "VoiceCue",
    "ami_event", "decode", "decode_flat",
]

AMI_PREFIX = "ami:"


class Stored(NamedTuple):
    """An event as the recorder writes it: the columns of a ``CallEvent`` row."""

    kind: str
    step: str
    text: str
    detail: dict[str, Any]


def _opt(default: Any = None) -> Any:
    """A detail key today's producers write only sometimes: omitted while at its default."""
    return field(default=default, metadata={"omit_default": True})


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


_COLUMNS = ("step", "text", "extra")


@dataclass(frozen=True, kw_only=True)
class Event:
    """What happened on a call. ``step``: the flow step (or queue) it happened at;
    ``text``: the words column (prompts, what the caller said, errors), empty for
    most kinds."""

    kind: ClassVar[str] = ""
    step: str = ""
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def stored(self) -> Stored:
        """(kind, step, text, detail) exactly as the untyped producers wrote them."""
        detail: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _COLUMNS:
                continue
            value = getattr(self, f.name)
            if f.metadata.get("omit_default") and value == _default(f):
                continue
            detail[f.name] = value
        detail.update(self.extra)
        return Stored(self.kind, self.step, self.text, detail)

    def flat(self) -> dict[str, Any]:
        """``kind``, ``step``, ``text`` (when not empty) and the detail side by side: the
        JSON lines of ``ivr simulate --json`` (``decode_flat`` reads it back)."""
        kind, step, text, detail = self.stored()
        return {"kind": kind, "step": step, **({"text": text} if text else {}), **detail}

    def describe(self) -> str | None:
        """The line ``ivr simulate`` prints for this event; None: not printed."""
        return None

    @classmethod
    def from_stored(cls, step: str, text: str, detail: dict[str, Any]) -> Event:
        """Missing keys take the field defaults; unknown keys go to ``extra``."""
        names = {f.name for f in dataclasses.fields(cls)} - set(_COLUMNS)
        known = {k: v for k, v in detail.items() if k in names}
        extra = {k: v for k, v in detail.items() if k not in names}
        return cls(step=step or "", text=text or "", extra=extra, **known)


# --- the call's frame (recorder, engine) --------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Start(Event):
    """The record was opened (recorder)."""

    kind: ClassVar[str] = "start"
    channel: str = ""
    # the call row's columns, for live listeners (ivr/live/board.py); the number masked
    caller_masked: str = _opt("")
    flow: str = _opt("")
    language: str = _opt("")


@dataclass(frozen=True, kw_only=True)
class End(Event):
    """The record was closed; ``seconds`` is None while the database is away."""

    kind: ClassVar[str] = "end"
    outcome: str = ""
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class Hangup(Event):
    """The caller hung up (text: "caller hung up")."""

    kind: ClassVar[str] = "hangup"


@dataclass(frozen=True, kw_only=True)
class Override(Event):
    """The global emergency switch sent the call to the emergency team."""

    kind: ClassVar[str] = "override"


@dataclass(frozen=True, kw_only=True)
class Error(Event):
    """A step failed (text: the exception); the flow's on_error takes over."""

    kind: ClassVar[str] = "error"

    def describe(self) -> str | None:
        return f"    ERROR: {self.text}"


@dataclass(frozen=True, kw_only=True)
class History(Event):
    """What the caller told the line before; ``summary`` only from the engine."""

    kind: ClassVar[str] = "history"
    calls: int = 0
    open_followups: int = 0
    summary: str | None = _opt()


@dataclass(frozen=True, kw_only=True)
class Profile(Event):
    """Caller profiles applied at the start (slower speech, longer timeouts)."""

    kind: ClassVar[str] = "profile"
    applied: list[str] = field(default_factory=list)
    speech_rate: str | None = None
    timeout: float | None = None

    def describe(self) -> str | None:
        return f"    caller profile: {self.applied}"


# --- the flow's steps -------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Step(Event):
    """A step starts (``type``: the step type, ``flow``: the flow it belongs to)."""

    kind: ClassVar[str] = "step"
    type: str = ""
    flow: str = ""

    def describe(self) -> str | None:
        return f"[{self.flow}] {self.step} ({self.type})"


@dataclass(frozen=True, kw_only=True)
class Prompt(Event):
    """The line speaks (text) or plays a sound file (``sound``)."""

    kind: ClassVar[str] = "prompt"
    prompt: str | None = _opt()
    lang: str | None = _opt()
    sound: str | None = _opt()

    def describe(self) -> str | None:
        return f"    says: {self.text or f'<sound {self.sound}>'}"


@dataclass(frozen=True, kw_only=True)
class Input(Event):
    """Keys pressed (or a menu answered by voice: ``said``, with the option's ``goto``)."""

    kind: ClassVar[str] = "input"
    dtmf: str = ""
    said: str | None = _opt()
    barge_in: bool | None = _opt()
    goto: str | None = _opt()
    emergency_key: bool = _opt(False)

    def describe(self) -> str | None:
        return f"    caller pressed {self.dtmf}"


@dataclass(frozen=True, kw_only=True)
class Turn(Event):
    """What the caller said (text), how sure the recogniser was, how urgent the voice."""

    kind: ClassVar[str] = "turn"
    confidence: float | None = None
    barged_in: bool = False
    speech_ms: int | None = None
    acoustic: float | None = _opt()
    acoustic_drivers: list[str] | None = _opt()  # noqa: RUF009  # _opt is a field()
    # the Turn row has the column; no producer measures it yet
    listen_ms: int | None = _opt()

    def describe(self) -> str | None:
        return f"    caller said: {self.text!r}"


@dataclass(frozen=True, kw_only=True)
class Missed(Event):
    """A listening attempt with no usable answer (``dtmf``: the key or words, if any)."""

    attempt: int = 0
    dtmf: str | None = _opt()

    def describe(self) -> str | None:
        return f"    {self.kind.replace('_', ' ')} (attempt {self.attempt})"


@dataclass(frozen=True, kw_only=True)
class NoInput(Missed):
    kind: ClassVar[str] = "no_input"


@dataclass(frozen=True, kw_only=True)
class NoMatch(Missed):
    kind: ClassVar[str] = "no_match"


@dataclass(frozen=True, kw_only=True)
class Triage(Event):
    """A triage decision on what the caller said (text); the fields of ``TriageDecision``."""

    kind: ClassVar[str] = "triage"
    lang: str = ""
    urgency: int | None = None
    department: str = ""
    queue_priority: int = 0
    reasons: list[str] = field(default_factory=list)
    crisis: bool = False
    ask_safety: bool = False
    rules_version: int | None = None  # None: not in the row (hand-made events)
    symptoms: list[str] = field(default_factory=list)

    @classmethod
    def from_decision(cls, step: str, text: str, lang: str, decision: Any) -> Triage:
        """From an ``ivr.triage.decision.TriageDecision``."""
        return cls(step=step, text=text, lang=lang, **decision.as_dict())

    def describe(self) -> str | None:
        return (f"    triage: urgency {self.urgency}, {self.department}, "
                f"priority {self.queue_priority}: {'; '.join(self.reasons)}")


@dataclass(frozen=True, kw_only=True)
class RedFlag(Event):
    """The red-flag screen heard danger in an answer (``text``) and took the call to
    the emergency or crisis ``lane``, whatever the step was waiting for."""

    kind: ClassVar[str] = "red_flag"
    lane: str = ""
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"    RED FLAG heard, to the {self.lane} team: {'; '.join(self.reasons)}"


@dataclass(frozen=True, kw_only=True)
class ProtocolAnswer(Event):
    """An answer to a protocol question (triage_protocols.yaml) at a triage step: ``answer``
    yes, no or unsure (silence and the unrecognised are unsure, and count as yes);
    ``raised_to`` the level it raised the decision to, None when it changed nothing;
    ``text`` the words, ``dtmf`` the key if one answered."""

    kind: ClassVar[str] = "protocol_answer"
    protocol: str = ""
    version: int = 0
    question: str = ""
    answer: str = ""
    raised_to: int | None = None
    dtmf: str | None = _opt()

    def describe(self) -> str | None:
        raised = f": raised to {self.raised_to}" if self.raised_to else ""
        return f"    protocol {self.protocol} {self.question}: {self.answer}{raised}"


@dataclass(frozen=True, kw_only=True)
class Answer(Event):
    """The knowledge base at an ``answer`` step (``text``: the caller's words):
    ``outcome`` spoken (``entry`` said, as id@version), asked_person or silence (after an
    entry: a person takes the call), no_entry, not_confirmed (not what the caller
    asked), clinical (the words were a complaint: to a clinician, not answered)."""

    kind: ClassVar[str] = "answer"
    entry: str = ""
    outcome: str = ""
    score: float | None = _opt()

    def describe(self) -> str | None:
        return f"    knowledge base: {self.outcome} {self.entry}".rstrip()


@dataclass(frozen=True, kw_only=True)
class Booking(Event):
    """A ``book`` step (issue 15.3): ``outcome`` booked | changed | cancelled | kept |
    taken (someone else was first: the next slots are offered) | none_free | no_booking
    | asked_person | no_choice | no_department | error (``text``: why); the booking and
    slot ids and the slot's start (ISO 8601, UTC) when there is one."""

    kind: ClassVar[str] = "booking"
    outcome: str = ""
    department: str = ""
    booking_id: int | None = _opt()
    slot_id: int | None = _opt()
    starts_at: str | None = _opt()

    def describe(self) -> str | None:
        what = f" booking {self.booking_id}" if self.booking_id is not None else ""
        return f"    appointment: {self.outcome} {self.department}{what}".rstrip()


@dataclass(frozen=True, kw_only=True)
class Route(Event):
    """The call goes to people: a queue (step: the queue) or an extension (step "")."""

    kind: ClassVar[str] = "route"
    extension: str | None = _opt()
    queue: str | None = _opt()
    priority: int | None = _opt()
    summary: str = ""
    escalation: bool | None = _opt()

    def describe(self) -> str | None:
        return f"    -> queue {self.queue} priority {self.priority}: {self.summary}"


@dataclass(frozen=True, kw_only=True)
class QueueResult(Event):
    """How a queue attempt ended (``status``: answered, unavailable...)."""

    kind: ClassVar[str] = "queue"
    queue: str = ""
    priority: int = 0
    status: str = ""
    agent: str | None = None
    # read into the QueueResult row; no producer writes it (AgentConnect's holdtime does)
    hold_seconds: int | None = _opt()

    def describe(self) -> str | None:
        return f"    queue result: {self.status} {self.agent or ''}".rstrip()


@dataclass(frozen=True, kw_only=True)
class Callback(Event):
    """A call-back offer: declined (``dtmf``: the key) or accepted (``queue``, ``number``)."""

    kind: ClassVar[str] = "callback"
    accepted: bool = False
    dtmf: str | None = _opt()
    queue: str | None = _opt()
    number: str | None = _opt()

    def describe(self) -> str | None:
        return f"    call-back {'accepted' if self.accepted else 'declined'}"


@dataclass(frozen=True, kw_only=True)
class Survey(Event):
    """Scores per question (None: no valid score), how each was given, each scale."""

    kind: ClassVar[str] = "survey"
    answers: dict[str, int | None] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    scales: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str | None:
        return f"    survey answers: {self.answers}"


@dataclass(frozen=True, kw_only=True)
class Schedule(Event):
    """Opening hours checked (``at``: the local time, ISO 8601)."""

    kind: ClassVar[str] = "schedule"
    open: bool = False
    at: str = ""

    def describe(self) -> str | None:
        return f"    {'open' if self.open else 'closed'} at {self.at}"


@dataclass(frozen=True, kw_only=True)
class Subflow(Event):
    kind: ClassVar[str] = "subflow"
    flow: str = ""
    version: str = ""

    def describe(self) -> str | None:
        return f"    continues in flow {self.flow}"


@dataclass(frozen=True, kw_only=True)
class SetVars(Event):
    """Call variables set; stored with '.' in names as '_' (``triage.x`` -> ``triage_x``)."""

    kind: ClassVar[str] = "set"
    values: dict[str, Any] = field(default_factory=dict)

    def stored(self) -> Stored:
        detail = {k.replace(".", "_"): v for k, v in self.values.items()}
        return Stored(self.kind, self.step, self.text, detail)

    @classmethod
    def from_stored(cls, step: str, text: str, detail: dict[str, Any]) -> Event:
        return cls(step=step or "", text=text or "", values=dict(detail))

    def describe(self) -> str | None:
        return "    set " + ", ".join(f"{k}={v}" for k, v in self.stored().detail.items())


@dataclass(frozen=True, kw_only=True)
class Verify(Event):
    kind: ClassVar[str] = "verify"
    verified: bool = False
    attempt: int = 0


@dataclass(frozen=True, kw_only=True)
class ResultsRead(Event):
    """A ``results_status`` step (issue 15.4): ``read`` lists what was said, each as
    kind@date:status (never a value); ``outcome`` read | none (nothing on record) |
    unidentified (no registry row for the verified caller) | unavailable (database)."""

    kind: ClassVar[str] = "results_status"
    read: list[str] = field(default_factory=list)
    outcome: str = ""

    def describe(self) -> str | None:
        return f"    results status: {self.outcome} {', '.join(self.read)}".rstrip()


@dataclass(frozen=True, kw_only=True)
class NoticesTold(Event):
    """A ``notices`` step (issue 15.5) told the caller of appointment changes the hospital
    made: ``told`` as kind:booking id (cancelled:12, moved:14)."""

    kind: ClassVar[str] = "notices"
    told: list[str] = field(default_factory=list)

    def describe(self) -> str | None:
        return f"    notices told: {', '.join(self.told)}"


@dataclass(frozen=True, kw_only=True)
class FollowUpBooked(Event):
    """A flow step opened a follow-up (``matter``: its kind, ``after``: when)."""

    kind: ClassVar[str] = "followup"
    matter: str = ""
    after: str = ""
    flow: str = ""
    followup_id: str = ""


@dataclass(frozen=True, kw_only=True)
class FollowUpCall(Event):
    """This (outbound) call is an attempt at a follow-up; same kind, another shape."""

    kind: ClassVar[str] = "followup"
    followup_id: str = ""
    followup_kind: str = ""
    attempt: int = 0
    flow: str = ""
    direction: str = "outbound"


# --- Asterisk queue events (AMI), kind "ami:<Event>" ------------------------------------

@dataclass(frozen=True, kw_only=True)
class AmiQueueEvent(Event):
    """A queue event from AMI; only the values Asterisk sent are stored."""

    queue: str | None = _opt()
    interface: str | None = _opt()
    member: str | None = _opt()
    holdtime: str | int | None = _opt()


@dataclass(frozen=True, kw_only=True)
class AgentCalled(AmiQueueEvent):
    kind: ClassVar[str] = "ami:AgentCalled"


@dataclass(frozen=True, kw_only=True)
class AgentConnect(AmiQueueEvent):
    kind: ClassVar[str] = "ami:AgentConnect"


@dataclass(frozen=True, kw_only=True)
class AgentComplete(AmiQueueEvent):
    kind: ClassVar[str] = "ami:AgentComplete"


@dataclass(frozen=True, kw_only=True)
class QueueCallerAbandon(AmiQueueEvent):
    kind: ClassVar[str] = "ami:QueueCallerAbandon"


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoin(AmiQueueEvent):
    kind: ClassVar[str] = "ami:QueueCallerJoin"


# --- during the agent's call (ivr/triage/voice_watch.py) ----------------------------------

@dataclass(frozen=True, kw_only=True)
class VoiceCue(Event):
    """The caller's voice after the bridge, scored against their own start: ``score`` of
    the latest window, ``baseline`` the score of their first seconds, ``rising`` when it
    is clearly above (the console shows "caller sounds more distressed"; nothing acts on
    it). ``drivers``: the features behind the score. Recorded when ``rising`` changes."""

    kind: ClassVar[str] = "voice_cue"
    score: float = 0.0
    baseline: float = 0.0
    rising: bool = False
    drivers: list[str] = field(default_factory=list)

    def describe(self) -> str | None:
        trend = "rising" if self.rising else "settled"
        return f"    voice cue: {trend}, score {self.score:.2f} (baseline {self.baseline:.2f})"


# --- the emergency room (ivr/emergency/) ------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Conference(Event):
    """A step of the emergency room on this call (dialplan UserEvent IVRConference):
    ``state`` requested | caller_joined | team_ringing | agent_joined | team_joined |
    agent_left | team_left | caller_waiting | team_unanswered | fallback | ended |
    caller_left; ``by`` handset | console (who asked), ``mode`` conference | transfer;
    ``agent`` / ``member``: the agent's and the team member's channels."""

    kind: ClassVar[str] = "conference"
    state: str = ""
    room: str = ""
    by: str | None = _opt()
    mode: str | None = _opt()
    agent: str | None = _opt()
    member: str | None = _opt()

    def describe(self) -> str | None:
        return f"    emergency room: {self.state}"


# --- anything else ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Other(Event):
    """A kind this module does not know (newer code, an AMI event nobody typed yet):
    kept whole, so it stores back exactly as read."""

    kind: str = ""  # type: ignore[misc]  # per instance here, a ClassVar elsewhere
    detail: dict[str, Any] = field(default_factory=dict)

    def stored(self) -> Stored:
        return Stored(self.kind, self.step, self.text, {**self.detail, **self.extra})

    @classmethod
    def from_stored(cls, step: str, text: str, detail: dict[str, Any]) -> Event:
        return cls(step=step or "", text=text or "", detail=dict(detail))


KINDS: dict[str, type[Event]] = {c.kind: c for c in (
    Start, End, Hangup, Override, Error, History, Profile, Step, Prompt, Input, Turn,
    NoInput, NoMatch, Triage, RedFlag, ProtocolAnswer, Answer, Booking, Route, QueueResult,
    Callback,
    Survey, Schedule, Subflow, SetVars, Verify, FollowUpBooked, AgentCalled, AgentConnect,
    AgentComplete, QueueCallerAbandon, QueueCallerJoin, VoiceCue, Conference,
    ResultsRead, NoticesTold)}

# keys only the outbound shape of "followup" writes
_FOLLOWUP_CALL_KEYS = frozenset({"followup_kind", "direction", "attempt"})


def decode(kind: str, step: str = "", text: str = "",
           detail: dict[str, Any] | None = None) -> Event:
    """The typed event for a stored (kind, step, text, detail); never raises on
    unknown kinds (``Other``) or missing keys (defaults)."""
    detail = detail if isinstance(detail, dict) else {}
    cls = KINDS.get(kind)
    if kind == FollowUpBooked.kind and _FOLLOWUP_CALL_KEYS & detail.keys():
        cls = FollowUpCall
    if cls is None:
        return Other(kind=kind, step=step or "", text=text or "", detail=dict(detail))
    try:
        return cls.from_stored(step, text, detail)
    except TypeError:  # a field given a value its constructor cannot take: keep it whole
        return Other(kind=kind, step=step or "", text=text or "", detail=dict(detail))


def decode_flat(flat: dict[str, Any]) -> Event:
    """From the flat form (``Event.flat()``, ``ivr simulate --json``): ``kind``, ``step``,
    ``text`` (when not empty) and the detail keys side by side."""
    rest = {k: v for k, v in flat.items() if k not in ("kind", "step", "text")}
    return decode(str(flat.get("kind", "")), str(flat.get("step") or ""),
                  str(flat.get("text") or ""), rest)


def ami_event(name: str, **detail: Any) -> Event:
    """An AMI queue event by its Asterisk name (``AgentConnect``); None values dropped."""
    clean = {k: v for k, v in detail.items() if v is not None}
    return decode(AMI_PREFIX + name, "", "", clean)

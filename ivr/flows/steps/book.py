"""``book``: a verified caller books, changes or cancels an appointment themselves.

Booking (``manage: false``): the next free slots of the department (``department``,
or the variable ``from`` names, e.g. a menu's ``set``) are read out at the caller's
rate ("Press 1 for Thursday 3 December at 9:30 AM with Dr Wang. ..."); a key (1-3,
or "first", "第一个") books that slot, 0 is a person. Someone else took it a moment
before: "That time has just been taken" and the next free times. Managing
(``manage: true``): the caller's next appointment is read; 1 moves it to one of the
free slots of its department, 2 cancels it (after a yes), 0 is a person.

A booking or a move is confirmed with the time and place, then what to bring and how
to prepare, from the knowledge base (``bring`` and the department's ``preparation``
entry), read as the entries say it and never more. Every failure goes to ``person``
(the appointments desk): no free slot, no booking found, silence, a key that means
nothing, the schedule unreachable, or an entry that may not be spoken today (the desk
tells them instead). Each outcome is recorded (``ivr.events.Booking``).

The schedule is the records database's own tables (``ivr.schedule.tables``) unless the
recorder carries another :class:`ivr.schedule.Schedule` as ``schedule``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from pydantic import ConfigDict, Field, model_validator

from ivr import events as ev
from ivr.departments import department_name
from ivr.flows.context import fill
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import VAR, Edge, PromptId, Result, StepBase, StepId
from ivr.schedule import (
    Booking,
    PatientRef,
    Schedule,
    ScheduleError,
    Slot,
    SlotTaken,
    number_context,
)
from ivr.schedule.spoken import when
from ivr.store.database import is_memory
from ivr.triage.keywords import phrase_key

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

T = TypeVar("T")
MAX_OFFERED = 3
MAX_TAKEN = 3  # "just taken" this often in one call: a person sorts it out
PERSON = ("person", "operator", "someone", "human", "agent", "desk", "人工", "转人工",
          "工作人员", "接线员")
ORDINALS = {  # what a caller says for the offered slots, by key
    "1": ("first", "one", "the first", "第一个", "第一", "一"),
    "2": ("second", "two", "the second", "第二个", "第二", "二"),
    "3": ("third", "three", "the third", "第三个", "第三", "三"),
}
MANAGE = {"1": ("change", "move", "reschedule", "改约", "更改", "改时间"),
          "2": ("cancel", "取消")}
YES_NO = {"1": ("yes", "yes please", "cancel it", "是", "是的", "对", "确认", "取消"),
          "2": ("no", "keep it", "不", "不是", "保留", "不取消")}


def _said(words: str, phrases: tuple[str, ...]) -> bool:
    said = phrase_key(words)
    return any(phrase_key(p) and phrase_key(p) == said for p in phrases)


def _choice(reply: Reply, keys: dict[str, tuple[str, ...]]) -> str | None:
    """The key the reply means: pressed, or said as one of its phrases; "0" a person."""
    if reply.key:
        return reply.key if reply.key in keys or reply.key == "0" else None
    if not reply.words:
        return None
    if any(phrase_key(p) in phrase_key(reply.words) for p in PERSON):
        return "0"
    return next((k for k, phrases in keys.items() if _said(reply.words, phrases)), None)


class Step(StepBase):
    """Book, move or cancel the verified caller's appointment; a person on any failure."""

    type: Literal["book"]
    manage: bool = Field(False, description=(
        "false: book a new appointment; true: change or cancel the caller's next one."))
    department: str | None = Field(None, description="The department booked (manage: "
                                   "the booking's own).")
    from_: str | None = Field(None, alias="from", pattern=VAR, description=(
        "Variable holding the department (a menu option's `set`), instead of `department`."))
    offer: PromptId = Field("book_offer", description="Before the slots: {department}.")
    slot: PromptId = Field("book_slot", description="Per slot: {key}, {when}, {clinician}, "
                           "{clinic}.")
    choose: PromptId = Field("book_choose", description="After the slots (0 for a person).")
    taken: PromptId = Field("book_taken", description="The slot was just booked by another.")
    none_free: PromptId = Field("book_none_free", description="No free slot: {department}.")
    booked: PromptId = Field("book_confirmed", description="Confirmation: {when}, {clinic}, "
                             "{clinician}, {department}.")
    current: PromptId = Field("book_current", description="manage: the caller's next "
                              "appointment ({when}, {department}); 1 change, 2 cancel, 0.")
    no_booking: PromptId = Field("book_no_booking", description="manage: none found.")
    cancel_confirm: PromptId = Field("book_cancel_confirm", description="1 cancel, 2 keep.")
    cancelled: PromptId = Field("book_cancelled", description="{when} cancelled.")
    kept: PromptId = Field("book_kept", description="Not cancelled after all.")
    prepare_by_person: PromptId = Field("book_prepare_by_person", description=(
        "An entry to read may not be spoken today: the desk tells them how to prepare."))
    bring: str | None = Field("bring_to_appointment", description=(
        "Knowledge base entry read after every booking (what to bring); empty: none."))
    preparation: dict[str, str] = Field(default_factory=dict, description=(
        "department -> knowledge base entry on how to prepare (read after the bring entry)"))
    person: StepId = Field(description="The appointments desk: any failure, 0, silence.")
    next: StepId = Field(description="Booked, moved, cancelled or kept: the call goes on.")
    model_config = ConfigDict(title="Book", populate_by_name=True, json_schema_extra={
        "examples": [{"type": "book", "department": "gastroenterology",
                      "preparation": {"gastroenterology": "colonoscopy_preparation"},
                      "person": "to_desk", "next": "goodbye"}]})
    prompt_fields: ClassVar[tuple[str, ...]] = (
        "offer", "slot", "choose", "taken", "none_free", "booked", "current", "no_booking",
        "cancel_confirm", "cancelled", "kept", "prepare_by_person")
    drawn_as: ClassVar[str] = "decision"

    @model_validator(mode="after")
    def _where(self) -> Step:
        if not self.manage and not (self.department or self.from_):
            raise ValueError("a booking step needs 'department' or 'from'")
        return self

    def exits(self) -> list[Edge]:
        return [Edge("done", self.next, ("next",)), Edge("a person", self.person, ("person",))]

    def answer_keys(self) -> list[tuple[str, tuple[str | int, ...]]]:
        return [(k, ("choose",)) for k in ("0", "1", "2", "3")]

    def label(self, prompts: Mapping[str, str]) -> str:
        return "changes or cancels a booking" if self.manage else (
            f"books {self.department or '{' + str(self.from_) + '}'}")

    # --- run ------------------------------------------------------------------------
    async def run(self, ctx: StepContext) -> Result:
        if not ctx.vars.get("caller.verified"):  # nothing personal before verification
            raise RuntimeError("book step reached without verification")
        schedule = _schedule(ctx)
        try:
            if self.manage:
                return await self._manage(ctx, schedule)
            department = self.department or str(ctx.vars.get(self.from_ or "", "") or "")
            if not department:
                await self._record(ctx, "no_department")
                return self.person, None
            return await self._offer(ctx, schedule, department, None)
        except ScheduleError as exc:  # unreachable, unknown booking...: the desk
            await ctx.record(ev.Booking(step=ctx.sid, outcome="error", text=str(exc)[:200]))
            return self.person, None

    async def _record(self, ctx: StepContext, outcome: str, booking: Booking | None = None,
                      department: str = "") -> None:
        slot = booking.slot if booking else None
        await ctx.record(ev.Booking(
            step=ctx.sid, outcome=outcome, department=slot.department if slot else department,
            booking_id=booking.id if booking else None, slot_id=slot.id if slot else None,
            starts_at=slot.starts_at.isoformat() if slot else None))

    async def _offer(self, ctx: StepContext, schedule: Schedule, department: str,
                     moving: Booking | None) -> Result:
        """Offer the next free slots; book (or move ``moving`` to) the one chosen."""
        for taken in range(MAX_TAKEN + 1):
            free = await _call(ctx, schedule.free_slots, department, ctx.state.now(),
                                           MAX_OFFERED)
            if not free:
                await self._record(ctx, "none_free", department=department)
                await _say(ctx, self.none_free,
                           {"department": department_name(department, ctx.lang)})
                return self.person, None
            if taken == MAX_TAKEN:
                break
            picked = await self._pick(ctx, free, department, again=taken > 0)
            if not isinstance(picked, Slot):
                return picked
            try:
                booking = await _call(ctx, self._take, ctx, schedule, picked, moving)
            except SlotTaken:
                await self._record(ctx, "taken", department=department)
                continue
            await self._record(ctx, "changed" if moving else "booked", booking)
            return await self._confirm(ctx, booking)
        return self.person, None

    def _take(self, ctx: StepContext, schedule: Schedule, slot: Slot,
              moving: Booking | None) -> Booking:
        state = ctx.state
        if moving is not None:
            return schedule.change(moving.id, slot.id, "phone", state.call_id, state.now())
        return schedule.book(slot.id, _patient(ctx), "phone", state.call_id, state.now())

    async def _pick(self, ctx: StepContext, free: list[Slot], department: str,
                    again: bool) -> Slot | Result:
        values = {"department": department_name(department, ctx.lang)}
        lines = [fill(ctx.text(self.taken if again else self.offer), values)]
        for i, slot in enumerate(free, 1):
            lines.append(fill(ctx.text(self.slot), {
                "key": i, "when": when(slot.starts_at, ctx.lang), "clinician": slot.clinician,
                "clinic": slot.clinic}))
        lines.append(ctx.text(self.choose))
        keys = {k: ORDINALS[k] for k in list(ORDINALS)[:len(free)]}
        got = await collect(ctx, Listen(self.choose, text=" ".join(lines), max_seconds=5,
                                        phrases=_phrases(keys)),
                            lambda r: _choice(r, keys), retries=ctx.state.retries(None))
        if got.diverted:
            return got.diverted
        if got.value is None or got.value == "0":
            await self._record(ctx, "asked_person" if got.value else "no_choice",
                               department=department)
            return self.person, None
        return free[int(got.value) - 1]

    async def _confirm(self, ctx: StepContext, booking: Booking) -> Result:
        slot = booking.slot
        await _say(ctx, self.booked, {
            "when": when(slot.starts_at, ctx.lang), "clinic": slot.clinic,
            "clinician": slot.clinician,
            "department": department_name(slot.department, ctx.lang)})
        ids = [i for i in (self.bring, self.preparation.get(slot.department)) if i]
        texts = await asyncio.to_thread(_entries, ids, ctx.lang)
        for ident in ids:
            if not texts.get(ident):  # expired, withdrawn, missing: never guessed at
                await ctx.speak(self.prepare_by_person)
                return self.person, None
        for ident in ids:
            await ctx.record(ev.Prompt(step=ctx.sid, text=texts[ident], prompt=f"kb:{ident}",
                                       lang=ctx.lang))
            await ctx.channel.say(texts[ident], ctx.lang, ctx.state.rate)
        return self.next, None

    async def _manage(self, ctx: StepContext, schedule: Schedule) -> Result:
        mine = await _call(ctx, schedule.bookings_for, _patient(ctx), ctx.state.now())
        if not mine:
            await self._record(ctx, "no_booking")
            await ctx.speak(self.no_booking)
            return self.person, None
        booking = mine[0]
        slot = booking.slot
        values = {"when": when(slot.starts_at, ctx.lang),
                  "department": department_name(slot.department, ctx.lang),
                  "clinic": slot.clinic, "clinician": slot.clinician}
        got = await collect(ctx, Listen(self.current, text=fill(ctx.text(self.current), values),
                                        phrases=_phrases(MANAGE), max_seconds=5),
                            lambda r: _choice(r, MANAGE), retries=ctx.state.retries(None))
        if got.diverted:
            return got.diverted
        if got.value == "1":
            return await self._offer(ctx, schedule, slot.department, booking)
        if got.value != "2":
            await self._record(ctx, "asked_person" if got.value else "no_choice", booking)
            return self.person, None
        sure = await collect(ctx, Listen(self.cancel_confirm, phrases=_phrases(YES_NO),
                                         max_seconds=4),
                             lambda r: _choice(r, YES_NO), retries=ctx.state.retries(None))
        if sure.diverted:
            return sure.diverted
        if sure.value == "2":
            await self._record(ctx, "kept", booking)
            await ctx.speak(self.kept)
            return self.next, None
        if sure.value != "1":
            await self._record(ctx, "asked_person" if sure.value else "no_choice", booking)
            return self.person, None
        done = await _call(ctx, schedule.cancel, booking.id, "phone", ctx.state.now())
        await self._record(ctx, "cancelled", done)
        await _say(ctx, self.cancelled, values)
        return self.next, None


async def _say(ctx: StepContext, prompt: str, values: dict[str, object]) -> None:
    """A prompt with its blanks filled, recorded under its own id."""
    text = fill(ctx.text(prompt), values)
    await ctx.record(ev.Prompt(step=ctx.sid, text=text, prompt=prompt, lang=ctx.lang))
    await ctx.channel.say(text, ctx.lang, ctx.state.rate)


async def _call(ctx: StepContext, fn: Callable[..., T], *args: object) -> T:
    """``fn`` off the event loop. An in-memory database (the simulator) is one connection
    shared with the recorder's writer thread: its queued writes go first, so the two
    never interleave in one transaction."""
    if is_memory(ctx.recorder.engine.url):
        await ctx.recorder.flush()
    return await asyncio.to_thread(fn, *args)


def _phrases(keys: dict[str, tuple[str, ...]]) -> list[str]:
    return [p for phrases in keys.values() for p in phrases] + list(PERSON)


def _patient(ctx: StepContext) -> PatientRef:
    """The verified caller as the records know them (keyed phone hash, masked number,
    the registry row the verify step found, when it says), with the number sealed, so
    the hospital can call them if it cancels or moves the appointment (ivr/notices/)."""
    privacy = ctx.recorder.privacy
    number = ctx.channel.caller_number
    phone = privacy.caller_hash(number)
    row = ctx.vars.get("caller.patient")
    sealed = privacy.seal_number(number, number_context(phone)) if phone else None
    return PatientRef(phone, privacy.display_number(number),
                      row if isinstance(row, int) else None, sealed)


def _schedule(ctx: StepContext) -> Schedule:
    plugged = getattr(ctx.recorder, "schedule", None)
    if plugged is not None:
        return plugged  # type: ignore[no-any-return]
    from ivr.schedule.tables import TableSchedule

    return TableSchedule(ctx.recorder.engine)


def _entries(ids: list[str], lang: str) -> dict[str, str]:
    """What each knowledge base entry says in ``lang`` today; empty when it may not be
    spoken (expired, withdrawn, missing, not in the language)."""
    from ivr.kb import live

    speakable = {e.id: e for e in live.current().index().entries}
    return {i: speakable[i].spoken(lang) if i in speakable else "" for i in ids}

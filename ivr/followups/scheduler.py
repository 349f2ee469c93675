"""Calls patients back: every poll, due follow-ups inside the calling window are claimed
and dialled through AMI Originate, a few at a time.

How one call goes (see asterisk_conf/extensions.conf)::

    Originate Local/fu<id>@ivr-outbound-dial (async; FOLLOWUP_ID, FOLLOWUP_FLOW,
                                              FOLLOWUP_NUMBER)
      ;2 leg  ivr-outbound-dial: Dial(trunk/${FOLLOWUP_NUMBER})  -> the patient's phone
      ;1 leg  once answered: ivr-outbound,s -> AGI(agi://engine/outbound?followup=<id>)
              (FOLLOWUP_ENGINE: this engine first; if it is gone, another one)

- Not answered, busy, congestion: AMI's ``OriginateResponse`` (``Response: Failure``,
  ``Reason``) -> the attempt is recorded here (``no_answer``, ``busy``, ``failed``) and
  the follow-up is called again after a pause (``retry_after``).
- Answered: the ``outbound`` AGI route runs the follow-up's flow and records the
  outcome (:mod:`ivr.followups.outbound`); it tells this scheduler when the call starts
  and ends, so the slot stays taken for the whole conversation.
- Answered but the engine never took the call: the dialplan has sent the patient to
  the operator; recorded as ``operator_fallback`` (listed for staff).

The number is unsealed only for the Originate (a channel variable, never part of a
channel name, which would reach call records and logs), kept in memory for the call,
and never logged: logs show the masked form.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from ivr.followups import outcomes as o
from ivr.followups import store
from ivr.followups.window import CallingWindow, span
from ivr.store.models import FollowUp, utcnow
from ivr.telephony import variables as v

if TYPE_CHECKING:
    from ivr.settings import FollowupSettings
    from ivr.telephony.ami import AmiClient

log = logging.getLogger(__name__)

DIAL_CONTEXT = "ivr-outbound-dial"  # the patient's leg: dials the number (trunk or sim)
OUTBOUND_CONTEXT = "ivr-outbound"  # the engine's leg: the outbound AGI route
OUTBOUND_EXTEN = "s"


@dataclass(frozen=True)
class OutboundCall:
    """One call to place. ``number`` is clear text: for the Originate only."""

    followup_id: str
    number: str = field(repr=False)
    masked: str
    flow: str
    channel_id: str  # Asterisk uniqueid of the engine's leg (AMI ChannelId)
    ring_seconds: float
    caller_id: str = ""
    engine: str = ""  # host:port of the engine placing it: the answered call comes back here

    @property
    def dial_string(self) -> str:
        """The Local channel: named after the follow-up, never after the number."""
        return f"Local/fu{self.followup_id.replace('-', '')[:12]}@{DIAL_CONTEXT}"


Originate = Callable[[OutboundCall], Awaitable[None]]


def dialable(number: str) -> str:
    """Digits only (a leading + kept): nothing else may reach a dial string.

    >>> dialable("+86 138-0013-8000"), dialable("123@evil/ctx")
    ('+8613800138000', '123')
    """
    digits = re.sub(r"\D", "", number.split("@")[0])
    return f"+{digits}" if digits and number.strip().startswith("+") else digits


def ami_originate(ami: AmiClient) -> Originate:
    """The real thing: an asynchronous AMI Originate of the Local channel."""
    async def originate(call: OutboundCall) -> None:
        await ami.originate(
            channel=call.dial_string, context=OUTBOUND_CONTEXT, exten=OUTBOUND_EXTEN,
            caller_id=call.caller_id, channel_id=call.channel_id,
            timeout_ms=int(call.ring_seconds * 1000),
            variables={v.FOLLOWUP_ID: call.followup_id, v.FOLLOWUP_FLOW: call.flow,
                       v.FOLLOWUP_NUMBER: call.number, v.FOLLOWUP_ENGINE: call.engine})
    return originate


@dataclass
class _Live:
    """A call this scheduler placed and still follows."""

    call: OutboundCall
    response: asyncio.Future[tuple[bool, str]]  # OriginateResponse: (success, reason)
    in_call: asyncio.Event = field(default_factory=asyncio.Event)  # the route took it
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the route finished


class FollowupScheduler:
    """Polls for due follow-ups and places their calls. Plugs into the running loop:
    :meth:`start` / :meth:`stop`, or :meth:`poll` once (tests)."""

    # Seconds to wait for Asterisk's verdict beyond the ring time, and for the AGI route
    # to start once the patient answered; class attributes so tests can shorten them.
    response_margin = 15.0
    answer_grace = 30.0

    def __init__(self, db: Engine, settings: FollowupSettings, originate: Originate,
                 open_number: Callable[[bytes, str], str], *,
                 clock: Callable[[], datetime] = utcnow,
                 ready: Callable[[], bool] = lambda: True,
                 paused: Callable[[], bool] = lambda: False,
                 engine_address: str = "") -> None:
        self.db = db
        self.settings = settings
        self.originate = originate
        self.open_number = open_number
        self.clock = clock
        self.ready = ready  # e.g. AMI logged in
        self.paused = paused  # e.g. the emergency override is on
        # this engine's FastAGI host:port: with several engines behind one Asterisk, the
        # answered call is handed to the engine that placed it (and follows it)
        self.engine_address = engine_address
        self.window = CallingWindow.build(settings.timezone, settings.hours, settings.holidays)
        self.retry_after = [span(x) for x in settings.retry_after]
        self.lease = span(settings.call_lease)
        self.live: dict[str, _Live] = {}  # follow-up id -> call in progress
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._followers: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="followup-scheduler")

    async def stop(self) -> None:
        """Stop polling. Calls still ringing stay ``calling`` until their lease ends."""
        tasks = [t for t in (self._task, *self._followers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._followers.clear()

    def wake(self) -> None:
        """Poll now rather than at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        s = self.settings
        log.info("follow-up calls: every %s s, at most %d at once, %s %s", s.poll_seconds,
                 s.max_concurrent, s.timezone, s.hours)
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("follow-up poll failed; next try in %s s", s.poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), s.poll_seconds)
            self._wake.clear()

    # --- one poll --------------------------------------------------------------------
    async def poll(self) -> list[str]:
        """Claim and place the calls due now; returns their follow-up ids."""
        now = self.clock()
        # our calls in progress keep their claim; another engine's lapse if it stopped
        await asyncio.to_thread(store.renew, self.db, set(self.live), now, self.lease)
        taken = await asyncio.to_thread(store.expire_leases, self.db, now, self.retry_after,
                                        set(self.live))
        for followup_id in taken:
            log.warning("follow-up %s: its call was never finished (lease ended): "
                        "trying again", followup_id[:8])
        if not self.ready() or self.paused() or not self.window.is_allowed(now):
            return []
        free = self.settings.max_concurrent - len(self.live)
        if free <= 0:
            return []
        placed = []
        # claimed in one transaction: rows another engine claims meanwhile are not ours
        for item in await asyncio.to_thread(store.claim_due, self.db, now, free, self.lease):
            if await self._place(item):
                placed.append(item.id)
        return placed

    async def _place(self, item: FollowUp) -> bool:
        try:
            number = dialable(self.open_number(item.number_sealed, item.id))
        except Exception as exc:  # a key rotated away, a damaged row: a person must call
            log.error("follow-up %s: the number %s cannot be opened (%s): listed for staff",
                      item.id[:8], item.number_masked, type(exc).__name__)
            number = ""
        if not number:
            await self._record(item.id, item.number_masked, o.NUMBER_UNREADABLE)
            return False
        call = OutboundCall(followup_id=item.id, number=number, masked=item.number_masked,
                            flow=item.flow, channel_id=f"fu-{uuid.uuid4()}",
                            ring_seconds=self.settings.ring_seconds,
                            caller_id=self.settings.caller_id, engine=self.engine_address)
        live = _Live(call, asyncio.get_running_loop().create_future())
        self.live[item.id] = live
        log.info("follow-up %s: calling %s (attempt %d of %d, flow %s, channel %s)",
                 item.id[:8], item.number_masked, item.attempts + 1, item.max_attempts,
                 item.flow, call.channel_id)
        try:
            await self.originate(call)
        except Exception as exc:
            self.live.pop(item.id, None)
            log.warning("follow-up %s: the call to %s could not be placed: %s", item.id[:8],
                        item.number_masked, exc)
            await self._record(item.id, item.number_masked, o.FAILED)
            return False
        task = asyncio.create_task(self._follow(live), name=f"followup-{item.id[:8]}")
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)
        return True

    async def _follow(self, live: _Live) -> None:
        call = live.call
        try:
            outcome = await self._answered(live)
            if outcome is None and not live.in_call.is_set():
                try:
                    await asyncio.wait_for(live.in_call.wait(), self.answer_grace)
                except TimeoutError:
                    log.error("follow-up %s: %s answered but the engine never took the call "
                              "(the dialplan sent them to the operator)", call.followup_id[:8],
                              call.masked)
                    outcome = o.OPERATOR_FALLBACK
            if outcome is not None:
                await self._record(call.followup_id, call.masked, outcome)
                return
            await live.ended.wait()  # the outbound route records what the patient chose
        finally:
            self.live.pop(call.followup_id, None)
            self._wake.set()  # a slot is free

    async def _answered(self, live: _Live) -> str | None:
        """None once the patient answered; else the attempt's outcome."""
        started = asyncio.ensure_future(live.in_call.wait())
        try:
            await asyncio.wait({live.response, started},
                               timeout=live.call.ring_seconds + self.response_margin,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
        if live.in_call.is_set():
            return None
        if not live.response.done():
            log.warning("follow-up %s: no word from Asterisk on the call to %s",
                        live.call.followup_id[:8], live.call.masked)
            return o.FAILED
        success, reason = live.response.result()
        return None if success else o.originate_outcome(reason)

    async def _record(self, followup_id: str, masked: str, outcome: str) -> None:
        try:
            item = await asyncio.to_thread(store.record_attempt, self.db, followup_id, outcome,
                                           None, now=self.clock(), retry_after=self.retry_after)
        except Exception:
            log.exception("follow-up %s: could not record outcome %s", followup_id[:8], outcome)
            return
        log.info("follow-up %s: %s (%s); now %s%s", followup_id[:8], outcome, masked,
                 item.status, f", next try {item.next_attempt_at:%Y-%m-%d %H:%M} UTC"
                 if item.status == store.OPEN else "")

    # --- what Asterisk and the outbound route tell us ------------------------------
    def on_originate_response(self, _manager: Any, event: Any) -> None:
        """AMI ``OriginateResponse``: matched on our ChannelId (the Uniqueid)."""
        uniqueid = event.get("Uniqueid", "")
        channel = event.get("Channel", "")
        live = next((c for c in self.live.values() if c.call.channel_id == uniqueid), None)
        if live is None and channel:
            same = [c for c in self.live.values() if channel.startswith(c.call.dial_string)]
            live = same[0] if len(same) == 1 else None
        if live is None or live.response.done():
            return
        live.response.set_result((event.get("Response") == "Success",
                                  str(event.get("Reason", ""))))

    def call_started(self, followup_id: str) -> bool:
        """The outbound route took the call (True if this scheduler placed it)."""
        live = self.live.get(followup_id)
        if live is not None:
            live.in_call.set()
        return live is not None

    def call_ended(self, followup_id: str) -> None:
        live = self.live.get(followup_id)
        if live is not None:
            live.in_call.set()
            live.ended.set()

"""Skills routing: which agent of a queue fits a call best, without making anyone wait.

Asterisk queues order ringing by member penalty, and a caller may narrow the members
rung with ``QUEUE_MIN_PENALTY``/``QUEUE_MAX_PENALTY``; a queue rule (queuerules.conf)
widens that window after some seconds. Penalties are per member, not per call, while a
call's best fit depends on the call (its language, a child caller, a crisis). So:

- every member has its own *seat* as penalty (its place in agents.yaml, 1, 2, ...),
  rendered into queues.conf (static members) or given at an AMI log-in, so a window
  ``[seat, seat]`` names exactly one agent;
- by default every call is *flat*: the queue rule ``ivr-flat`` raises every penalty to
  the same value at once (``QUEUE_RAISE_PENALTY``), so the strategy (rrmemory, ringall)
  works over all members as if there were no penalties;
- when the engine queues a call it looks at the members *free now* (not paused, handset
  not in use): if the free ones do not fit the call equally, it opens a window on the
  best-fitting free ones with the rule ``ivr-prefer``, which drops the window and
  flattens after ``agents.prefer_seconds``. A preferred agent who is busy, paused or
  absent is never waited for (only free ones get a window); one who is free but does
  not answer holds the call until the first ring round that starts after
  ``prefer_seconds`` (app_queue applies a rule between rounds: a round is the queue's
  ``timeout`` plus ``retry``, 15 + 2 s in queues.conf; measured 17 s in the e2e).

Every Queue() attempt sets QUEUE_MIN/MAX/RAISE_PENALTY (:func:`queue_plan`): app_queue
moves only the ones a call set, so without them ``ivr-flat`` would change nothing and
the lowest seat would always ring first. The engine unsets them after Queue(), so the
dialplan's own fallback Queue() calls see every member (by seat, without the rule).

Fit, best first: speaks the caller's language and has the skill the call needs;
language only; skill only; neither. The skill a call needs: ``pediatrics`` in the
pediatrics queue or for a child caller (``caller.age_group``), ``crisis`` in the crisis
queue or for a crisis decision. The emergency queue has no preference: speed first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.agents import Agent, AgentBook, AgentsError

if TYPE_CHECKING:
    from ivr.settings import Settings

log = logging.getLogger(__name__)

# Every member counts as this penalty under a flat rule (above every seat).
FLAT_PENALTY = 1000
# Queue rules in queuerules.conf (asterisk_conf/queuerules.conf).
FLAT_RULE = "ivr-flat"
PREFER_RULE = "ivr-prefer"
CHILD_AGE_GROUPS = frozenset({"young_infant", "infant", "child"})
NO_PREFERENCE_QUEUES = frozenset({"emergency"})
NEITHER = 3  # fit of a member the agents list does not know


@dataclass(frozen=True)
class Routing:
    """What a call's channel needs to route by skill (built once by the engine)."""

    book: AgentBook
    whisper: bool = False  # settings agents.whisper


def skills_routing(settings: Settings) -> Routing | None:
    """The engine's routing from settings; None (every member alike, and a warning)
    when the agents list is unusable: calls still reach people, just not by skill."""
    try:
        book = settings.agent_book()
    except AgentsError as exc:
        log.warning("skills routing off, the agents list is unusable:\n%s", exc)
        return None
    return Routing(book, whisper=settings.agents.whisper)


@dataclass(frozen=True)
class QueueMember:
    """One ``member =>`` line of queues.conf."""

    interface: str
    penalty: int
    name: str

    @property
    def line(self) -> str:
        # interface, penalty, member name, state interface (device state of the handset)
        return f"{self.interface},{self.penalty},{self.name},{self.interface}"


def seat(book: AgentBook, extension: str) -> int:
    """The agent's penalty in every queue: 1 + its place in the list; 0 if unknown."""
    for i, agent in enumerate(book):
        if agent.extension == extension:
            return i + 1
    return 0


def queue_members(book: AgentBook) -> dict[str, list[QueueMember]]:
    """Each queue's static members, in the list's order."""
    out: dict[str, list[QueueMember]] = {}
    for i, agent in enumerate(book):
        for queue in agent.queues:
            out.setdefault(queue, []).append(QueueMember(agent.interface, i + 1, agent.name))
    return out


@dataclass(frozen=True)
class CallNeeds:
    """What a call prefers in an agent."""

    language: str
    skill: str | None = None


def call_needs(queue: str, language: str, variables: Mapping[str, object]) -> CallNeeds | None:
    """The call's preferences in ``queue`` (None: the queue has none, e.g. emergency)."""
    if queue in NO_PREFERENCE_QUEUES:
        return None
    skill = None
    if queue == "pediatrics" or variables.get("caller.age_group") in CHILD_AGE_GROUPS:
        skill = "pediatrics"
    if queue == "crisis" or variables.get("triage.crisis"):
        skill = "crisis"
    return CallNeeds(language, skill)


def fit(agent: Agent | None, needs: CallNeeds) -> int:
    """0 best .. 3: language and skill, language only, skill only, neither."""
    if agent is None:
        return NEITHER
    speaks = needs.language in agent.languages
    skilled = needs.skill is None or needs.skill in agent.skills
    return (0 if speaks else 2) + (0 if skilled else 1)


@dataclass(frozen=True)
class MemberState:
    """A queue member as Asterisk has it at the moment the call joins."""

    interface: str
    penalty: int
    free: bool

    @property
    def extension(self) -> str:
        return self.interface.partition("/")[2]


def preference_window(members: list[MemberState], book: AgentBook,
                      needs: CallNeeds | None) -> tuple[int, int] | None:
    """``(min, max)`` penalties to ring first, or None: ring every member (flat).

    A window only when some free member fits the call better than another free one,
    and only around free best-fitting members: nobody waits for an agent who is not
    there. The window holds no free member that fits worse."""
    if needs is None:
        return None
    free = [m for m in members if m.free]
    fits = {m.interface: fit(book.by_extension(m.extension), needs) for m in free}
    if len(set(fits.values())) < 2:
        return None  # nobody free, or all free ones fit alike: no one to prefer
    best = min(fits.values())
    chosen = sorted(m.penalty for m in free if fits[m.interface] == best)
    worse = [m.penalty for m in free if fits[m.interface] != best]
    lo, hi = chosen[0], chosen[-1]
    if any(lo <= p <= hi for p in worse):
        hi = lo  # the best-fitting ones are not side by side: the first of them
    if lo in worse:
        return None  # shares its penalty with a worse one (log-ins without a seat)
    return lo, hi


@dataclass(frozen=True)
class QueuePlan:
    """How one Queue() attempt is set up: channel variables set before it and the
    queue rule it runs with (Queue()'s ``rule`` argument)."""

    variables: dict[str, str]
    rule: str


def queue_plan(window: tuple[int, int] | None) -> QueuePlan:
    """The variables and rule for a window (or none: every member alike).

    app_queue changes QUEUE_MIN/MAX/RAISE_PENALTY by a rule only when the call set
    them before Queue() (queuerules.conf.sample), so every call sets all three:
    without QUEUE_RAISE_PENALTY the flat rule would change nothing and the lowest
    seat would always ring first. The raise starts at 0 (no member is raised, so the
    window holds its seats; app_queue raises before it checks the window) and the
    rule raises every member to FLAT_PENALTY: at once (flat) or after
    ``agents.prefer_seconds`` (prefer, which also opens the window to all).

    >>> queue_plan(None)
    QueuePlan(variables={'QUEUE_MIN_PENALTY': '0', 'QUEUE_MAX_PENALTY': '1000', \
'QUEUE_RAISE_PENALTY': '0'}, rule='ivr-flat')
    >>> queue_plan((2, 3)).variables['QUEUE_MIN_PENALTY'], queue_plan((2, 3)).rule
    ('2', 'ivr-prefer')
    """
    lo, hi = window if window is not None else (0, FLAT_PENALTY)
    return QueuePlan({"QUEUE_MIN_PENALTY": str(lo), "QUEUE_MAX_PENALTY": str(hi),
                      "QUEUE_RAISE_PENALTY": "0"},
                     PREFER_RULE if window is not None else FLAT_RULE)


def member_interfaces(member_list: str | None) -> list[str]:
    """``QUEUE_MEMBER_LIST()``'s comma-separated interfaces, blanks dropped.

    >>> member_interfaces("PJSIP/1001,PJSIP/1002"), member_interfaces(None)
    (['PJSIP/1001', 'PJSIP/1002'], [])
    """
    return [i.strip() for i in (member_list or "").split(",") if i.strip()]


def is_free(device_state: str | None, paused: str | None) -> bool:
    """A member rings now only if its handset is idle (NOT_INUSE) and it is not paused.

    >>> is_free("NOT_INUSE", "0"), is_free("INUSE", "0"), is_free("NOT_INUSE", "1")
    (True, False, False)
    """
    return device_state == "NOT_INUSE" and (paused or "0").strip() == "0"


def member_state(interface: str, penalty: str | None, device_state: str | None,
                 paused: str | None) -> MemberState | None:
    """One member from what the dialplan functions returned; None when unreadable."""
    try:
        value = int(str(penalty).strip())
    except ValueError:
        return None
    return MemberState(interface, value, is_free(device_state, paused))


# Reads one channel variable or dialplan function, e.g. Channel.get_variable.
VarReader = Callable[[str], Awaitable[str | None]]


async def read_members(get: VarReader, queue: str) -> list[MemberState]:
    """The queue's members as Asterisk has them now (QUEUE_MEMBER_LIST, QUEUE_MEMBER's
    penalty and paused, DEVICE_STATE of the handset), read through the call's own
    channel: no AMI round trip, and the same view Queue() is about to use."""
    out = []
    for iface in member_interfaces(await get(f"QUEUE_MEMBER_LIST({queue})")):
        penalty = await get(f"QUEUE_MEMBER({queue},penalty,{iface})")
        paused = await get(f"QUEUE_MEMBER({queue},paused,{iface})")
        device = await get(f"DEVICE_STATE({iface})")
        member = member_state(iface, penalty, device, paused)
        if member is not None:
            out.append(member)
    return out


async def plan_queue(routing: Routing | None, get: VarReader, queue: str, language: str,
                     variables: Mapping[str, object]) -> QueuePlan:
    """The plan of one Queue() attempt: a window on the free best-fitting agents when
    there are some, else every member alike (also without an agents list)."""
    needs = call_needs(queue, language, variables)
    if routing is None or needs is None or not len(routing.book):
        return queue_plan(None)
    members = await read_members(get, queue)
    return queue_plan(preference_window(members, routing.book, needs))

"""Judging a drill call from what was seen: the AMI events of the caller's channel and the
engine's call record. Pure (no I/O), so every verdict is unit-tested.

The steps, in the order a caller lives them:

- ``answered``: the engine opened a record for the call (the flow answered);
- ``red_flag``: the red-flag screen heard the caller and took the scenario's lane;
- ``routed``: the call went to the scenario's team (its queue);
- ``human``: a person of that team answered (AMI AgentConnect); time to human is from
  the drill placing the call to that moment;
- ``never_alone``: until that person came, the caller was always with the line: no
  hang-up of the caller's channel before it, no abandonment, and the record closed as
  answered. (Silence inside a prompt or in the queue is not measured here.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ivr.drill.scenarios import Scenario

STEPS = ("answered", "red_flag", "routed", "human", "never_alone")
LABELS = {"answered": "answered", "red_flag": "red flag", "routed": "routed",
          "human": "human", "never_alone": "never alone"}


@dataclass(frozen=True)
class AmiSeen:
    """One AMI event of the caller's channel, ``at`` seconds after the drill placed it."""

    at: float
    event: dict[str, str]

    @property
    def name(self) -> str:
        return self.event.get("Event", "")


@dataclass(frozen=True)
class RecordSeen:
    """The engine's record of the call: its events as (kind, at, detail)."""

    call_id: str
    outcome: str | None
    events: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)


@dataclass
class StepResult:
    step: str
    held: bool
    at_s: float | None = None
    detail: str = ""


@dataclass
class DrillResult:
    scenario: str
    started_at: datetime
    steps: list[StepResult]
    time_to_human_s: float | None
    call_id: str | None

    @property
    def passed(self) -> bool:
        return all(s.held for s in self.steps)

    def steps_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.steps]


def _since(placed: datetime, moment: datetime) -> float:
    if moment.tzinfo is None and placed.tzinfo is not None:  # SQLite: naive UTC
        moment = moment.replace(tzinfo=placed.tzinfo)
    return round((moment - placed).total_seconds(), 1)


def judge(scenario: Scenario, placed: datetime, ami: list[AmiSeen],
          record: RecordSeen | None) -> DrillResult:
    """Every step's verdict for one drill call."""
    events = record.events if record else []

    def first(kind: str, **want: str) -> tuple[float, dict[str, Any]] | None:
        for k, at, detail in events:
            if k == kind and all(detail.get(key) == value for key, value in want.items()):
                return _since(placed, at), detail
        return None

    steps: list[StepResult] = []
    start = first("start")
    steps.append(StepResult("answered", start is not None, start and start[0],
                            f"call {record.call_id}" if record and start else
                            "no call record: the engine never took the call"))

    flag = first("red_flag", lane=scenario.lane)
    lanes = sorted({str(d.get("lane")) for k, _at, d in events if k == "red_flag"})
    steps.append(StepResult(
        "red_flag", flag is not None, flag and flag[0],
        "; ".join(flag[1].get("reasons") or []) if flag else
        (f"heard as {', '.join(lanes)}, not {scenario.lane}" if lanes
         else "no red flag heard")))

    joined = next((a for a in ami if a.name == "QueueCallerJoin"), None)
    route = first("route", queue=scenario.queue)
    joined_right = joined is not None and joined.event.get("Queue") == scenario.queue
    routed_at = joined.at if joined_right and joined else (route[0] if route else None)
    steps.append(StepResult(
        "routed", bool(joined_right or route), routed_at,
        f"queue {scenario.queue}" if joined_right or route else
        f"went to {joined.event.get('Queue')!r}" if joined else
        f"never reached the {scenario.queue} queue"))

    connect = next((a for a in ami if a.name == "AgentConnect"), None)
    right_team = connect is not None and connect.event.get("Queue") == scenario.queue
    who = (connect.event.get("MemberName") or connect.event.get("Interface", "")) \
        if connect else ""
    steps.append(StepResult(
        "human", right_team, connect.at if connect else None,
        who if right_team else
        (f"answered in {connect.event.get('Queue')!r} by {who}" if connect
         else "nobody answered within the drill's time")))

    until = connect.at if connect else float("inf")
    lost = [a for a in ami if a.at < until and (
        a.name == "QueueCallerAbandon" or (a.name == "Hangup"))]
    problems = [f"{a.name} at {a.at:.1f} s" for a in lost]
    if record is None:
        problems.append("no record")
    elif record.outcome not in (None, "answered"):
        problems.append(f"record closed as {record.outcome}")
    if connect is None:
        problems.append("no person came")
    steps.append(StepResult("never_alone", not problems, None,
                            "; ".join(problems) or "with the line until a person answered"))

    return DrillResult(scenario.name, placed, steps, connect.at if right_team and connect
                       else None, record.call_id if record else None)


def line(result: DrillResult) -> str:
    """One line per drill: PASS/FAIL, time to human, each step held or failed."""
    tth = (f"{result.time_to_human_s:.1f} s" if result.time_to_human_s is not None
           else "none")
    parts = []
    for s in result.steps:
        at = f" {s.at_s:.1f}s" if s.at_s is not None else ""
        parts.append(f"{LABELS.get(s.step, s.step)} {'held' if s.held else 'FAILED'}{at}")
    verdict = "PASS" if result.passed else "FAIL"
    return f"drill {result.scenario:<9} {verdict}  time to human {tth}  " + " | ".join(parts)


def failures(result: DrillResult) -> list[str]:
    """What went wrong, one line per failed step (printed under a FAIL)."""
    return [f"  {LABELS.get(s.step, s.step)}: {s.detail}" for s in result.steps if not s.held]

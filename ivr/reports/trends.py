"""Sudden rises per symptom: is the last day unusual against the weeks before it?

The rule (``RiseRule``; the defaults are in brackets):

* Days are 24-hour blocks counted back from the end of the report, so a report
  run at 10:00 compares the last 24 hours with earlier 24-hour blocks, never a
  partial calendar day with whole ones. A call counts once per symptom heard.
* The **recent** window is the last ``recent_days`` blocks [1]; the **baseline**
  is up to ``baseline_days`` blocks before it [28], but none before the line's
  first call on record (a new installation has no zeros to compare with). With
  fewer than ``min_baseline_days`` baseline blocks [3] there is no verdict.
* Expected calls ``mu = recent_days * max(baseline mean per day, floor_rate)``;
  the floor [0.5/day] lets a symptom that was never heard still alarm when it
  suddenly is, without dividing by zero.
* The recent count ``x`` is a **rise** when all three hold:
  ``x >= min_count`` [8] (a handful of calls is never an alarm: 1 -> 3 is not),
  ``x >= min_ratio * mu`` [2.0] (at least double: a busy Monday that lifts
  every symptom by a third is not an outbreak), and the Poisson upper tail
  ``P(X >= x | mu) < alpha`` [0.001] (surprising for a count of that size:
  5/day -> 25 in a day is p ~ 2e-10; 1/day -> 3 is p ~ 0.08).

Poisson assumes calls arrive independently; real days vary more than that
(weekdays, school holidays), which is what the ratio and minimum count guard
against. Falls are never flagged: the report is for rises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RiseRule:
    recent_days: int = 1
    baseline_days: int = 28
    min_baseline_days: int = 3
    min_count: int = 8
    min_ratio: float = 2.0
    alpha: float = 0.001
    floor_rate: float = 0.5

    def describe(self) -> str:
        return (f"last {self.recent_days} day(s) against up to {self.baseline_days} days "
                f"before (at least {self.min_baseline_days}): a rise needs at least "
                f"{self.min_count} calls, at least {self.min_ratio:g}x the daily baseline "
                f"(never below {self.floor_rate:g}/day) and a Poisson tail "
                f"P(X >= calls) < {self.alpha:g}")


DEFAULT_RULE = RiseRule()


@dataclass(frozen=True)
class Rise:
    symptom: str
    recent_calls: int
    baseline_per_day: float  # the plain mean, before the floor
    expected: float  # mu
    ratio: float  # recent_calls / expected
    p_value: float
    baseline_days: int
    recent_days: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def poisson_tail(x: int, mu: float) -> float:
    """``P(X >= x)`` for ``X ~ Poisson(mu)``, summed in log space (no underflow)."""
    if x <= 0:
        return 1.0
    if mu <= 0:
        return 0.0

    def pmf(k: int) -> float:
        return math.exp(k * math.log(mu) - mu - math.lgamma(k + 1))

    if x <= mu:  # the upper tail is large: one minus the (short) lower sum
        return max(0.0, min(1.0, 1.0 - math.fsum(pmf(k) for k in range(x))))
    total, k = 0.0, x
    while True:  # terms shrink geometrically past the mean
        term = pmf(k)
        total += term
        if term < total * 1e-16 or term == 0.0:
            return min(1.0, total)
        k += 1


def check_rise(symptom: str, recent: Sequence[int], baseline: Sequence[int],
               rule: RiseRule = DEFAULT_RULE) -> Rise | None:
    """A ``Rise`` when the recent days' calls for ``symptom`` break the rule, else None.
    ``recent`` and ``baseline`` are daily counts (any order)."""
    if len(baseline) < rule.min_baseline_days or not recent:
        return None
    x = sum(recent)
    mean = sum(baseline) / len(baseline)
    mu = len(recent) * max(mean, rule.floor_rate)
    if x < rule.min_count or x < rule.min_ratio * mu:
        return None
    p = poisson_tail(x, mu)
    if p >= rule.alpha:
        return None
    return Rise(symptom, x, round(mean, 3), round(mu, 3), round(x / mu, 2), p, len(baseline),
                len(recent))


def find_rises(daily: Mapping[str, Sequence[int]], baseline_days: int,
               rule: RiseRule = DEFAULT_RULE) -> list[Rise]:
    """Rises among ``{symptom: counts per 24-hour block, most recent first}``, where the
    first ``rule.recent_days`` blocks are recent and the next ``baseline_days`` (at most
    ``rule.baseline_days``) are the baseline. Most surprising first."""
    baseline_days = min(baseline_days, rule.baseline_days)
    rises = []
    for symptom, counts in daily.items():
        recent = counts[:rule.recent_days]
        baseline = counts[rule.recent_days:rule.recent_days + baseline_days]
        rise = check_rise(symptom, recent, baseline, rule)
        if rise is not None:
            rises.append(rise)
    return sorted(rises, key=lambda r: (r.p_value, -r.recent_calls, r.symptom))

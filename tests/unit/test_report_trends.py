"""The symptom rise rule (ivr.reports.trends): literal daily counts in, verdicts out."""

import math

import pytest

from ivr.reports.trends import RiseRule, check_rise, find_rises, poisson_tail

WEEKS = 21  # three weeks of baseline


def test_poisson_tail_matches_the_textbook_values():
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2.0))
    direct = 1 - sum(math.exp(-5) * 5**k / math.factorial(k) for k in range(25))
    assert poisson_tail(25, 5.0) == pytest.approx(direct, rel=1e-3, abs=1e-15)
    assert poisson_tail(25, 5.0) < 1e-9  # 5/day -> 25 in a day: wildly unusual
    assert poisson_tail(5, 5.0) > 0.5  # an ordinary day
    assert poisson_tail(2000, 1000.0) < 1e-100  # large means do not underflow to nonsense
    assert poisson_tail(3, 0.0) == 0.0


def test_five_a_day_to_twenty_five_is_a_rise():
    rise = check_rise("fever", [25], [5, 4, 6, 5, 5, 6, 4] * 3)
    assert rise is not None
    assert (rise.symptom, rise.recent_calls, rise.baseline_days) == ("fever", 25, WEEKS)
    assert rise.expected == pytest.approx(5.0)
    assert rise.ratio == pytest.approx(5.0)
    assert rise.p_value < 1e-9


def test_one_to_three_calls_is_not_an_alarm():
    # three times the baseline and improbable for Poisson(1), but a handful of calls
    assert check_rise("rash", [3], [1] * WEEKS) is None
    assert check_rise("rash", [7], [1] * WEEKS) is None  # still under min_count (8)
    assert check_rise("rash", [8], [1] * WEEKS) is not None


def test_a_busy_day_for_a_common_symptom_is_not_a_rise():
    # 20/day -> 30: significant for Poisson, but not double: Mondays look like this
    assert check_rise("cough", [30], [20] * WEEKS) is None


def test_falls_and_ordinary_days_are_never_flagged():
    assert check_rise("fever", [5], [5] * WEEKS) is None
    assert check_rise("fever", [0], [25] * WEEKS) is None


def test_a_symptom_never_heard_before_can_rise():
    rise = check_rise("vomiting_blood", [12], [0] * WEEKS)
    assert rise is not None
    assert rise.baseline_per_day == 0 and rise.expected == pytest.approx(0.5)  # the floor


def test_no_verdict_without_enough_history():
    assert check_rise("fever", [40], [5, 5]) is None  # two days < min_baseline_days
    assert check_rise("fever", [40], [5, 5, 5]) is not None


def test_find_rises_splits_recent_from_baseline_and_orders_by_surprise():
    daily = {
        "fever": [30, 5, 6, 4, 5, 5, 6],  # most recent first
        "cough": [12, 2, 2, 1, 2, 2, 3],
        "rash": [3, 1, 1, 1, 1, 1, 1],
        # the rise is in the baseline, not in the last day: nothing to flag today
        "headache": [4, 40, 4, 4, 4, 4, 4],
    }
    rises = find_rises(daily, baseline_days=6)
    assert [r.symptom for r in rises] == ["fever", "cough"]
    assert all(r.baseline_days == 6 and r.recent_days == 1 for r in rises)
    assert find_rises(daily, baseline_days=2) == []  # too little history


def test_a_longer_recent_window_sums_its_days():
    rule = RiseRule(recent_days=2)
    rises = find_rises({"fever": [15, 15, 5, 5, 5, 5]}, baseline_days=4, rule=rule)
    assert len(rises) == 1
    assert rises[0].recent_calls == 30 and rises[0].expected == pytest.approx(10.0)


def test_the_rule_describes_itself():
    text = RiseRule().describe()
    for part in ("8 calls", "2x", "0.001", "28 days"):
        assert part in text

"""The calling window: local hours per weekday, holidays, time zones with and without
daylight saving, and the exact edges of each range."""

import datetime as dt

import pytest

from ivr.followups.window import CallingWindow, span

UTC = dt.UTC


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def shanghai():
    # 2026-10-01 (Thursday) is National Day; Shanghai is UTC+8 all year round.
    return CallingWindow.build("Asia/Shanghai", {"mon-fri": ["09:00-20:00"],
                                                 "sat": ["10:00-12:00", "14:00-17:00"]},
                               ["2026-10-01"])


@pytest.mark.parametrize(("moment", "allowed"), [
    (utc(2026, 9, 29, 0, 59, 59), False),  # Tue 08:59:59 local
    (utc(2026, 9, 29, 1, 0, 0), True),  # Tue 09:00:00: the range starts here
    (utc(2026, 9, 29, 11, 59, 59, 999999), True),  # Tue 19:59:59.999999
    (utc(2026, 9, 29, 12, 0, 0), False),  # Tue 20:00:00: half-open, already closed
    (utc(2026, 9, 30, 16, 30), False),  # Thu 00:30 local, though Wednesday in UTC
    (utc(2026, 10, 1, 4, 0), False),  # Thu 12:00, National Day
    (utc(2026, 10, 3, 3, 0), True),  # Sat 11:00
    (utc(2026, 10, 3, 5, 0), False),  # Sat 13:00: between the two ranges
    (utc(2026, 10, 4, 3, 0), False),  # Sun: no hours
])
def test_is_allowed_in_a_zone_without_daylight_saving(shanghai, moment, allowed):
    assert shanghai.is_allowed(moment) is allowed


def test_local_time_of_any_offset_reads_the_same(shanghai):
    local = dt.datetime(2026, 9, 29, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert shanghai.is_allowed(local)
    assert shanghai.is_allowed(local - dt.timedelta(microseconds=1)) is False


@pytest.mark.parametrize(("now", "expected"), [
    (utc(2026, 9, 29, 3, 0), utc(2026, 9, 29, 3, 0)),  # inside: now itself
    (utc(2026, 9, 28, 23, 0), utc(2026, 9, 29, 1, 0)),  # Tue 07:00 -> 09:00 same day
    (utc(2026, 9, 29, 12, 0), utc(2026, 9, 30, 1, 0)),  # Tue 20:00 exactly -> Wed 09:00
    (utc(2026, 9, 30, 12, 0), utc(2026, 10, 2, 1, 0)),  # Wed 20:00 -> Fri (Thu holiday)
    (utc(2026, 10, 3, 4, 30), utc(2026, 10, 3, 6, 0)),  # Sat 12:30 -> Sat 14:00
    (utc(2026, 10, 3, 9, 0), utc(2026, 10, 5, 1, 0)),  # Sat 17:00 -> Mon 09:00
])
def test_next_allowed(shanghai, now, expected):
    got = shanghai.next_allowed(now)
    assert got == expected and got.tzinfo == UTC
    assert shanghai.is_allowed(got)
    assert not shanghai.is_allowed(got - dt.timedelta(seconds=1)) or got == now


def test_whole_days_run_into_each_other():
    w = CallingWindow.build("Asia/Shanghai", {"mon-sun": ["00:00-24:00"]})
    assert w.is_allowed(utc(2026, 1, 1, 15, 59, 59)) and w.is_allowed(utc(2026, 1, 1, 16, 0))
    assert w.next_allowed(utc(2026, 1, 1, 16, 0)) == utc(2026, 1, 1, 16, 0)


def test_holiday_on_every_day_of_a_week_skips_to_the_next():
    days = [f"2026-02-{d:02d}" for d in range(15, 24)]  # Spring Festival, Sun to Mon
    w = CallingWindow.build("Asia/Shanghai", {"mon-sun": ["09:00-20:00"]}, days)
    assert w.next_allowed(utc(2026, 2, 14, 13, 0)) == utc(2026, 2, 24, 1, 0)


def test_berlin_hours_follow_the_local_clock_across_daylight_saving():
    w = CallingWindow.build("Europe/Berlin", {"mon-sun": ["09:00-20:00"]})
    # Saturday 2026-03-28 is CET (UTC+1), Sunday 03-29 CEST (UTC+2).
    assert w.is_allowed(utc(2026, 3, 28, 8, 0)) and not w.is_allowed(utc(2026, 3, 28, 7, 59))
    assert w.is_allowed(utc(2026, 3, 29, 7, 0)) and not w.is_allowed(utc(2026, 3, 29, 6, 59))
    assert w.next_allowed(utc(2026, 3, 28, 19, 30)) == utc(2026, 3, 29, 7, 0)


def test_an_opening_time_the_clocks_skip_opens_at_the_jump():
    # 2026-03-29 02:00 CET the clocks jump to 03:00 CEST (01:00 UTC): 02:30 never happens.
    w = CallingWindow.build("Europe/Berlin", {"sun": ["02:30-04:00"]})
    assert w.next_allowed(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)
    assert w.is_allowed(utc(2026, 3, 29, 1, 0))
    assert not w.is_allowed(utc(2026, 3, 29, 0, 59, 59))  # 01:59:59 CET


def test_an_opening_time_that_happens_twice_opens_the_first_time():
    # 2026-10-25 03:00 CEST the clocks go back to 02:00 CET: 02:30 happens twice.
    w = CallingWindow.build("Europe/Berlin", {"sun": ["02:30-02:45"]})
    assert w.next_allowed(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 30)  # CEST
    assert w.is_allowed(utc(2026, 10, 25, 1, 35))  # the second 02:35 (CET) is inside too


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as err:
        CallingWindow.build("Mars/Olympus", {"sun-mon": ["9-10"], "tue": ["20:00-09:00"]},
                            ["2026-13-01"])
    text = str(err.value)
    for part in ("Mars/Olympus", "'sun-mon'", "'9-10'", "'20:00-09:00' ends before",
                 "'2026-13-01'"):
        assert part in text


def test_a_window_that_never_opens_is_refused():
    with pytest.raises(ValueError, match="no calling hours"):
        CallingWindow.build("Asia/Shanghai", {"mon": []})


def test_naive_datetimes_are_refused(shanghai):
    with pytest.raises(ValueError, match="naive"):
        shanghai.is_allowed(dt.datetime(2026, 9, 29, 10, 0))


def test_spans():
    assert span("30m") == dt.timedelta(minutes=30)
    assert span("2h") == dt.timedelta(hours=2) and span("1.5d") == dt.timedelta(hours=36)
    assert span("45s") == dt.timedelta(seconds=45)
    with pytest.raises(ValueError):
        span("2 hours")

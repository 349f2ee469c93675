"""ivr.hours: the one opening-hours reader of schedule steps and the follow-up window.
The messages are the ones the flow validator prints under IVR107."""

import datetime as dt

import pytest

from ivr.hours import (
    OpeningHours,
    holiday_problems,
    hours_problems,
    parse_holidays,
    parse_week,
    zone,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DESK = {"mon-fri": ["08:00-12:00", "13:30-17:30"], "sat": ["09:00-12:00"]}


@pytest.fixture
def desk():
    return OpeningHours.build("Asia/Shanghai", DESK, ["2026-10-01"])


def test_a_valid_mapping_has_no_problems():
    assert hours_problems(DESK) == []
    assert hours_problems({"mon": ["00:00-24:00"], "sun": []}) == []
    assert holiday_problems(["2026-10-01", dt.date(2026, 10, 2)]) == []


def test_the_schedule_steps_messages_in_file_order():
    # the same text as tests/flows/invalid/bad_time_range.expected
    assert "; ".join(hours_problems({"mon-fri": ["17:30-08:00"], "sunday": ["09:00-12:00"]})) \
        == ("'17:30-08:00' ends before it starts; 'sunday' is not a day or range of days "
            "(mon, tue, wed, thu, fri, sat, sun, or like mon-fri)")


@pytest.mark.parametrize(("hours", "message"), [
    ({"sun-mon": ["09:00-10:00"]},
     "'sun-mon' runs backwards: write each part, e.g. sat and sun separately"),
    ({"mon-tue-wed": []}, "'mon-tue-wed' is not a day or range of days"),
    ({"mon-": []}, "'mon-' is not a day or range of days"),
    ({"mon": ["9-10"]}, "'9-10' is not a time range like 08:00-17:30"),
    ({"mon": ["08:00-24:30"]}, "'08:00-24:30' is not a time range like 08:00-17:30"),
    ({"mon": ["10:00-10:00"]}, "'10:00-10:00' ends before it starts"),
])
def test_each_problem_reads_plainly(hours, message):
    problems = hours_problems(hours)
    assert len(problems) == 1 and problems[0].startswith(message)


def test_every_problem_is_named_at_once():
    with pytest.raises(ValueError) as err:
        OpeningHours.build("Mars/Olympus", {"sun-mon": ["9-10"]}, ["2026-13-01", "soon"])
    text = str(err.value)
    for part in ("'Mars/Olympus' is not a time zone", "'sun-mon' runs backwards",
                 "'9-10' is not", "holiday '2026-13-01'", "holiday 'soon'"):
        assert part in text
    with pytest.raises(ValueError, match="ends before"):
        parse_week({"tue": ["20:00-09:00"]})
    with pytest.raises(ValueError, match="not a date like 2026-10-01"):
        parse_holidays(["2026-02-30"])
    with pytest.raises(ValueError, match="not a time zone like Asia/Shanghai"):
        zone("Shanghai")


def test_case_and_spaces_around_days_and_ranges_are_forgiven():
    assert parse_week({" Mon-Fri ": [" 09:00-10:00 "]})[4] == [(540, 600)]


@pytest.mark.parametrize(("wall", "is_open"), [
    (dt.datetime(2026, 9, 29, 7, 59, 59), False),  # Tue, just before the desk opens
    (dt.datetime(2026, 9, 29, 8, 0), True),  # the range starts here
    (dt.datetime(2026, 9, 29, 11, 59, 59), True),
    (dt.datetime(2026, 9, 29, 12, 0), False),  # half-open: lunch
    (dt.datetime(2026, 9, 29, 13, 30), True),
    (dt.datetime(2026, 10, 1, 10, 0), False),  # Thu, National Day
    (dt.datetime(2026, 10, 3, 11, 0), True),  # Sat morning
    (dt.datetime(2026, 10, 3, 14, 0), False),  # Sat afternoon
    (dt.datetime(2026, 10, 4, 10, 0), False),  # Sun: no hours
])
def test_is_open_on_the_local_wall_clock(desk, wall, is_open):
    assert desk.is_open(wall) is is_open  # naive: already local
    assert desk.is_open(wall.replace(tzinfo=SHANGHAI)) is is_open
    assert desk.is_open(wall.replace(tzinfo=SHANGHAI).astimezone(dt.UTC)) is is_open


def test_the_whole_day_ends_at_midnight():
    always = OpeningHours.build("Asia/Shanghai", {"mon-sun": ["00:00-24:00"]})
    assert always.is_open(dt.datetime(2026, 1, 1, 23, 59, 59, 999999))
    assert always.is_open(dt.datetime(2026, 1, 2, 0, 0))


def test_next_opening_skips_lunch_holidays_and_the_weekend(desk):
    def utc(*wall):
        return dt.datetime(*wall, tzinfo=SHANGHAI).astimezone(dt.UTC)

    assert desk.next_opening(utc(2026, 9, 29, 9, 0)) == utc(2026, 9, 29, 9, 0)  # open: now
    assert desk.next_opening(utc(2026, 9, 29, 12, 0)) == utc(2026, 9, 29, 13, 30)
    assert desk.next_opening(utc(2026, 9, 30, 18, 0)) == utc(2026, 10, 2, 8, 0)  # Thu holiday
    assert desk.next_opening(utc(2026, 10, 3, 12, 0)) == utc(2026, 10, 5, 8, 0)
    assert desk.next_opening(utc(2026, 10, 3, 12, 0)).tzinfo == dt.UTC


def test_next_opening_across_a_daylight_saving_jump():
    # 2026-03-29 02:00 CET the clocks jump to 03:00 CEST (01:00 UTC): 02:30 never happens
    berlin = OpeningHours.build("Europe/Berlin", {"sun": ["02:30-04:00"]})
    jump = dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    assert berlin.next_opening(dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)) == jump


def test_next_opening_refuses_hours_that_never_open_and_naive_times():
    never = OpeningHours.build("Asia/Shanghai", {})
    assert not never.is_open(dt.datetime(2026, 1, 5, 10, 0))
    with pytest.raises(ValueError, match="nothing opens"):
        never.next_opening(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="naive"):
        never.next_opening(dt.datetime(2026, 1, 5, 10, 0))

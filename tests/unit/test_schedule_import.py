"""``ivr schedule import``'s reader: every problem of a slots CSV at its row and column,
and nothing imported from a file with any."""

from __future__ import annotations

import datetime as dt

from ivr.schedule.importing import read_file, read_rows

GOOD = "clinic,department,clinician,start,minutes\nA,cardiology,Dr Z,2026-12-03 09:00,20\n"


def test_a_good_row_in_local_time():
    rows, problems = read_rows(GOOD)
    assert problems == []
    assert rows[0].starts_at == dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)
    assert (rows[0].clinic, rows[0].department, rows[0].minutes) == ("A", "cardiology", 20)


def test_every_bad_field_is_named_at_its_row_and_column():
    text = ("clinic,department,clinician,start,minutes\n"
            "A,cardiology,Dr Z,2026-12-03 09:00,20\n"
            ",cardiology,Dr Z,2026-12-03 09:20,20\n"
            "A,kardiology,Dr Z,tomorrow,twenty\n"
            "A,pharmacy,Dr Z,2026-12-03 10:00,2\n"
            "A,cardiology,Dr Z,2026-12-03 09:00,20\n"
            "A,cardiology\n")
    rows, problems = read_rows(text, "slots.csv")
    assert rows == []
    shown = [str(p) for p in problems]
    assert shown[0] == "slots.csv:3:1: clinic is empty"
    assert shown[1].startswith("slots.csv:4:2: 'kardiology': unknown department")
    assert shown[2] == "slots.csv:4:4: 'tomorrow' is not a start time like 2026-12-03 09:30"
    assert shown[3] == "slots.csv:4:5: 'twenty' is not a whole number of minutes"
    assert shown[4].startswith("slots.csv:5:2: 'pharmacy': not a clinic patients book with")
    assert shown[5] == "slots.csv:5:5: 2 minutes: a slot lasts 5 to 480 minutes"
    assert shown[6] == "slots.csv:6:4: Dr Z at 2026-12-03 09:00 is already row 2"
    assert shown[7] == "slots.csv:7:3: 2 fields, the header has 5"
    assert len(shown) == 8


def test_header_problems():
    _rows, problems = read_rows("clinic,dept,clinician,start\n", "s.csv")
    assert [str(p) for p in problems] == [
        "s.csv:1:2: unknown column 'dept' (columns: clinic, department, clinician, start, "
        "minutes)",
        "s.csv:1:5: missing column 'department'", "s.csv:1:5: missing column 'minutes'"]
    assert [str(p) for p in read_rows("", "e.csv")[1]] == [
        "e.csv:1:1: empty file: expected a header clinic,department,clinician,start,minutes"]


def test_an_offset_is_kept_and_columns_may_come_in_any_order():
    rows, problems = read_rows("minutes,start,clinician,department,clinic\n"
                               "30,2026-12-03T09:00+00:00,Dr Z,ent,B\n")
    assert problems == [] and rows[0].starts_at.utcoffset() == dt.timedelta(0)


def test_files_not_text_or_missing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in str(read_file(bad)[1][0])
    assert "cannot read" in str(read_file(tmp_path / "none.csv")[1][0])

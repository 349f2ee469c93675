"""``ivr schedule``: import slots from CSV (problems at row:col, nothing imported), list
them free or booked (role-checked), cancel a booking."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.schedule import PatientRef
from ivr.schedule.tables import TableSchedule
from ivr.store.database import make_engine

SLOTS = ("clinic,department,clinician,start,minutes\n"
         "Digestive Clinic,gastroenterology,Dr Wang,2030-01-07 09:00,20\n"
         "Digestive Clinic,gastroenterology,Dr Wang,2030-01-07 09:20,20\n"
         "Heart Clinic,cardiology,Dr Zhao,2030-01-08 14:00,30\n")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_ENGINE__DATABASE_URL", f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    monkeypatch.delenv("IVR_CONFIG", raising=False)
    monkeypatch.setenv("IVR_STAFF_USER", "admin.wang")
    assert CliRunner().invoke(cli, ["staff", "add", "admin.wang", "admin"]).exit_code == 0
    return tmp_path


def run(*args):
    result = CliRunner().invoke(cli, ["schedule", *args])
    return result.exit_code, result.output


def test_import_list_cancel(env):
    csv = env / "slots.csv"
    csv.write_text(SLOTS)
    assert run("import", str(csv)) == (0, f"{csv}: 3 slot(s) added, 0 already there\n")
    assert run("import", str(csv))[1].endswith("0 slot(s) added, 3 already there\n")
    schedule = TableSchedule(make_engine(f"sqlite:///{env / 'calls.sqlite3'}"))
    first = schedule.free_slots("gastroenterology", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))[0]
    booking = schedule.book(first.id, PatientRef("h", "138******01"), "phone", call_id="c-1")
    code, out = run("list", "--department", "gastroenterology")
    assert code == 0, out
    assert out.splitlines() == [
        "2030-01-07 09:00  20 min  gastroenterology Digestive Clinic / Dr Wang  "
        f"booking {booking.id} 138******01 by phone (call c-1)",
        "2030-01-07 09:20  20 min  gastroenterology Digestive Clinic / Dr Wang  free"]
    code, out = run("list", "--date", "2030-01-08", "--json")
    (row,) = json.loads(out)
    assert (row["department"], row["start"], row["booking"]) == (
        "cardiology", "2030-01-08T14:00:00+08:00", None)
    code, out = run("cancel", str(booking.id))
    assert code == 0 and "gastroenterology 2030-01-07 09:00 is free again" in out
    assert schedule.booking(booking.id).status == "cancelled"
    code, out = run("cancel", str(booking.id))
    assert code == 1 and f"no active booking {booking.id}" in out


def test_a_bad_file_imports_nothing_and_says_where(env):
    csv = env / "bad.csv"
    csv.write_text(SLOTS + "Heart Clinic,cardiology,Dr Zhao,2030-01-08 25:00,30\n")
    code, out = run("import", str(csv))
    assert code == 1
    assert f"{csv}:5:4: '2030-01-08 25:00' is not a start time" in out
    assert "1 problem(s)" in out and "nothing imported" in out
    assert run("list") == (0, "no slots\n")


def test_list_needs_a_role(env, monkeypatch):
    monkeypatch.setenv("IVR_STAFF_USER", "stranger")
    code, out = run("list")
    assert code == 1 and "audit log" in out

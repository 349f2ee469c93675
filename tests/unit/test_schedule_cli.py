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


def _sealed(env, number="13800138001"):
    """A patient as the book step makes them: the number sealed for their phone."""
    from ivr.privacy.records import records_privacy
    from ivr.schedule import number_context

    privacy = records_privacy(env)
    phone = privacy.caller_hash(number)
    return PatientRef(phone, privacy.display_number(number), None,
                      privacy.seal_number(number, number_context(phone)))


def test_cancel_and_move_by_staff_call_the_patient_once(env):
    """The hospital cancels one booking and moves another of the same phone: one
    outbound call opens (it tells both); --no-call and a booking without a number open
    none, and say the patient hears it on their next call."""
    from ivr.followups import store
    from ivr.privacy.records import records_privacy

    csv = env / "slots.csv"
    csv.write_text(SLOTS + "Heart Clinic,cardiology,Dr Zhao,2030-01-08 14:30,30\n")
    assert run("import", str(csv))[0] == 0
    engine = make_engine(f"sqlite:///{env / 'calls.sqlite3'}")
    schedule = TableSchedule(engine)
    gastro, later = schedule.free_slots("gastroenterology", dt.datetime(2030, 1, 1,
                                                                          tzinfo=dt.UTC))
    heart, heart_later = schedule.free_slots("cardiology", dt.datetime(2030, 1, 1,
                                                                         tzinfo=dt.UTC))
    first = schedule.book(gastro.id, _sealed(env), "phone")
    second = schedule.book(heart.id, _sealed(env), "phone")

    code, out = run("cancel", str(first.id))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"booking {first.id} cancelled")
    assert lines[1].startswith("follow-up ") and (
        "opened: the line will call 138******01 about it from ") in lines[1]
    assert lines[1].endswith("within calling hours, in the flow's first language; or "
                             "138******01 will hear it on their next call to the line, "
                             "whichever comes first")
    (item,) = store.unfinished(engine)
    assert (item.kind, item.flow, item.created_by) == ("appointment_change", "followup_call",
                                                       "staff:admin.wang")
    assert records_privacy(env).open_number(item.number_sealed, item.id) == "13800138001"

    code, out = run("move", str(second.id), str(heart_later.id))
    assert code == 0, out
    moved, told = out.splitlines()
    assert moved.startswith(f"booking {second.id} moved: now booking ")
    assert moved.endswith("cardiology 2030-01-08 14:30 Heart Clinic / Dr Zhao")
    assert told.startswith(f"follow-up {item.id[:8]} will call 138******01 already")
    assert len(store.unfinished(engine)) == 1

    plain = schedule.book(gastro.id, PatientRef("h2", "139******02"), "staff:desk")
    code, out = run("move", str(plain.id), str(heart_later.id))  # taken just now
    assert code == 1 and f"booking {plain.id} is unchanged" in out
    code, out = run("move", str(plain.id), str(later.id))
    assert code == 0 and out.splitlines()[1] == (
        f"no call: booking {plain.id} kept no number to call; 139******02 will hear it on "
        "their next call to the line")
    mine = schedule.book(gastro.id, _sealed(env, "13700137003"), "phone")
    code, out = run("cancel", str(mine.id), "--no-call")
    assert code == 0 and out.splitlines()[1] == (
        "no call (--no-call): 137******03 will hear it on their next call to the line")
    assert len(store.unfinished(engine)) == 1


def test_key_rotation_reseals_the_numbers_bookings_keep(env):
    from sqlalchemy.orm import Session

    from ivr.privacy.records import records_privacy
    from ivr.schedule import number_context
    from ivr.store.models import Booking

    csv = env / "slots.csv"
    csv.write_text(SLOTS)
    assert run("import", str(csv))[0] == 0
    engine = make_engine(f"sqlite:///{env / 'calls.sqlite3'}")
    schedule = TableSchedule(engine)
    slot = schedule.free_slots("cardiology", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))[0]
    patient = _sealed(env)
    booking = schedule.book(slot.id, patient, "phone")
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0 and "resealed 0 recording(s), 1 number(s)" in result.output
    with Session(engine) as s:
        blob = s.get(Booking, booking.id).number_sealed
    assert blob != patient.number_sealed
    assert records_privacy(env).open_number(blob, number_context(patient.phone_hash)) == (
        "13800138001")

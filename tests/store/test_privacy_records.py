"""Privacy by default, end to end on real databases (SQLite and PostgreSQL): what a
caller says is stored and logged masked, their voice is unreadable on disk without
the key, a role without the right is refused, and every read leaves an audit entry."""

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.cli.main import cli
from ivr.privacy import Keyring, Masker, uninstall_log_masking
from ivr.privacy.records import RecordsPrivacy
from ivr.store.models import AuditEntry, CallEvent, Recording, TriageDecision, Turn
from ivr.store.recorder import CallRecorder

PHONE = "13912345678"
NATIONAL_ID = "11010519491231002X"
SAID = f"my chest hurts, call me back on {PHONE}, my ID is {NATIONAL_ID}"


@pytest.fixture
def keyring(tmp_path):
    return Keyring.load_or_create(tmp_path / "keys.json")


@pytest.fixture
def recorder(db_url, keyring, tmp_path):
    rec = CallRecorder(db_url, privacy=RecordsPrivacy(Masker.default(), keyring),
                       recordings_dir=tmp_path / "recordings")
    yield rec
    rec.close()


@pytest.fixture
def staff_cli(db_url, tmp_path, monkeypatch, keyring):
    """`ivr ...` as a given staff member, on this database and keyring."""
    monkeypatch.setenv("IVR_KEYRING_FILE", str(tmp_path / "keys.json"))
    from ivr.privacy.records import _cached
    _cached.cache_clear()

    def run(user, *args):
        monkeypatch.setenv("IVR_STAFF_USER", user)
        return CliRunner().invoke(cli, [*args, "--db", db_url], catch_exceptions=False)
    yield run
    _cached.cache_clear()
    uninstall_log_masking()


async def a_call_with_words_and_audio(recorder):
    call_id = await recorder.start("1700.9", "PJSIP/trunk-1", PHONE, "main", "v1")
    await recorder.event(call_id, "prompt", "describe", text="Tell us what is wrong.")
    await recorder.event(call_id, "turn", "describe", text=SAID, confidence=0.8)
    await recorder.recording(call_id, b"\x10\x00" * 8000)  # 1 s of the caller's voice
    await recorder.event(call_id, "triage", "triage", text=SAID, urgency=1,
                         department="emergency", queue_priority=10, symptoms=["chest_pain"],
                         reasons=[f"said {PHONE}"], lang="en")
    await recorder.finish(call_id, "answered")
    return call_id


def test_nothing_identifying_is_stored_or_logged_in_clear(recorder, caplog):
    import asyncio

    from ivr.privacy import install_log_masking
    install_log_masking(Masker.default())
    try:
        with caplog.at_level(logging.INFO):
            call_id = asyncio.run(a_call_with_words_and_audio(recorder))
            logging.getLogger("ivr.flows.runner").info("caller said: %s", SAID)
    finally:
        uninstall_log_masking()
    with Session(recorder.engine) as s:
        texts = [e.text for e in s.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        texts += [json.dumps(e.detail) for e in s.scalars(select(CallEvent))]
        texts += [t.transcript for t in s.scalars(select(Turn))]
        texts += [t.text + json.dumps(t.reasons) for t in s.scalars(select(TriageDecision))]
        call = recorder.get(call_id)
    stored = " ".join(texts) + call.caller_masked + call.caller_hash
    assert PHONE not in stored and NATIONAL_ID not in stored and "1949" not in stored
    assert "[PHONE …78]" in stored and "[ID]" in stored  # still useful to staff
    assert call.caller_masked == "139******78" and len(call.caller_hash) == 32
    logged = caplog.text
    assert "caller said" in logged and PHONE not in logged and NATIONAL_ID not in logged


async def test_recording_unreadable_without_the_key(recorder, tmp_path):
    call_id = await a_call_with_words_and_audio(recorder)
    with Session(recorder.engine) as s:
        rec = s.scalar(select(Recording).where(Recording.call_id == call_id))
    sealed = Path(rec.path).read_bytes()
    assert b"RIFF" not in sealed and (b"\x10\x00" * 64) not in sealed
    assert Path(rec.path).stat().st_mode & 0o077 == 0
    other = RecordsPrivacy(Masker.default(), Keyring.load_or_create(tmp_path / "other.json"))
    with pytest.raises(Exception, match=r"(?i)key|seal|decrypt"):
        other.open_file(Path(rec.path), call_id)
    assert recorder.privacy.open_file(Path(rec.path), call_id).startswith(b"RIFF")


async def test_roles_are_checked_and_every_read_is_audited(recorder, staff_cli, tmp_path,
                                                           db_url):
    call_id = await a_call_with_words_and_audio(recorder)
    assert staff_cli("root", "staff", "add", "admin.wang", "admin").exit_code == 0
    for user, role in [("nurse.li", "agent"), ("lead.chen", "supervisor"),
                       ("audit.zhao", "auditor")]:
        assert staff_cli("admin.wang", "staff", "add", user, role).exit_code == 0

    ok = staff_cli("nurse.li", "history", PHONE, "--transcripts", "--json")
    assert ok.exit_code == 0, ok.output
    seen = json.loads(ok.output)
    assert seen["calls"][0]["id"] == call_id and seen["calls"][0]["symptoms"] == ["chest_pain"]
    assert PHONE not in ok.output and "[PHONE …78]" in ok.output

    refused = staff_cli("nurse.li", "recordings", "export", call_id, "--out",
                        str(tmp_path / "out"))
    assert refused.exit_code == 1 and "agent" in refused.output
    assert not (tmp_path / "out").exists()
    stranger = staff_cli("visitor", "history", PHONE)
    assert stranger.exit_code == 1
    auditor = staff_cli("audit.zhao", "history", PHONE)  # auditors see no patient content
    assert auditor.exit_code == 1

    played = staff_cli("lead.chen", "recordings", "export", call_id, "--out",
                       str(tmp_path / "out"))
    assert played.exit_code == 0, played.output
    [wav] = (tmp_path / "out").glob("*.wav")
    assert wav.read_bytes().startswith(b"RIFF")

    with Session(recorder.engine) as s:
        log = [(a.user, a.action, a.allowed) for a in s.scalars(
            select(AuditEntry).order_by(AuditEntry.id))]
    assert ("nurse.li", "read_history", True) in log
    assert ("nurse.li", "read_transcripts", True) in log
    assert ("nurse.li", "play_recording", False) in log
    assert ("visitor", "read_history", False) in log
    assert ("audit.zhao", "read_history", False) in log
    assert ("lead.chen", "play_recording", True) in log
    trail = staff_cli("audit.zhao", "audit", "--json")
    assert trail.exit_code == 0
    assert any(e["action"] == "play_recording" and not e["allowed"]
               for e in json.loads(trail.output))


def test_first_account_must_be_an_admin(staff_cli):
    res = staff_cli("someone", "staff", "add", "someone", "agent")
    assert res.exit_code == 1 and "admin" in res.output


async def test_retention_dry_run_then_purge(recorder, staff_cli, db_url):
    from datetime import UTC, datetime, timedelta

    from ivr.privacy.retention import RetentionPolicy
    from ivr.store import retention

    call_id = await a_call_with_words_and_audio(recorder)
    later = datetime.now(UTC) + timedelta(days=31)
    policy = RetentionPolicy()
    dry = retention.apply(recorder.engine, policy, later, dry_run=True)
    assert (dry.recordings, dry.transcripts, dry.call_records) == (1, 0, 0)
    with Session(recorder.engine) as s:
        path = Path(s.scalar(select(Recording.path)))
    assert path.exists()  # a dry run changes nothing
    done = retention.apply(recorder.engine, policy, later + timedelta(days=150), dry_run=False)
    assert (done.recordings, done.transcripts) == (1, 1)
    assert not path.exists()
    call = recorder.get(call_id)
    assert call.transcripts_purged_at is not None and call.urgency == 1  # statistics stay
    assert all(t.transcript == "" for t in call.turns)
    assert all(e.text == "" for e in call.events if e.kind in ("turn", "triage"))
    assert all(not c.reasons for c in call.triage)  # reasons quote the caller
    assert not any("reasons" in e.detail for e in call.events)
    assert next(e for e in call.events if e.kind == "triage").detail["urgency"] == 1


async def test_agent_dispositions_feed_triage_review(recorder, staff_cli):
    call_id = await recorder.start("1700.7", "PJSIP/trunk-2", PHONE, "main", "v1")
    words = "my little boy has been breathing fast and wheezing all night"
    decision = {"urgency": 3, "department": "pediatrics", "queue_priority": 3,
                "symptoms": ["wheeze"], "reasons": []}
    await recorder.event(call_id, "triage", "triage", text=words, lang="en", **decision)
    await recorder.finish(call_id, "answered")
    assert staff_cli("root", "staff", "add", "admin.wang", "admin").exit_code == 0
    assert staff_cli("admin.wang", "staff", "add", "nurse.li", "agent").exit_code == 0
    wrap = staff_cli("nurse.li", "disposition", call_id, "--department", "emergency",
                     "--urgency", "1", "--note", f"mother's number {PHONE}")
    assert wrap.exit_code == 0, wrap.output
    # the phrase rules alone (review suggests phrases for them; the meaning screen
    # would catch these words)
    review = staff_cli("nurse.li", "triage", "review", "--rules-only", "--json")
    assert review.exit_code == 1, review.output  # a missed red flag fails the review
    found = json.loads(review.output)
    [miss] = found["disagreements"]
    assert miss["kind"] == "missed red flag" and miss["text"] == words
    from ivr.store.models import Disposition
    with Session(recorder.engine) as s:
        note = s.scalar(select(Disposition.note))
    assert PHONE not in note

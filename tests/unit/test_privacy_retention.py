"""Retention policy: days per kind of record from privacy.yaml, validated; cutoffs."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ivr.privacy import PrivacyConfigError
from ivr.privacy.retention import RecordKind, RetentionPolicy

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def write(tmp_path, text):
    path = tmp_path / "privacy.yaml"
    path.write_text(text)
    return path


def test_defaults():
    policy = RetentionPolicy()
    assert (policy.recordings, policy.transcripts, policy.call_records) == (30, 180, 3650)


def test_shipped_file_loads():
    policy = RetentionPolicy.from_file(ROOT / "privacy.yaml")
    assert policy.recordings <= policy.transcripts <= policy.call_records


def test_missing_file_or_section_means_defaults(tmp_path):
    assert RetentionPolicy.from_file(tmp_path / "none.yaml") == RetentionPolicy()
    assert RetentionPolicy.from_file(write(tmp_path, "masking:\n")) == RetentionPolicy()


def test_section_overrides_some_keys(tmp_path):
    policy = RetentionPolicy.from_file(write(tmp_path, "retention:\n  recordings: 7\n"))
    assert (policy.recordings, policy.transcripts, policy.call_records) == (7, 180, 3650)


@pytest.mark.parametrize(("body", "where", "message"), [
    ("  recordings: 0\n", "2:3", "retention.recordings: Input should be greater than or equal"),
    ("  recordings: '30'\n", "2:3", "retention.recordings: Input should be a valid integer"),
    ("  transcripts: 1.5\n", "2:3", "retention.transcripts: Input should be a valid integer"),
    ("  transcripts: true\n", "2:3", "retention.transcripts: Input should be a valid integer"),
    ("  call_records: 99999999\n", "2:3", "retention.call_records: Input should be less than"),
    ("  recording: 30\n", "2:3", "retention.recording: Extra inputs are not permitted"),
    ("  recordings: 400\n  call_records: 365\n", "1:1",
     "retention: recordings \\(400 days\\) may not be kept longer than call_records"),
])
def test_invalid_values_name_file_line_and_key(tmp_path, body, where, message):
    path = write(tmp_path, "retention:\n" + body)
    with pytest.raises(PrivacyConfigError, match=message) as err:
        RetentionPolicy.from_file(path)
    assert str(err.value).startswith(f"{path}:{where}: ")


def test_section_must_be_a_mapping(tmp_path):
    with pytest.raises(PrivacyConfigError, match="retention: Input should be a valid dictionary"):
        RetentionPolicy.from_file(write(tmp_path, "retention: [30]\n"))


def test_every_error_is_reported_at_once(tmp_path):
    path = write(tmp_path, "retention:\n  recordings: -1\n  transcripts: x\n")
    with pytest.raises(PrivacyConfigError) as err:
        RetentionPolicy.from_file(path)
    assert len(err.value.findings) == 2


def test_cutoff():
    policy = RetentionPolicy(recordings=30, transcripts=180, call_records=3650)
    assert policy.cutoff(RecordKind.RECORDINGS, NOW) == datetime(2026, 10, 27, 3, 0, tzinfo=UTC)
    assert policy.cutoff("transcripts", NOW) == NOW - timedelta(days=180)
    assert policy.cutoff("call_records", NOW) == NOW - timedelta(days=3650)
    beijing = NOW.astimezone(timezone(timedelta(hours=8)))
    assert policy.cutoff("recordings", beijing) == policy.cutoff("recordings", NOW)


def test_cutoff_refuses_naive_time_and_unknown_kind():
    policy = RetentionPolicy()
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.cutoff("recordings", datetime(2026, 11, 26))
    with pytest.raises(ValueError, match="voicemail"):
        policy.cutoff("voicemail", NOW)


def test_policy_is_frozen():
    with pytest.raises(ValueError):
        RetentionPolicy().recordings = 1

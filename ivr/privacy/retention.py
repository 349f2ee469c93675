"""How long each kind of record is kept: the policy, not the purge.

The days come from ``privacy.yaml``'s ``retention:`` section (a data-protection
decision, so it lives in a file the hospital owns, not in code). The job that
deletes rows and files asks this module for a cutoff and removes everything
older; it is written against ``RetentionPolicy.cutoff``.

Recordings and transcripts belong to a call record; keeping them longer than
the record itself would leave content nobody can find or audit, so the policy
refuses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ivr.privacy._config import PRIVACY_FILE, read_section, validate

SECTION = "retention"
MAX_DAYS = 36500  # a century: beyond it a typo, and a cutoff before year 1


class RecordKind(StrEnum):
    RECORDINGS = "recordings"  # caller audio, sealed on disk
    TRANSCRIPTS = "transcripts"  # the words recognised
    CALL_RECORDS = "call_records"  # the call row: times, route, outcome


class RetentionPolicy(BaseModel):
    """Days to keep each kind of record (whole numbers, 1..36500)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    recordings: int = Field(30, ge=1, le=MAX_DAYS)
    transcripts: int = Field(180, ge=1, le=MAX_DAYS)
    call_records: int = Field(3650, ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _content_within_record(self) -> RetentionPolicy:
        for kind in (RecordKind.RECORDINGS, RecordKind.TRANSCRIPTS):
            if self.days(kind) > self.call_records:
                raise ValueError(f"{kind} ({self.days(kind)} days) may not be kept longer "
                                 f"than call_records ({self.call_records} days)")
        return self

    @classmethod
    def from_file(cls, path: Path = PRIVACY_FILE) -> RetentionPolicy:
        """The ``retention:`` section of ``path``; defaults where the file, the section or
        a key is absent. Raises PrivacyConfigError naming file, line and key."""
        found = read_section(path, SECTION)
        if found is None or found[0] is None:
            return cls()
        section, src = found
        return validate(cls, section, src, SECTION)

    def days(self, kind: RecordKind | str) -> int:
        return int(getattr(self, RecordKind(kind).value))

    def cutoff(self, kind: RecordKind | str, now: datetime) -> datetime:
        """Records of ``kind`` that started before this moment are due for purging.

        ``now`` must be timezone-aware: the records are stored in UTC, and a naive
        local time would shift every cutoff by the server's offset.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
        return now - timedelta(days=self.days(kind))

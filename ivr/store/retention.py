"""The retention purge: remove what the policy says is kept long enough.

Recordings go first (files deleted, rows marked purged), then the words
(transcripts, triage texts, comments: blanked, the statistics stay), then whole
call records. A dry run counts the same rows and changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.privacy.retention import RecordKind, RetentionPolicy
from ivr.store.models import (
    Call,
    CallEvent,
    Disposition,
    Recording,
    SurveyAnswer,
    TriageDecision,
    Turn,
)

# events whose text or details hold what the caller said (prompts are the hospital's own
# words): turn text, the words a menu matched ("said"), a no-match's words ("dtmf"),
# and triage reasons, which quote the caller
SPOKEN_EVENTS = ("turn", "triage", "input", "no_match")
WORD_DETAILS = ("said", "dtmf", "reasons", "text")


@dataclass
class PurgeResult:
    dry_run: bool
    recordings: int = 0
    transcripts: int = 0  # calls whose words were removed
    call_records: int = 0
    files_missing: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def apply(engine: Engine, policy: RetentionPolicy, now: datetime,
          dry_run: bool = True) -> PurgeResult:
    result = PurgeResult(dry_run)
    rec_cut = policy.cutoff(RecordKind.RECORDINGS, now)
    words_cut = policy.cutoff(RecordKind.TRANSCRIPTS, now)
    call_cut = policy.cutoff(RecordKind.CALL_RECORDS, now)
    with Session(engine) as s, s.begin():
        recordings = list(s.scalars(select(Recording).where(
            Recording.at < rec_cut, Recording.purged_at.is_(None))))
        result.recordings = len(recordings)
        calls = list(s.scalars(select(Call.id).where(
            Call.started_at < words_cut, Call.transcripts_purged_at.is_(None))))
        result.transcripts = len(calls)
        old = list(s.scalars(select(Call.id).where(Call.started_at < call_cut)))
        result.call_records = len(old)
        if dry_run:
            s.rollback()
            return result
        for rec in recordings:
            path = Path(rec.path)
            if not path.exists():
                result.files_missing += 1
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            rec.purged_at = now
        for chunk in _chunks(calls):
            s.execute(update(Turn).where(Turn.call_id.in_(chunk)).values(transcript=""))
            s.execute(update(Turn).where(Turn.call_id.in_(chunk), Turn.outcome == "no_match")
                      .values(dtmf=""))
            for ev in s.scalars(select(CallEvent).where(CallEvent.call_id.in_(chunk),
                                                        CallEvent.kind.in_(SPOKEN_EVENTS))):
                ev.text = ""
                ev.detail = {k: v for k, v in ev.detail.items() if k not in WORD_DETAILS}
            s.execute(update(TriageDecision).where(TriageDecision.call_id.in_(chunk))
                      .values(text="", reasons=[]))
            s.execute(update(SurveyAnswer).where(SurveyAnswer.call_id.in_(chunk))
                      .values(comment=""))
            s.execute(update(Disposition).where(Disposition.call_id.in_(chunk))
                      .values(note=""))
            s.execute(update(Call).where(Call.id.in_(chunk))
                      .values(transcripts_purged_at=now))
        for chunk in _chunks(old):
            for rec in s.scalars(select(Recording).where(Recording.call_id.in_(chunk))):
                with contextlib.suppress(FileNotFoundError):
                    Path(rec.path).unlink()
            s.execute(delete(Call).where(Call.id.in_(chunk)))
    return result


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]

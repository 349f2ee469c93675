"""Fixtures shared by the unit tests of the engine's own call handling."""

import pytest

from ivr.privacy.records import records_privacy
from ivr.store.recorder import CallRecorder


@pytest.fixture
def recorder(tmp_path):
    """A call recorder on its own SQLite file, with a keyring of its own (sealed numbers
    open): what the engine records with. Modules that need another one define theirs."""
    rec = CallRecorder(f"sqlite:///{tmp_path / 'calls.sqlite3'}",
                       privacy=records_privacy(tmp_path))
    yield rec
    rec.close()

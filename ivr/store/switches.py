"""Line switches in the database: the emergency override for every engine at once.

The override was a file in the engine's state folder (``emergency_override``), read at
each call's start; with several engines (issue 13.6: engines on other machines, each
with its own state folder) a file reaches one engine only. The switch now lives in
the ``line_switches`` table, and each engine mirrors it into its own flag files
(:class:`SwitchMirror`, about once a second), so every reader of the file (a call's
start, the follow-up scheduler, ``ivr-eagi`` in the Asterisk root) keeps working
unchanged, and a database outage leaves the last state in force.

No row (a line that never used ``ivr override`` with this database): the files alone
decide, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store.models import LineSwitch, aware, utcnow

log = logging.getLogger(__name__)

EMERGENCY_OVERRIDE = "emergency_override"


@dataclass(frozen=True)
class SwitchState:
    is_on: bool
    since: datetime
    reason: str = ""
    set_by: str = ""

    def flag_text(self) -> str:
        """What the flag file holds (as ``ivr override on`` always wrote it)."""
        return f"{self.since.isoformat()} {self.reason}\n"


def read(engine: Engine, name: str = EMERGENCY_OVERRIDE) -> SwitchState | None:
    with Session(engine) as s:
        row = s.get(LineSwitch, name)
        if row is None:
            return None
        since = aware(row.since)
        assert since is not None
        return SwitchState(row.is_on, since, row.reason, row.set_by)


def write(engine: Engine, is_on: bool, reason: str = "", by: str = "",
          name: str = EMERGENCY_OVERRIDE, now: datetime | None = None) -> SwitchState:
    """Turn the switch on or off for every engine on this database."""
    state = SwitchState(is_on, now or utcnow(), reason[:200], by[:64])
    with Session(engine) as s, s.begin():
        s.merge(LineSwitch(name=name, is_on=state.is_on, since=state.since,
                           reason=state.reason, set_by=state.set_by))
    return state


def mirror(state: SwitchState, flags: Sequence[Path]) -> bool:
    """Make the flag files say what the database says; True if one changed."""
    changed = False
    for flag in flags:
        if state.is_on:
            text = state.flag_text()
            with contextlib.suppress(FileNotFoundError):
                if flag.read_text() == text:
                    continue
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.write_text(text)
            changed = True
        elif flag.exists():
            flag.unlink(missing_ok=True)
            changed = True
    return changed


class SwitchMirror:
    """Keeps this engine's flag files in step with the database's switch."""

    def __init__(self, engine: Engine, flags: Sequence[Path], interval: float = 1.0,
                 name: str = EMERGENCY_OVERRIDE) -> None:
        self.engine = engine
        self.flags = list(flags)
        self.interval = interval
        self.name = name

    def sync(self) -> SwitchState | None:
        """One look at the database (None: no row, the files are left alone)."""
        state = read(self.engine, self.name)
        if state is not None and mirror(state, self.flags):
            log.warning("%s %s (since %s%s%s)", self.name, "ON" if state.is_on else "off",
                        f"{state.since:%Y-%m-%d %H:%M:%S} UTC",
                        f", by {state.set_by}" if state.set_by else "",
                        f": {state.reason}" if state.reason else "")
        return state

    async def run_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sync)
            except Exception:  # database away: the last state stays in force
                log.debug("line switch %s not read", self.name, exc_info=True)
            await asyncio.sleep(self.interval)

"""Who may do what with call records: roles, actions and the table between them.

The principle is least privilege by job: people who talk to patients see those
patients' history and words; people who judge the line's quality also hear
recordings; auditors check *that* access was proper without seeing what was
accessed; administrators run the system. Each check says which role asked for
which action, so a denial in a log is self-explanatory. (Writing the audit log
needs the database and lives with the store; ``Actor`` is what it records.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ivr.privacy._errors import AccessDenied


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Action(StrEnum):
    READ_HISTORY = "read_history"  # a caller's earlier calls: times, routes, outcomes
    READ_TRANSCRIPTS = "read_transcripts"  # what the caller said, as recognised
    PLAY_RECORDING = "play_recording"  # the caller's voice
    EXPORT_REPORT = "export_report"  # aggregate statistics, no patient content
    MANAGE_FOLLOWUPS = "manage_followups"  # schedule, assign, close call-backs
    APPLY_RETENTION = "apply_retention"  # purge what the policy says is due
    ROTATE_KEYS = "rotate_keys"  # add an encryption key, reseal recordings
    MANAGE_STAFF = "manage_staff"  # accounts and their roles
    READ_AUDIT = "read_audit"  # who accessed what, when
    OPEN_FOLLOWUP = "open_followup"  # ask the line to call back a caller one just spoke to
    VIEW_WALLBOARD = "view_wallboard"  # queues, waiting callers' urgency, agents' states
    SWITCH_OVERRIDE = "switch_override"  # the global emergency override, for every engine
    SPY_CALL = "spy_call"  # listen to, whisper to or barge into a live call
    MANAGE_SCHEDULE = "manage_schedule"  # cancel or move a patient's appointment


_AGENT = frozenset({
    # the agent on the line needs the caller's context to help them, and nothing else
    Action.READ_HISTORY, Action.READ_TRANSCRIPTS,
    # at wrap-up: a call-back for the caller just helped (managing the list stays above)
    Action.OPEN_FOLLOWUP,
    # the line's queues: who waits, how urgent (what the team needs to pace itself)
    Action.VIEW_WALLBOARD,
    # the appointments desk moves or cancels a booking (the line then tells the patient)
    Action.MANAGE_SCHEDULE,
})
_SUPERVISOR = _AGENT | {
    # reviews calls for quality (recordings), reports on the line, owns the call-back list
    Action.PLAY_RECORDING, Action.EXPORT_REPORT, Action.MANAGE_FOLLOWUPS,
    # runs the floor: the emergency override and coaching on live calls
    Action.SWITCH_OVERRIDE, Action.SPY_CALL,
}
_AUDITOR = frozenset({
    # checks that access was proper: the audit log and aggregate reports, no patient content
    Action.READ_AUDIT, Action.EXPORT_REPORT,
})

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.AGENT: _AGENT,
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.AUDITOR: _AUDITOR,
    # runs the system: retention, keys and staff, and can stand in for anyone
    Role.ADMIN: frozenset(Action),
}


def allowed(role: Role | str, action: Action | str) -> bool:
    """Whether ``role`` may do ``action``. An unknown role may do nothing."""
    act = Action(action)  # an unknown action is a programming error: ValueError
    try:
        return act in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def require(role: Role | str, action: Action | str, *, user: str | None = None) -> None:
    """Raise AccessDenied (naming role and action, and the user if given) unless allowed."""
    if not allowed(role, action):
        raise AccessDenied(str(role), str(Action(action)), user)


@dataclass(frozen=True)
class Actor:
    """A person acting on records: what the audit log records and checks are made for."""

    user: str
    role: Role

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("an actor needs a user name")
        object.__setattr__(self, "role", Role(self.role))

    def can(self, action: Action | str) -> bool:
        return allowed(self.role, action)

    def require(self, action: Action | str) -> None:
        require(self.role, action, user=self.user)

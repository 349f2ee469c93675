"""Who may do what: the permission table, denials that explain themselves."""

import re

import pytest

from ivr.privacy import AccessDenied
from ivr.privacy.roles import PERMISSIONS, Action, Actor, Role, allowed, require

PATIENT_CONTENT = {Action.READ_HISTORY, Action.READ_TRANSCRIPTS, Action.PLAY_RECORDING}

# the whole table, written out: a change to roles.py must change this on purpose
EXPECTED = {
    "agent": {"read_history", "read_transcripts", "open_followup", "view_wallboard",
              "manage_schedule"},
    "supervisor": {"read_history", "read_transcripts", "play_recording", "export_report",
                   "manage_followups", "open_followup", "view_wallboard", "switch_override",
                   "spy_call", "manage_schedule"},
    "auditor": {"read_audit", "export_report"},
    "admin": {"read_history", "read_transcripts", "play_recording", "export_report",
              "manage_followups", "apply_retention", "rotate_keys", "manage_staff",
              "read_audit", "open_followup", "view_wallboard", "switch_override",
              "spy_call", "manage_schedule"},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_permission_table(role, action):
    assert allowed(role, action) == (action.value in EXPECTED[role.value])
    if action.value in EXPECTED[role.value]:
        require(role, action)
    else:
        with pytest.raises(AccessDenied):
            require(role, action)


def test_every_role_has_a_row():
    assert set(PERMISSIONS) == set(Role)


def test_auditors_see_no_patient_content():
    assert not PERMISSIONS[Role.AUDITOR] & PATIENT_CONTENT


def test_only_admins_run_the_system():
    for action in (Action.APPLY_RETENTION, Action.ROTATE_KEYS, Action.MANAGE_STAFF):
        assert [r for r in Role if allowed(r, action)] == [Role.ADMIN]


def test_denial_names_role_and_action():
    with pytest.raises(AccessDenied, match="role 'agent' may not 'play_recording'") as err:
        require("agent", "play_recording")
    assert err.value.role == "agent" and err.value.action == "play_recording"
    assert isinstance(err.value, PermissionError)


def test_unknown_role_may_do_nothing():
    assert not allowed("janitor", "read_history")
    with pytest.raises(AccessDenied, match="role 'janitor' may not 'read_history'"):
        require("janitor", "read_history")


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="read_everything"):
        allowed(Role.ADMIN, "read_everything")


def test_actor():
    nurse = Actor("li.na", "agent")
    assert nurse.role is Role.AGENT
    assert nurse.can("read_transcripts") and not nurse.can(Action.EXPORT_REPORT)
    nurse.require(Action.READ_HISTORY)
    with pytest.raises(AccessDenied, match=re.escape(
            "user 'li.na' (role 'agent') may not 'manage_followups'")):
        nurse.require(Action.MANAGE_FOLLOWUPS)
    with pytest.raises(ValueError):
        Actor("x", "janitor")
    with pytest.raises(ValueError, match="user name"):
        Actor("", Role.ADMIN)

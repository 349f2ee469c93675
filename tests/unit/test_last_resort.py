"""No queue without a way on: every queue refuses or releases a caller when nobody
can answer, and the dialplan's fallback ends at the last resort from the settings."""

import re

import pytest
from pydantic import ValidationError

from ivr.pbx.render import ConfValues, render_conf
from ivr.settings import load_settings


def rendered(tmp_path, **over):
    base = dict(inst="/ivr/t", moddir="/mods", host="127.0.0.1", ami_port=15038,
                ami_user="ivr", ami_secret="s", sip_port=15060, rtp_start=11000,
                rtp_end=11100, engine_host="127.0.0.1", agi_port=14573,
                fallback_queue="operator", agents={"1001": "pw1"}, agi_secret="a")
    base.update(over)
    return {p.name: p.read_text() for p in render_conf(ConfValues(**base), tmp_path)}


def fallback_context(extensions):
    """The dialplan lines of [ivr-fallback] (not the comments around it)."""
    body = extensions.split("[ivr-fallback]\n", 1)[1].split("\n[", 1)[0]
    return "\n".join(line for line in body.splitlines() if not line.startswith(";"))


def test_the_last_resort_is_set_by_default_and_must_be_a_dial_string(tmp_path):
    assert load_settings(state_dir=tmp_path).pbx.last_resort.startswith("PJSIP/1001&")
    for good in ("PJSIP/1004,20", "PJSIP/0201234567@hospital-trunk,60", "PJSIP/1001&SIP/x"):
        load_settings(state_dir=tmp_path, pbx={"last_resort": good})
    for bad in ("", "1004", "PJSIP/1004,20,g", "PJSIP/${EVIL}", "PJSIP/1 004"):
        with pytest.raises(ValidationError, match="last_resort"):
            load_settings(state_dir=tmp_path, pbx={"last_resort": bad})


def test_the_fallback_ends_at_the_last_resort_and_logs_for_the_reconciler(tmp_path):
    context = fallback_context(rendered(tmp_path, last_resort="PJSIP/1004,20")["extensions.conf"])
    order = [m.group(1) for m in re.finditer(r"(Queue\(operator|Queue\(emergency|Dial\()",
                                             context)]
    assert order == ["Queue(operator", "Queue(emergency", "Dial("]
    assert "Dial(PJSIP/1004,20,g)" in context
    for event in ("IVRFALLBACK", "IVRLASTRESORT", "IVRFALLBACKEND"):
        assert f",{event}," in context
    assert "exten => h,1,QueueLog(" in context
    default = fallback_context(rendered(tmp_path / "d", last_resort="PJSIP/1001")
                               ["extensions.conf"])
    assert "Dial(PJSIP/1001,45,g)" in default  # no ring time given: 45 s


def test_no_queue_lets_a_caller_wait_with_nobody_there(tmp_path):
    queues = rendered(tmp_path)["queues.conf"]
    assert "persistentmembers = yes" in queues  # logins survive an Asterisk restart
    assert "joinempty = yes" not in queues and "leavewhenempty = no" not in queues
    assert "joinempty = paused,invalid,unavailable" in queues
    assert "leavewhenempty = paused,invalid,unavailable" in queues

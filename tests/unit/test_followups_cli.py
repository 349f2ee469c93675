"""``ivr followups``: staff add, list (masked numbers only), close and cancel."""

import json

import pytest
from click.testing import CliRunner

from ivr.cli.main import cli

NUMBER = "13912345678"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_ENGINE__DATABASE_URL", f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    monkeypatch.delenv("IVR_CONFIG", raising=False)
    monkeypatch.setenv("IVR_STAFF_USER", "admin.wang")
    assert CliRunner().invoke(cli, ["staff", "add", "admin.wang", "admin"]).exit_code == 0
    monkeypatch.setenv("IVR_STAFF_USER", "lead.chen")
    assert CliRunner().invoke(cli, ["staff", "add", "lead.chen", "supervisor"]).exit_code == 1
    monkeypatch.setenv("IVR_STAFF_USER", "admin.wang")
    assert CliRunner().invoke(cli, ["staff", "add", "lead.chen", "supervisor"]).exit_code == 0
    monkeypatch.setenv("IVR_STAFF_USER", "lead.chen")
    return tmp_path


def run(*args):
    result = CliRunner().invoke(cli, ["followups", *args])
    return result.exit_code, result.output


def listed(*args):
    code, out = run("list", "--json", *args)
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines()]


def test_add_list_close(env):
    code, out = run("add", "--number", NUMBER, "--kind", "post_surgery", "--in", "3d",
                    "--reason", "knee surgery, call 13912345678", "--language", "en-US")
    assert code == 0, out
    assert "139******78" in out and NUMBER not in out
    (item,) = listed()
    assert (item["kind"], item["flow"], item["status"], item["language"]) == (
        "post_surgery", "followup_call", "open", "en-US")
    assert item["created_by"] == "staff:lead.chen"  # who ran it, as the audit log says
    assert item["number"] == "139******78" and NUMBER not in json.dumps(item)
    assert NUMBER not in item["reason"]  # masked before it is stored
    assert listed("--overdue") == []
    code, out = run()  # the bare command lists
    assert code == 0 and item["id"][:8] in out and "139******78" in out and NUMBER not in out
    code, out = run("close", item["id"][:8], "--note", "seen in clinic")
    assert code == 0, out
    assert "done" in out
    assert listed() == []
    code, out = run("close", item["id"][:8])
    assert code == 1 and "already done" in out


def test_cancel_and_unknown_ids(env):
    run("add", "--number", NUMBER, "--kind", "medication")
    (item,) = listed()
    assert item["language"] == "zh-CN" and item["next_attempt_at"]
    code, out = run("cancel", item["id"], "--note", "patient declined")
    assert code == 0 and "cancelled" in out
    code, out = run("close", "abcdef12")
    assert code == 1 and "Error: no follow-up abcdef12" in out


def test_overdue_lists_what_is_past_its_deadline(env):
    code, out = run("add", "--number", NUMBER, "--kind", "complaint", "--deadline", "0m")
    assert code == 0, out
    (item,) = listed("--overdue")
    assert item["overdue"] is True
    code, out = run("list", "--overdue")
    assert "OVERDUE" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--number", "12", "--kind", "post_surgery"], "not a phone number"),
    (["--number", NUMBER, "--kind", "Post Surgery"], "lowercase"),
    (["--number", NUMBER, "--kind", "x", "--in", "3 days"], "not a duration"),
    (["--number", NUMBER, "--kind", "x", "--flow", "no_such_flow"], "no flow 'no_such_flow'"),
    (["--number", NUMBER, "--kind", "x", "--language", "ko-KR"], "speaks zh-CN, en-US"),
    (["--number", NUMBER, "--kind", "x", "--in", "3d", "--deadline", "1d"], "deadline comes"),
])
def test_add_refuses_bad_input(env, args, message):
    code, out = run("add", *args)
    assert code == 2 and message in out
    assert listed() == []


def test_agents_cannot_manage_follow_ups(env, monkeypatch):
    monkeypatch.setenv("IVR_STAFF_USER", "admin.wang")
    assert CliRunner().invoke(cli, ["staff", "add", "nurse.li", "agent"]).exit_code == 0
    monkeypatch.setenv("IVR_STAFF_USER", "nurse.li")
    code, out = run("list")
    assert code == 1 and "manage_followups" in out

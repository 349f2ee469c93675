"""The agents list: loader findings (positioned, all at once), lookups, and the SIP
passwords following the list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.agents import AgentsError, check_agents, load_agents
from ivr.cli.main import cli
from ivr.settings import PROJECT_ROOT, Secrets

GOOD = """\
agents:
  - extension: "1001"
    name: Nurse Wang
    user: wang
    languages: [zh-CN, en-US]
    skills: [crisis]
    queues: [emergency, crisis]
  - extension: "2001"
    name: Dr Li
    languages: [zh-CN]
    queues: [pediatrics]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return path


def test_shipped_list_holds_the_four_handsets():
    book = load_agents(PROJECT_ROOT / "agents.yaml")
    assert book.extensions == ("1001", "1002", "1003", "1004")
    assert all(a.queues and a.languages for a in book)


def test_lookups(tmp_path):
    book = load_agents(write(tmp_path, GOOD))
    assert book.by_extension("2001").name == "Dr Li"
    assert book.by_user("wang").extension == "1001"
    assert book.by_user("nobody") is None and book.by_extension("9") is None
    assert [a.extension for a in book.in_queue("crisis")] == ["1001"]
    assert book.by_extension("1001").interface == "PJSIP/1001"


def test_every_finding_with_its_position(tmp_path):
    path = write(tmp_path, """\
agents:
  - extension: 1001
    name: "Nurse <x>"
    languages: [zh-CN, fr-FR]
    colour: red
  - extension: "1002"
    name: B
    languages: [en-US]
    skills: [paediatrics]
    queues: [cardiolgy]
  - extension: "1002"
    name: C
    user: b
    languages: [en-US]
  - extension: "1003"
    name: D
    user: b
    languages: [en-US]
""")
    book, diags = check_agents(path)
    assert book is None
    got = [(d.line, d.col, d.code) for d in diags]
    assert got == [(2, 5, "AGT100"), (3, 5, "AGT100"), (5, 5, "AGT100"), (9, 14, "AGT104"),
                   (10, 14, "AGT103"), (11, 5, "AGT101"), (17, 5, "AGT102")]
    text = "\n".join(map(str, diags))
    assert "write the extension in quotes" in text
    assert "unknown key" in text and "did you mean 'pediatrics'" in text
    assert "did you mean 'cardiology'" in text
    with pytest.raises(AgentsError) as exc:
        load_agents(path)
    assert str(exc.value).startswith(f"{path}:2:5: error[AGT100]")


def test_unknown_language_points_at_the_item(tmp_path):
    _, diags = check_agents(write(tmp_path, GOOD.replace("[zh-CN]", "[zh-CN, fr-FR]")))
    assert [(d.line, d.col, d.code) for d in diags] == [(10, 24, "AGT105")]


def test_yaml_syntax_and_missing_file(tmp_path):
    _, diags = check_agents(write(tmp_path, "agents:\n  - extension: [\n"))
    assert diags[0].code == "AGT001"
    _, diags = check_agents(tmp_path / "none.yaml")
    assert diags[0].code == "AGT001" and "cannot read" in diags[0].message


def test_cli_validate(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["agents", "validate", str(write(tmp_path, GOOD))])
    assert ok.exit_code == 0 and "2 agents, no errors" in ok.output
    bad = runner.invoke(cli, ["agents", "validate", str(write(tmp_path, "agents: 3\n"))])
    assert bad.exit_code == 1 and "error[AGT100]" in bad.output
    as_json = runner.invoke(cli, ["agents", "validate", "--json", str(tmp_path / "agents.yaml")])
    assert json.loads(as_json.output)["ok"] is False


def test_secrets_follow_the_list_and_old_files_keep_working(tmp_path):
    path = tmp_path / "secrets.json"
    old = {"ami_secret": "a", "agi_secret": "b" * 64,
           "agent_passwords": {ext: f"pw{ext}" for ext in ("1001", "1002", "1003", "1004")}}
    path.write_text(json.dumps(old))
    made = Secrets.load_or_create(path, ["1001", "2001"])
    assert made.agent_passwords["1001"] == "pw1001"  # handsets keep their passwords
    assert made.agent_passwords["2001"]  # a new phone gets one
    assert made.agent_passwords["1004"] == "pw1004"  # kept for a phone put back
    assert json.loads(path.read_text())["agent_passwords"] == made.agent_passwords
    assert Secrets.load_or_create(path, ["2001"]) == made  # nothing new: unchanged
    assert set(Secrets.load_or_create(tmp_path / "new.json").agent_passwords) == {
        "1001", "1002", "1003", "1004"}

"""``ivr simulate`` and ``ivr graph`` from the command line, on the test flows."""

import json
from pathlib import Path

from click.testing import CliRunner

from ivr.cli.main import cli

FLOWS = Path(__file__).parents[1] / "flows"
ARGS = ["simulate", str(FLOWS / "valid" / "clinic.yaml"), "--prompts", str(FLOWS / "prompts"),
        "--at", "2026-11-25T10:00+08:00"]


def test_scripted_simulation_prints_path_and_prompts():
    result = CliRunner().invoke(cli, [*ARGS, "--input", "3", "--say", "crushing chest pain"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "    says: Hello." in lines
    assert "    caller said: 'crushing chest pain'" in lines
    assert lines[-1] == "outcome: answered (queue emergency)"
    # the path, in order
    steps = [ln.split()[1] for ln in lines if ln.startswith("[clinic]")]
    assert steps == ["hours", "hello", "chime", "menu", "describe", "triage", "to_emergency"]


def test_json_output_and_unanswered_queue_escalates():
    result = CliRunner().invoke(cli, [*ARGS, "--unanswered", "pharmacy", "--json",
                                      "--input", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["queue"] == "operator"
    assert [e["queue"] for e in report["events"] if e["kind"] == "route"] == [
        "pharmacy", "operator"]


def test_silent_caller_without_script_reaches_a_person():
    result = CliRunner().invoke(cli, ARGS)
    assert result.exit_code == 0
    assert result.output.count("no input") == 3
    assert result.output.splitlines()[-1] == "outcome: answered (queue operator)"


def test_hangup_and_caller_variables():
    result = CliRunner().invoke(cli, [*ARGS, "--var", "caller.age_group=elderly",
                                      "--input", "1"])
    assert "caller profile" in result.output and "queue general_medicine" in result.output
    assert "priority 6" in result.output
    hung = CliRunner().invoke(cli, [*ARGS, "--hangup"])
    assert hung.output.splitlines()[-1] == "outcome: caller_hangup"


def test_wav_without_recognizer_is_a_clear_usage_error():
    result = CliRunner().invoke(cli, [*ARGS, "--wav", "x.wav"])
    assert result.exit_code == 2 and "speech recognition" in result.output

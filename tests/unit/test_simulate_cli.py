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
    assert any(ln.startswith("    RED FLAG heard, to the emergency team: ") for ln in lines)
    # the path, in order: the red-flag screen takes the call from the question itself
    steps = [ln.split()[1] for ln in lines if ln.startswith("[clinic]")]
    assert steps == ["hours", "hello", "chime", "menu", "describe"]


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


def test_wav_needs_a_file_and_a_model_for_the_language(tmp_path, monkeypatch):
    from ivr.speech import whisper

    monkeypatch.setattr(whisper, "installed", lambda: False)  # a machine without Whisper
    missing = CliRunner().invoke(cli, [*ARGS, "--wav", "x.wav"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    no_model = CliRunner().invoke(cli, [*ARGS, "--wav", str(wav)])
    assert no_model.exit_code == 2 and "model for en-US" in no_model.output


def test_wav_is_heard_by_the_real_recogniser(tmp_path):
    """A Korean recording answers a Korean menu through Vosk, as on a live call."""
    import subprocess

    flows, prompts = tmp_path / "flows", tmp_path / "prompts"
    flows.mkdir()
    prompts.mkdir()
    (prompts / "ko-KR.yaml").write_text("menu: 예약 또는 상담원이라고 말씀하세요.\n")
    (flows / "ko.yaml").write_text(
        "flow: ko\nlanguages: [ko-KR]\nstart: menu\non_error: op\nsteps:\n"
        "  menu:\n    type: menu\n    prompt: menu\n    options:\n"
        "      - {key: '1', say: ['예약'], goto: book}\n"
        "      - {key: '2', say: ['상담원'], goto: op}\n"
        "    no_input: {goto: op}\n    no_match: {goto: op}\n"
        "  book: {type: route, queue: appointments, priority: 1}\n"
        "  op: {type: route, queue: operator, priority: 3}\n", encoding="utf-8")
    wav = tmp_path / "yeyak.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "130", "-w", str(wav), "예약"], check=True)
    result = CliRunner().invoke(cli, ["simulate", str(flows / "ko.yaml"), "--prompts",
                                      str(prompts), "--wav", str(wav)])
    assert result.exit_code == 0, result.output
    assert "caller said" in result.output and "예약" in result.output
    assert result.output.splitlines()[-1] == "outcome: answered (queue appointments)"


def test_an_english_recording_is_heard_by_whisper(tmp_path):
    """`ivr simulate dialplans/main.yaml --input 2 --wav caller.wav`: English chosen by
    key, then the recording (espeak-ng English: no real recording of these words
    exists) is heard by Whisper at the emergency screen and reaches the emergency team."""
    import subprocess

    from ivr.speech.audio import read_wav, to_telephone, write_wav

    raw, wav = tmp_path / "raw.wav", tmp_path / "caller.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw),
                    "my husband has collapsed and he is not breathing"], check=True)
    samples, rate = read_wav(raw)
    write_wav(wav, to_telephone(samples, rate))
    main = Path(__file__).parents[2] / "dialplans" / "main.yaml"
    result = CliRunner().invoke(cli, ["simulate", str(main), "--input", "2", "--wav", str(wav)])
    assert result.exit_code == 0, result.output
    assert "RED FLAG heard" in result.output and "queue emergency" in result.output

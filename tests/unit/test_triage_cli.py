"""`ivr triage` and `ivr urgency`: the contract external checks rely on."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.triage import triage
from ivr.cli.urgency import urgency
from ivr.departments import DEPARTMENTS

CONTRACT_KEYS = {"urgency", "department", "queue_priority", "reasons"}
SAMPLE = Path(__file__).parents[1] / "triage" / "dispositions_sample.jsonl"


def run(*args, stdin=None):
    return CliRunner().invoke(triage, list(args), input=stdin)


def test_json_contract():
    result = run("--lang", "zh", "我胸口像压了块大石头", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert CONTRACT_KEYS <= set(out)
    assert (out["urgency"], out["department"], out["queue_priority"]) == (1, "emergency", 10)
    assert out["department"] in DEPARTMENTS and isinstance(out["reasons"], list)
    assert out["reasons"] and out["text"] == "我胸口像压了块大石头" and out["lang"] == "zh"


@pytest.mark.parametrize("args", [
    ["--lang", "en", "I have a rash", "--json"],
    ["I have a rash", "--lang", "en", "--json"],
    ["--json", "-l", "en-US", "I have a rash"],
    ["decide", "--lang", "en", "--json", "I have a rash"],
])
def test_option_order_does_not_matter(args):
    out = json.loads(run(*args).stdout)
    assert (out["urgency"], out["department"]) == (3, "dermatology")


def test_context_options():
    out = json.loads(run("-l", "en", "I have a rash", "--repeat-calls", "2", "--json").stdout)
    assert out["urgency"] == 2
    out = json.loads(run("-l", "zh", "没有胸痛，只是咳嗽", "--confidence", "0.4", "--json").stdout)
    assert out["urgency"] == 1


def test_stdin_prints_one_json_object_per_line():
    lines = "\n".join(["我胸口像压了块大石头", "", "孩子发烧三天了",
                       '{"text": "I want to die", "lang": "en"}',
                       '{"text": "I have a rash", "lang": "en", '
                       '"context": {"caller.repeat_calls_24h": 2}}']) + "\n"
    result = run("--lang", "zh", "-", stdin=lines)
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["urgency"], o["department"]) for o in objects] == [
        (1, "emergency"), (3, "pediatrics"), (1, "crisis"), (2, "dermatology")]
    assert all(CONTRACT_KEYS <= set(o) for o in objects)


def test_human_readable_output():
    result = run("-l", "en", "I want to kill myself")
    assert result.exit_code == 0
    assert result.stdout.startswith("urgency 1  department crisis  queue priority 10  (crisis)")
    assert "  - crisis suicidal: 'kill myself'" in result.stdout


def test_a_command_name_can_still_be_triaged():
    out = json.loads(run("decide", "--json", "eval").stdout)
    assert out["text"] == "eval" and out["department"] == "general_medicine"


def test_bad_language_is_a_usage_error():
    result = run("--lang", "fr", "bonjour")
    assert result.exit_code == 2 and "one of zh, en, ko" in result.output


def test_eval_passes_on_the_shipped_set_and_fails_below_the_bars(tmp_path):
    labelled = Path(__file__).parents[1] / "triage" / "labelled.jsonl"
    ok = run("eval", str(labelled))
    assert ok.exit_code == 0 and "red-flag recall" in ok.stdout and ok.stdout.rstrip().endswith(
        "PASS")
    assert "rows: expected, columns: given" in ok.stdout
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"text": "我胸口像压了块大石头", "lang": "zh", "urgency": 1, "department": "emergency"},
        {"text": "I have a rash", "lang": "en", "urgency": 3, "department": "ent"},
    ]) + "\n", encoding="utf-8")
    failed = run("eval", str(wrong))
    assert failed.exit_code == 1 and "department accuracy" in failed.stdout
    assert f"{wrong}:2: expected 3 ent, given 3 dermatology" in failed.stdout
    report = json.loads(run("eval", str(wrong), "--json").stdout)
    assert (report["red_flag_recall"], report["department_accuracy"], report["passed"]) == (
        1.0, 0.5, False)
    assert run("eval", str(wrong), "--min-accuracy", "0.5").exit_code == 0


def test_eval_reports_a_bad_label_file_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "lang": "en"}\n', encoding="utf-8")
    result = run("eval", str(bad))
    assert result.exit_code == 1 and f"{bad}:1: missing urgency, department" in result.output
    assert "Traceback" not in result.output


def test_review_lists_disagreements_and_suggests_phrases():
    # the phrase rules alone: what review suggests is phrases for them
    result = run("review", "--rules-only", str(SAMPLE))
    assert result.exit_code == 1  # agents marked urgency 1 where the engine did not
    assert "8 calls, 4 disagreement(s) (2 missed red flag(s))" in result.stdout
    assert "[missed red flag]" in result.stdout and "心里难受得很" in result.stdout
    assert "red_flags: '心里难受' (2)" in result.stdout
    assert "'knee gave way' (2)" in result.stdout
    report = json.loads(run("review", "--rules-only", str(SAMPLE), "--json").stdout)
    kinds = [d["kind"] for d in report["disagreements"]]
    assert kinds == ["missed red flag", "missed red flag", "wrong department",
                     "wrong department"]


def _wav(tmp_path: Path, words: str, *flags: str) -> Path:
    out = tmp_path / f"{abs(hash((words, flags)))}.wav"
    subprocess.run(["espeak-ng", "-v", "en", *flags, "-w", str(out), words], check=True)
    return out


def test_urgency_command_prints_json(tmp_path):
    assert shutil.which("espeak-ng"), "espeak-ng is installed by scripts/setup"
    words = "I have had a cough for a few days and I would like to see a doctor this week."
    wav = _wav(tmp_path, words, "-s", "140", "-p", "50")
    result = CliRunner().invoke(urgency, [str(wav), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert 0.0 <= out["score"] <= 1.0 and out["view"] in ("absolute", "relative")
    assert {"loudness_dbfs", "pitch_hz", "syllable_rate", "voicing"} <= set(out["features"])
    plain = CliRunner().invoke(urgency, [str(wav)])
    assert plain.stdout.startswith("acoustic urgency ")


def test_urgency_command_rejects_a_non_audio_file(tmp_path):
    junk = tmp_path / "notes.wav"
    junk.write_text("not audio")
    result = CliRunner().invoke(urgency, [str(junk)])
    assert result.exit_code == 1 and "AudioError" in result.output


def test_validate_checks_the_examples_beside_the_rules(tmp_path):
    from ivr.triage.rules import RULES_PATH

    for name in ("triage_rules.yaml", "triage_examples.yaml"):
        shutil.copy(RULES_PATH.with_name(name), tmp_path / name)
    ok = run("validate", str(tmp_path / "triage_rules.yaml"))
    assert ok.exit_code == 0 and "triage_examples.yaml version" in ok.output
    examples = tmp_path / "triage_examples.yaml"
    examples.write_text(examples.read_text(encoding="utf-8").replace(
        'label: "red_flag"', 'label: "urgent"', 1), encoding="utf-8")
    bad = run("validate", str(tmp_path / "triage_rules.yaml"))
    assert bad.exit_code == 1
    assert f"{examples}:" in bad.output and "error[EXA102] example 1: 'label'" in bad.output


def test_a_spent_batch_joins_the_examples(tmp_path):
    from ivr.triage.rules import RULES_PATH

    target = tmp_path / "triage_examples.yaml"
    shutil.copy(RULES_PATH.with_name("triage_examples.yaml"), target)
    batch = tmp_path / "spent.jsonl"
    rows = [{"text": "my nan has gone a strange grey colour and won't answer me", "lang": "en",
             "urgency": 1, "department": "emergency", "category": "consciousness"},
            {"text": "我胸口像压了块大石头", "lang": "zh", "urgency": 1,
             "department": "emergency"}]  # already there
    batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                     encoding="utf-8")
    added = run("examples", "add", "--file", str(target), "--source", "spent", str(batch))
    assert added.exit_code == 0 and "1 example(s) added" in added.output, added.output
    assert 'source: "spent", text: "my nan has gone a strange grey' in target.read_text(
        encoding="utf-8")
    rows[1]["urgency"], rows[1]["department"] = 4, "appointments"
    batch.write_text(json.dumps(rows[1], ensure_ascii=False) + "\n", encoding="utf-8")
    clash = run("examples", "add", "--file", str(target), str(batch))
    assert clash.exit_code == 1 and "already in" in clash.output and "'admin'" in clash.output

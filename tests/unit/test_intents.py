"""``ivr intent eval``: the menu step reads each labelled utterance itself."""

import json
from pathlib import Path

from click.testing import CliRunner

from ivr.cli.main import cli

ROOT = Path(__file__).parents[2]


def test_intent_eval_reads_words_through_the_menu(tmp_path, monkeypatch):
    rows = [{"text": "I need a refill of my prescription", "lang": "en-US",
             "intent": "medication"},
            {"text": "我咳嗽一个星期了", "lang": "zh-CN", "intent": "symptoms"},
            {"text": "banana", "lang": "en-US", "intent": "none"},
            {"text": "banana", "lang": "en-US", "intent": "results"}]  # a deliberate miss
    labelled = tmp_path / "intents.jsonl"
    labelled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["intent", "eval", str(labelled), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["correct"], report["total"]) == (3, 4)
    assert report["misses"] == [{"text": "banana", "expected": "results", "got": "none"}]

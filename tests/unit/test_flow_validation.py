"""Flow validation: one broken file per error kind, with golden diagnostics;
the shipped flows and the schema export."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.validate import validate
from ivr.flows.loader import load_flow_set
from ivr.flows.schema import json_schema

ROOT = Path(__file__).parents[2]
FLOWS = ROOT / "tests" / "flows"
PROMPTS = FLOWS / "prompts"
CASES = sorted((FLOWS / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_each_broken_flow_reports_exactly_its_error(case):
    flow_set, found = load_flow_set([case], PROMPTS)
    assert flow_set is None
    got = [str(d).removeprefix(f"{case}:").replace(str(PROMPTS), "<prompts>") for d in found]
    expected = case.with_suffix(".expected").read_text().splitlines()
    assert got == expected


def test_every_error_kind_has_a_golden_case():
    codes = {line.split("[")[1].split("]")[0] for case in CASES
             for line in case.with_suffix(".expected").read_text().splitlines()}
    assert codes >= {"IVR001", "IVR002", "IVR100", "IVR101", "IVR102", "IVR103", "IVR104",
                     "IVR105", "IVR106", "IVR107", "IVR108", "IVR109", "IVR110", "IVR201",
                     "IVR202", "IVR203", "IVR204"}


def test_shipped_flows_are_valid():
    flow_set, found = load_flow_set([ROOT / "dialplans"], ROOT / "prompts")
    assert [str(d) for d in found if d.severity == "error"] == []
    assert {"main", "appointments", "medication", "results", "post_surgery", "complaints",
            "crisis", "after_hours"} <= set(flow_set.flows)


def test_shipped_flows_use_every_step_type():
    from ivr.flows.registry import STEPS

    flow_set, _ = load_flow_set([ROOT / "dialplans"], ROOT / "prompts")
    used = {step.type for f in flow_set.flows.values() for step in f.steps.values()}
    assert used == set(STEPS.models)


def test_cli_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(validate, [str(FLOWS / "valid"), "--prompts", str(PROMPTS)])
    assert ok.exit_code == 0 and ok.output.startswith("ok: 3 flows valid")
    bad = runner.invoke(validate, [str(FLOWS / "invalid" / "dangling_goto.yaml"),
                                   "--prompts", str(PROMPTS), "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False
    assert report["diagnostics"][0]["code"] == "IVR104"
    assert report["diagnostics"][0]["line"] == 12


def test_json_schema_export_forbids_unknown_keys(tmp_path):
    schema = json_schema()
    menu = schema["$defs"]["menu"]
    assert menu["additionalProperties"] is False
    assert "timeout" in menu["properties"]
    committed = json.loads((ROOT / "schemas" / "flow.schema.json").read_text())
    assert committed == schema, "schemas/flow.schema.json is stale: ivr validate --schema"

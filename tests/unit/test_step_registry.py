"""A step type is one module: registered, it is validated, simulated, drawn and run."""

from pathlib import Path

import pytest

from ivr.flows.graph import flow_to_dot
from ivr.flows.loader import load_flow_set
from ivr.flows.registry import STEPS, Registry, RegistryError
from ivr.flows.schema import json_schema
from ivr.flows.simulator import CallerTurn, SimChannel, simulate
from tests.unit.extra_steps import tally

ROOT = Path(__file__).parents[2]
FLOW = """\
flow: counted
languages: [en-US]
start: count
on_error: to_operator
steps:
  count: {type: tally, counter: visits, next: menu}
  menu:
    type: menu
    prompt: menu
    options: [{key: "1", goto: count}]
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  to_operator: {type: route, queue: operator}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "counted.yaml").write_text(text)
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "en-US.yaml").write_text("menu: Press 1 to count again.\n")
    return tmp_path


def test_an_unregistered_type_is_refused(tmp_path):
    root = _write(tmp_path, FLOW)
    flow_set, found = load_flow_set([root / "flows"], root / "prompts")
    assert flow_set is None
    assert [(d.line, d.code) for d in found] == [(6, "IVR101")]  # unknown step type 'tally'


async def test_a_registered_type_is_validated_simulated_drawn_and_run(tmp_path):
    root = _write(tmp_path, FLOW)
    with STEPS.extended(tally):
        assert "tally" in json_schema()["$defs"]
        flow_set, found = load_flow_set([root / "flows"], root / "prompts")
        assert flow_set is not None, found
        result = await simulate(flow_set, "counted",
                                SimChannel([CallerTurn("key", "1"), CallerTurn("key", "")]))
        steps = [e.step for e in result.events if e.kind == "step"]
        assert steps[:3] == ["count", "menu", "count"] and result.record.queue == "operator"
        assert any(e.values.get("visits") == 2 for e in result.events if e.kind == "set")
        dot = flow_to_dot(flow_set, "counted").source
        assert "counts visits" in dot and "(tally)" in dot
        bad = FLOW.replace("counter: visits", "counter: visits, extra: 1")
        _write(tmp_path, bad)
        _, found = load_flow_set([root / "flows"], root / "prompts")
        assert [(d.line, d.code) for d in found] == [(6, "IVR100")]  # unknown key 'extra'
    assert "tally" not in STEPS.models and "tally" not in json_schema()["$defs"]


def test_the_one_name_rule_is_enforced():
    import types

    misnamed = types.ModuleType("ivr.flows.steps.counter")
    misnamed.Step = tally.Step  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="not the module's name"):
        Registry([misnamed])
    with pytest.raises(RegistryError, match="twice"):
        Registry([tally, tally])

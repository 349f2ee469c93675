"""`ivr graph`: the picture shows every step and exit, and red-flag paths in red only.

The flows here are built in tmp_path (the real dialplans change under us); they are
valid, so the loader accepts them, and cover: a menu, a triage whose urgency 1 goes
through a say step to the emergency lane, a crisis branch that reaches the crisis
team through a subflow, an ordinary subflow, a hangup and the emergency key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli.graph import graph
from ivr.flows.graph import emergency_path, flow_to_dot
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.model import Flow, FlowSet
from ivr.flows.safety import Graph
from ivr.flows.schema import flow_file
from ivr.flows.yaml_source import Source

MAIN = """\
flow: main
description: Test line
languages: [en-US, zh-CN]
start: welcome
on_error: to_operator
emergency_key: "9"
emergency_step: to_emergency
steps:
  welcome: {type: say, prompt: welcome, next: main_menu}
  main_menu:
    type: menu
    prompt: main_menu
    options:
      - {key: "1", goto: pharmacy}
      - {key: "2", goto: describe}
      - {key: "3", goto: goodbye}
      - {key: "4", goto: help_coming}
      - {key: "5", goto: talk}
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
  pharmacy: {type: subflow, flow: pharmacy}
  describe:
    type: ask
    prompt: describe
    into: utterance
    no_input: {goto: to_operator}
    no_match: {goto: to_operator}
    next: triage
  triage:
    type: triage
    crisis: crisis
    urgency: {1: help_coming, 2: to_operator}
  help_coming: {type: say, prompt: help_coming, next: to_emergency}
  crisis: {type: subflow, flow: crisis_line}
  talk: {type: subflow, flow: crisis_line}
  to_emergency: {type: route, emergency: true, priority: 10}
  to_operator: {type: route, queue: operator, priority: 3}
  goodbye: {type: hangup, prompt: goodbye}
"""
PHARMACY = """\
flow: pharmacy
languages: [en-US]
start: pharmacy_intro
on_error: to_pharmacy
steps:
  pharmacy_intro: {type: say, prompt: pharmacy_intro, next: to_pharmacy}
  to_pharmacy: {type: route, queue: pharmacy, priority: 2}
"""
CRISIS = """\
flow: crisis_line
languages: [en-US]
start: to_crisis
on_error: to_crisis
steps:
  to_crisis: {type: route, queue: crisis, priority: 9}
"""
LONG_MENU = ("For pharmacy press 1, to describe your symptoms press 2, "
             "to hang up press 3")
EN = f"""\
welcome: 'Welcome to "St. Mary" <hospital> \\ line'
main_menu: {LONG_MENU}
describe: Please describe your symptoms.
help_coming: Help is coming.
goodbye: Goodbye.
pharmacy_intro: Pharmacy.
"""
ZH = """\
welcome: 欢迎致电
main_menu: 药房请按1
describe: 请描述症状
help_coming: 马上为您转接
goodbye: 再见
"""


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dialplans"
    folder.mkdir()
    (folder / "main.yaml").write_text(MAIN)
    (folder / "pharmacy.yaml").write_text(PHARMACY)
    (folder / "crisis_line.yaml").write_text(CRISIS)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "en-US.yaml").write_text(EN)
    (prompts / "zh-CN.yaml").write_text(ZH, encoding="utf-8")
    return folder


@pytest.fixture
def flow_set(flows_dir: Path) -> FlowSet:
    return load_flow_set_or_raise([flows_dir], flows_dir.parent / "prompts")


ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in ATTR.findall(text)}


def parse_dot(source: str) -> tuple[dict[str, dict[str, str]],
                                     dict[tuple[str, str, str], dict[str, str]]]:
    """(nodes by id, edges by (tail, head, label)) from the DOT text."""
    nodes: dict[str, dict[str, str]] = {}
    edges: dict[tuple[str, str, str], dict[str, str]] = {}
    for line in source.splitlines():
        if m := re.match(r"\s*(\w+) -> (\w+) \[(.*)\]$", line):
            attrs = _attrs(m.group(3))
            edges[(m.group(1), m.group(2), attrs.get("label", ""))] = attrs
        elif m := re.match(r"\s*(\w+) \[(.*)\]$", line):
            nodes[m.group(1)] = _attrs(m.group(2))
    return nodes, edges


def is_red(attrs: dict[str, str]) -> bool:
    return attrs.get("color") == "red" and attrs.get("penwidth") == "2.5"


def test_every_step_and_exit_is_drawn_and_other_flows_are_one_node(flow_set: FlowSet) -> None:
    source = flow_to_dot(flow_set, "main").source
    nodes, edges = parse_dot(source)
    assert set(flow_set.flows["main"].steps) <= set(nodes)
    assert {(t, h, lbl) for t, h, lbl in edges if t == "main_menu"} == {
        ("main_menu", "pharmacy", "1"), ("main_menu", "describe", "2"),
        ("main_menu", "goodbye", "3"), ("main_menu", "help_coming", "4"),
        ("main_menu", "talk", "5"),
        ("main_menu", "to_operator", "no input"), ("main_menu", "to_operator", "no match")}
    assert ("triage", "to_operator", "urgency 2") in edges
    assert ("pharmacy", "_flow_pharmacy", "subflow") in edges
    assert nodes["_flow_pharmacy"]["label"] == "flow: pharmacy"
    # two subflow steps into one flow: one node for that flow
    declared = [ln for ln in source.splitlines() if ln.lstrip().startswith("_flow_crisis_line [")]
    assert len(declared) == 1
    # not inlined: the other flows' steps are not in this picture
    assert "pharmacy_intro" not in nodes and "to_crisis" not in nodes
    # terminals have no exits
    assert not [e for e in edges if e[0] in ("to_emergency", "to_operator", "goodbye")]


def test_red_flag_paths_are_highlighted_and_nothing_else(flow_set: FlowSet) -> None:
    _nodes, edges = parse_dot(flow_to_dot(flow_set, "main").source)
    red = {e for e, attrs in edges.items() if is_red(attrs)}
    assert red == {
        ("triage", "help_coming", "urgency 1"),
        ("help_coming", "to_emergency", "next"),
        ("triage", "crisis", "crisis"),
        ("crisis", "_flow_crisis_line", "subflow"),
        ("_emergency_key", "to_emergency", "emergency"),
    }
    # an ordinary choice leading into a red-path step is not itself a red-flag path
    assert not is_red(edges[("main_menu", "help_coming", "4")])
    assert not is_red(edges[("triage", "to_operator", "urgency 2")])
    # the same flow, entered from an ordinary choice, is not a red-flag path either
    assert not is_red(edges[("talk", "_flow_crisis_line", "subflow")])
    assert all(edges[e]["fontcolor"] == "red" for e in red)


def test_node_shapes_by_kind_and_path(flow_set: FlowSet) -> None:
    nodes, _edges = parse_dot(flow_to_dot(flow_set, "main").source)
    assert nodes["to_emergency"]["fillcolor"] == "red"
    assert "filled" in nodes["to_emergency"]["style"]
    assert nodes["to_operator"]["peripheries"] == "2"
    assert nodes["goodbye"]["fillcolor"].startswith("gray")
    for decision in ("main_menu", "describe", "triage"):
        assert nodes[decision]["shape"] == "diamond"
    assert nodes["welcome"]["shape"] == "box"
    assert is_red(nodes["help_coming"]) and is_red(nodes["crisis"])
    assert is_red(nodes["_flow_crisis_line"]) and not is_red(nodes["_flow_pharmacy"])
    assert not is_red(nodes["welcome"]) and not is_red(nodes["triage"])


def test_entry_points_mark_start_error_path_and_emergency_key(flow_set: FlowSet) -> None:
    nodes, edges = parse_dot(flow_to_dot(flow_set, "main").source)
    assert nodes["_call_in"]["shape"] == "point"
    assert ("_call_in", "welcome", "call in") in edges
    assert edges[("_on_error", "to_operator", "any failure")]["style"] == "dashed"
    assert nodes["_emergency_key"]["label"] == "key 9 at any menu"


def test_emergency_path_follows_subflows_across_files(flow_set: FlowSet) -> None:
    path = emergency_path(Graph(flow_set.flows), flow_set.flows["main"])
    assert path == {("main", "help_coming"), ("main", "to_emergency"), ("main", "crisis"),
                    ("crisis_line", "to_crisis")}


def test_labels_show_what_each_step_says_or_where_it_goes(flow_set: FlowSet) -> None:
    nodes, _edges = parse_dot(flow_to_dot(flow_set, "main").source)
    assert nodes["to_emergency"]["label"] == r"to_emergency\n(route)\nEMERGENCY LANE, priority 10"
    assert "queue operator, priority 3" in nodes["to_operator"]["label"]
    assert r"crisis\n(subflow)\n→ flow crisis_line" == nodes["crisis"]["label"]
    menu_text = nodes["main_menu"]["label"].split(r"\n")[-1]
    assert menu_text.startswith("“For pharmacy press 1") and menu_text.endswith("…”")
    assert len(menu_text) <= 42 < len(LONG_MENU)
    assert "Help is coming." in nodes["help_coming"]["label"]


def test_language_picks_prompt_texts_and_unknown_ones_are_refused(flow_set: FlowSet) -> None:
    nodes, _ = parse_dot(flow_to_dot(flow_set, "main", "zh-CN").source)
    assert "马上为您转接" in nodes["help_coming"]["label"]
    with pytest.raises(ValueError, match="ko-KR"):
        flow_to_dot(flow_set, "main", "ko-KR")
    with pytest.raises(ValueError, match="no flow named 'nope'"):
        flow_to_dot(flow_set, "nope")


def test_quotes_backslashes_and_angle_brackets_stay_plain_text(flow_set: FlowSet) -> None:
    dot = flow_to_dot(flow_set, "main")
    line = next(x for x in dot.source.splitlines() if x.lstrip().startswith("welcome ["))
    assert r'\"St. Mary\" <hospital> \\ line' in line
    svg = dot.pipe(format="svg").decode()
    assert "St. Mary" in svg and "&lt;hospital&gt;" in svg


def _run(*args: str | Path):
    return CliRunner().invoke(graph, [str(a) for a in args])


def test_cli_renders_svg_with_real_dot(flows_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pics" / "main.svg"
    out.parent.mkdir()
    result = _run(flows_dir / "main.yaml", "-o", out, "--prompts", tmp_path / "prompts")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    head = out.read_text()[:400]
    assert head.startswith("<?xml") or "<svg" in head
    assert "<svg" in out.read_text() and "EMERGENCY LANE" in out.read_text()


def test_cli_draws_the_flow_of_the_given_file(flows_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pharmacy.dot"
    result = _run(flows_dir / "pharmacy.yaml", "-o", out, "--prompts", tmp_path / "prompts")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("digraph pharmacy {") and "pharmacy_intro" in text
    assert "main_menu" not in text


def test_cli_lang_option(flows_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "main.dot"
    prompts = tmp_path / "prompts"
    assert _run(flows_dir / "main.yaml", "-o", out, "--prompts", prompts,
                "--lang", "zh-CN").exit_code == 0
    assert "欢迎致电" in out.read_text(encoding="utf-8")
    result = _run(flows_dir / "main.yaml", "-o", out, "--prompts", prompts, "--lang", "ko-KR")
    assert result.exit_code == 1 and "ko-KR" in result.output


def test_cli_invalid_flow_prints_diagnostics_and_draws_nothing(flows_dir: Path,
                                                                tmp_path: Path) -> None:
    main = flows_dir / "main.yaml"
    main.write_text(MAIN.replace("next: to_emergency", "next: to_emergncy"))
    out = tmp_path / "main.svg"
    result = _run(main, "-o", out, "--prompts", tmp_path / "prompts")
    assert result.exit_code == 1
    assert f"{main}:" in result.output and "error[IVR104]" in result.output
    assert "to_emergncy" in result.output and "nothing drawn" in result.output
    assert not out.exists()


def test_cli_refuses_unknown_output_suffix(flows_dir: Path, tmp_path: Path) -> None:
    result = _run(flows_dir / "main.yaml", "-o", tmp_path / "main.jpg",
                  "--prompts", tmp_path / "prompts")
    assert result.exit_code == 2 and ".svg" in result.output


def test_cli_says_clearly_when_dot_is_missing(flows_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "main.png"
    result = _run(flows_dir / "main.yaml", "-o", out, "--prompts", tmp_path / "prompts")
    assert result.exit_code == 1
    assert "'dot' program is not installed" in result.output and not out.exists()


def test_only_the_branches_that_reach_emergency_are_red_even_in_an_unchecked_set() -> None:
    """flow_to_dot is pure: given a set that skipped validation (urgency 1 may reach a
    person, IVR202), it still marks only the parts that really end at the emergency lane."""
    spec = flow_file().model_validate(yaml.safe_load("""
        flow: x
        languages: [en-US]
        start: triage
        on_error: to_operator
        steps:
          triage: {type: triage, crisis: to_operator, urgency: {1: pick}}
          pick:
            type: menu
            prompt: p
            options: [{key: "1", goto: to_emergency}, {key: "2", goto: to_operator}]
            no_input: {goto: to_operator}
            no_match: {goto: to_operator}
          to_emergency: {type: route, emergency: true}
          to_operator: {type: route, queue: operator}
    """))
    flow = Flow("x", "v", "x.yaml", spec, Source("x.yaml", {}))
    flow_set = FlowSet({"x": flow}, {"en-US": {"p": "Pick."}})
    assert emergency_path(Graph(flow_set.flows), flow) == {("x", "pick"), ("x", "to_emergency")}
    _nodes, edges = parse_dot(flow_to_dot(flow_set, "x").source)
    assert {e for e, attrs in edges.items() if is_red(attrs)} == {
        ("triage", "pick", "urgency 1"), ("pick", "to_emergency", "1")}

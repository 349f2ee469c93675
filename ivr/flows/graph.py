"""A call flow as a picture: the Graphviz description of one flow, emergency paths in red.

Pure: this only builds the description; ``ivr graph`` renders it. The exits come
from each step's ``exits()``/``ends()`` and the cross-flow safety ``Graph``, so the
picture shows exactly what validation reasons about, not a second reading of the YAML.
Other flows are drawn as one node each (never inlined), so a picture stays readable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import graphviz

from ivr.flows.model import Flow, FlowSet
from ivr.flows.safety import Graph, Node
from ivr.flows.steps.base import StepBase, type_of

# Step ids match [a-z][a-z0-9_]*, so names starting with "_" never collide with a step.
CALL_IN = "_call_in"
ON_ERROR = "_on_error"
EMERGENCY_KEY = "_emergency_key"
HIGHLIGHT = {"color": "red", "penwidth": "2.5"}  # nodes on an emergency path: a bold red border
EDGE_HIGHLIGHT = {**HIGHLIGHT, "fontcolor": "red"}  # edges on it: bold red, red label
KIND_STYLE: dict[str, dict[str, str]] = {
    "emergency": {"shape": "doubleoctagon", "style": "filled,bold", "fillcolor": "red",
                  "fontcolor": "white", "color": "red"},
    "human": {"shape": "box", "peripheries": "2", "style": "filled", "fillcolor": "#dff0d8"},
    "goodbye": {"shape": "box", "style": "rounded,filled", "fillcolor": "gray80",
                "color": "gray50", "fontcolor": "gray25"},
    "decision": {"shape": "diamond", "style": "filled", "fillcolor": "#fff6d5"},
    "subflow": {"shape": "box", "style": "rounded,dashed"},
    "action": {"shape": "box", "style": "rounded"},
}
FLOW_STYLE = {"shape": "tab", "style": "filled", "fillcolor": "#d9e8fb", "color": "#3c6eb4"}


def flow_node(name: str) -> str:
    """The DOT id of the node that stands for another flow."""
    return f"_flow_{name}"


def flow_to_dot(flow_set: FlowSet, flow_name: str, lang: str | None = None) -> graphviz.Digraph:
    """The picture of one flow of ``flow_set``, prompt texts in ``lang`` (default: the
    flow's first language). Raises ValueError for an unknown flow or language."""
    flow = _flow(flow_set, flow_name)
    return _Drawing(flow_set, flow, _language(flow, lang)).draw()


def _flow(flow_set: FlowSet, name: str) -> Flow:
    if name not in flow_set.flows:
        raise ValueError(f"no flow named '{name}' (flows: {', '.join(sorted(flow_set.flows))})")
    return flow_set.flows[name]


def _language(flow: Flow, lang: str | None) -> str:
    if lang is None:
        return flow.language
    if lang not in flow.spec.languages:
        raise ValueError(f"flow '{flow.name}' is not in {lang} "
                         f"(languages: {', '.join(flow.spec.languages)})")
    return lang


def red_flag_starts(flow: Flow) -> list[tuple[str, str, str]]:
    """(from, label, step) for each red-flag branch: the emergency key and each triage
    step's urgency 1 and crisis exits. ``from`` is a step id or EMERGENCY_KEY."""
    out = []
    if flow.spec.emergency_step:
        out.append((EMERGENCY_KEY, "emergency", flow.spec.emergency_step))
    for sid, step in flow.steps.items():
        out += [(sid, e.label, e.target) for e in step.red_flag_exits()]
    return out


def emergency_path(graph: Graph, flow: Flow) -> set[Node]:
    """Nodes (of any flow) on some path from one of ``flow``'s red-flag starts to an
    emergency terminal: reachable from a start and able to reach the emergency lane."""
    starts = [(flow.name, target) for _src, _label, target in red_flag_starts(flow)]
    forward = _closure(graph.succ, [n for n in starts if n in graph.succ])
    ends = [n for n in graph.succ if graph.kind(n) == "emergency"]
    return forward & _closure(_reverse(graph.succ), ends)


def _reverse(succ: dict[Node, list[tuple[str, Node]]]) -> dict[Node, list[tuple[str, Node]]]:
    pred: dict[Node, list[tuple[str, Node]]] = {n: [] for n in succ}
    for node, out in succ.items():
        for label, nxt in out:
            pred.setdefault(nxt, []).append((label, node))
    return pred


def _closure(succ: dict[Node, list[tuple[str, Node]]], roots: Iterable[Node]) -> set[Node]:
    seen = set(roots)
    todo = deque(seen)
    while todo:
        for _label, nxt in succ.get(todo.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def step_kind(step: StepBase) -> str:
    """The drawing class of a step: its terminal kind, or how its type is drawn."""
    return step.ends() or step.drawn_as


def step_text(flow_set: FlowSet, step: StepBase, lang: str) -> str:
    """A short line saying what the step does (what is said, where the call goes)."""
    return step.label(flow_set.prompts.get(lang, {}))


@dataclass
class _Drawing:
    """One flow being drawn: what every node and edge needs to pick its style."""

    flow_set: FlowSet
    flow: Flow
    lang: str
    red: set[Node] = field(init=False)
    red_flags: set[tuple[str, str]] = field(init=False)
    dot: graphviz.Digraph = field(init=False)

    def __post_init__(self) -> None:
        self.red = emergency_path(Graph(self.flow_set.flows), self.flow)
        self.red_flags = {(src, label) for src, label, _t in red_flag_starts(self.flow)}
        self.dot = graphviz.Digraph(self.flow.name, graph_attr={
            "rankdir": "TB", "fontname": "Helvetica", "labelloc": "t",
            "label": _label(f"flow {self.flow.name}", self.flow.spec.description or "")})
        self.dot.attr("node", fontname="Helvetica", fontsize="10")
        self.dot.attr("edge", fontname="Helvetica", fontsize="9")

    def draw(self) -> graphviz.Digraph:
        self._entry_points()
        for sid, step in self.flow.steps.items():
            self._step_node(sid, step)
        self._flow_nodes()
        for sid, step in self.flow.steps.items():
            self._step_edges(sid, step)
        return self.dot

    def _on_path(self, sid: str) -> bool:
        return (self.flow.name, sid) in self.red

    def _entry_points(self) -> None:
        """Where calls enter the flow: the call itself, any error, the emergency key."""
        spec = self.flow.spec
        self.dot.node(CALL_IN, label="", shape="point", width="0.2")
        self.dot.edge(CALL_IN, spec.start, label="call in", penwidth="1.5")
        self.dot.node(ON_ERROR, label="on error", shape="plaintext", fontcolor="darkorange3")
        self.dot.edge(ON_ERROR, spec.on_error, label="any failure", style="dashed",
                      color="darkorange3", fontcolor="darkorange3")
        if spec.emergency_step:
            key = spec.emergency_key
            self.dot.node(EMERGENCY_KEY, shape="plaintext", fontcolor="red",
                          label=f"key {key} at any menu" if key else "emergency step")
            self.dot.edge(EMERGENCY_KEY, spec.emergency_step, label="emergency",
                          **_edge_highlight(self._on_path(spec.emergency_step)))

    def _step_node(self, sid: str, step: StepBase) -> None:
        kind = step_kind(step)
        attrs = {**KIND_STYLE[kind], **_highlight(self._on_path(sid) and kind != "emergency")}
        label = _label(sid, f"({type_of(step)})",
                       step_text(self.flow_set, step, self.lang))
        self.dot.node(sid, label=label, **attrs)

    def _flow_nodes(self) -> None:
        """One node per other flow that a subflow step continues in."""
        names = {n for st in self.flow.steps.values() if (n := st.continues_in())}
        for name in sorted(names):
            attrs = {**FLOW_STYLE, **_highlight(self._flow_on_path(name))}
            self.dot.node(flow_node(name), label=_label(f"flow: {name}"), **attrs)

    def _flow_on_path(self, name: str) -> bool:
        other = self.flow_set.flows.get(name)
        return other is not None and (other.name, other.start) in self.red and any(
            st.continues_in() == name and self._on_path(sid)
            for sid, st in self.flow.steps.items())

    def _step_edges(self, sid: str, step: StepBase) -> None:
        for e in step.exits():
            on_path = self._on_path(e.target) and (
                self._on_path(sid) or (sid, e.label) in self.red_flags)
            self.dot.edge(sid, e.target, label=e.label, **_edge_highlight(on_path))
        if name := step.continues_in():
            other = self.flow_set.flows.get(name)
            on_path = (other is not None and self._on_path(sid)
                       and (other.name, other.start) in self.red)
            self.dot.edge(sid, flow_node(name), label="subflow", style="dashed",
                          **_edge_highlight(on_path))


def _highlight(on: bool) -> dict[str, str]:
    return dict(HIGHLIGHT) if on else {}


def _edge_highlight(on: bool) -> dict[str, str]:
    return dict(EDGE_HIGHLIGHT) if on else {}


def _label(*lines: str) -> str:
    """A plain-text DOT label: backslashes and <...> lose their special meaning."""
    parts = [line.replace("\\", "\\\\") for line in lines if line]
    return graphviz.nohtml("\\n".join(parts))

"""Safety analysis: no caller is ever stranded, no red flag can miss emergency.

Over the graph of every step of every flow (a subflow step leads to the other
flow's start), it proves:
- every path ends at a person (queue or extension), the emergency lane, or an
  explicit goodbye, and no loop lacks a way out (IVR200, IVR201);
- every red-flag branch (triage urgency 1, crisis, the emergency key) reaches
  the emergency or crisis team on *every* path (IVR202);
- the error path of each flow reaches a person (IVR203).
Each finding carries the path that shows it.
"""

from __future__ import annotations

from collections import deque

from ivr.flows.diagnostics import Diagnostic
from ivr.flows.model import Flow
from ivr.flows.steps.base import StepBase, type_of

Node = tuple[str, str]  # (flow, step)


class Graph:
    def __init__(self, flows: dict[str, Flow]) -> None:
        self.flows = flows
        self.succ: dict[Node, list[tuple[str, Node]]] = {}
        for flow in flows.values():
            for sid, step in flow.steps.items():
                out = [(e.label, (flow.name, e.target)) for e in step.exits()]
                other = step.continues_in()
                if other in flows:
                    out.append((f"subflow {other}", (other, flows[other].start)))
                self.succ[(flow.name, sid)] = out

    def step(self, node: Node) -> StepBase:
        return self.flows[node[0]].steps[node[1]]

    def kind(self, node: Node) -> str | None:
        return self.step(node).ends()

    def path_to(self, start: Node, goal: set[Node] | None = None,
                bad: set[Node] | None = None) -> list[tuple[str, Node]] | None:
        """Shortest path (labels and nodes) from ``start`` to a node in ``goal``."""
        goal = goal or set()
        parent: dict[Node, tuple[str, Node] | None] = {start: None}
        todo = deque([start])
        while todo:
            node = todo.popleft()
            if node in goal:
                path: list[tuple[str, Node]] = []
                cur: Node | None = node
                while cur is not None and parent[cur] is not None:
                    label, prev = parent[cur]  # type: ignore[misc]
                    path.append((label, cur))
                    cur = prev
                return [("", start), *reversed(path)]
            for label, nxt in self.succ[node]:
                if nxt not in parent:
                    parent[nxt] = (label, node)
                    todo.append(nxt)
        return None

    def reachable(self, start: Node) -> set[Node]:
        seen = {start}
        todo = deque([start])
        while todo:
            for _label, nxt in self.succ[todo.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen


def _show(path: list[tuple[str, Node]], home: str) -> str:
    parts = []
    for label, (flow, step) in path:
        name = step if flow == home else f"{flow}.{step}"
        parts.append(f"-[{label}]-> {name}" if label else name)
    return " ".join(parts)


def check_safety(flows: dict[str, Flow]) -> list[Diagnostic]:
    g = Graph(flows)
    out: list[Diagnostic] = []

    def diag(node: Node, path: tuple[str | int, ...], code: str, msg: str) -> None:
        flow = flows[node[0]]
        line, col = flow.where(*path)
        out.append(Diagnostic(flow.path, line, col, code, msg))

    # IVR200: a step that is not an end and leads nowhere
    for node, succ in g.succ.items():
        if not succ and g.kind(node) is None:
            diag(node, ("steps", node[1]), "IVR200",
                 f"step '{node[1]}' ends the call without a person, the emergency lane or "
                 "a goodbye")
    # IVR201: loops with no way out
    for component in _sccs(g):
        looping = len(component) > 1 or any(n in dict(g.succ[n]).values() for n in component)
        if not looping:
            continue
        leaves = any(nxt not in component for n in component for _l, nxt in g.succ[n])
        ends = any(g.kind(n) for n in component)
        if not leaves and not ends:
            first = min(component)
            names = ", ".join(sorted(f"{f}.{st}" if f != first[0] else st
                                     for f, st in component))
            diag(first, ("steps", first[1]), "IVR201",
                 f"loop with no way out: steps {names} only lead to each other")
    # IVR202: red-flag branches must end at emergency/crisis on every path
    for flow in flows.values():
        red: list[tuple[Node, tuple[str | int, ...], str]] = []
        if flow.spec.emergency_step:
            red.append(((flow.name, flow.spec.emergency_step), ("emergency_step",),
                        "the emergency key"))
        if flow.spec.crisis_step:
            red.append(((flow.name, flow.spec.crisis_step), ("crisis_step",),
                        "crisis talk heard at any question"))
        for sid, step in flow.steps.items():
            for e in step.red_flag_exits():
                red.append(((flow.name, e.target), ("steps", sid, *e.path),
                            f"{type_of(step)} step '{sid}' {e.label}"))
        for start, where, what in red:
            bad = {n for n in g.reachable(start) if g.kind(n) in ("human", "goodbye")}
            if bad:
                path = g.path_to(start, goal=bad)
                diag((flow.name, where[1] if where[0] == "steps" else start[1]), where, "IVR202",
                     f"{what} can end away from the emergency team: "
                     f"{_show(path or [], flow.name)}")
    # IVR203: errors end with a person
    for flow in flows.values():
        start = (flow.name, flow.spec.on_error)
        bad = {n for n in g.reachable(start) if g.kind(n) == "goodbye"}
        if bad:
            path = g.path_to(start, goal=bad)
            diag(start, ("on_error",), "IVR203",
                 f"on_error must lead to a person, but can end in a goodbye: "
                 f"{_show(path or [], flow.name)}")
    return out


def _sccs(g: Graph) -> list[set[Node]]:
    """Strongly connected components (Tarjan, iterative)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    stack: list[Node] = []
    on_stack: set[Node] = set()
    result: list[set[Node]] = []
    counter = 0
    for root in g.succ:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = g.succ[node]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i][1]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == node:
                        break
                result.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result

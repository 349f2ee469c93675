"""Reference checks: targets exist, steps are reachable, keys are unique, prompts
exist in every language, queues are departments, subflows exist."""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Callable

from ivr.departments import DEPARTMENTS
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.model import Flow
from ivr.flows.steps.base import Edge, Scope, StepBase, type_of
from ivr.flows.steps.book import Step as Book
from ivr.flows.steps.history import Step as History
from ivr.flows.steps.results_status import Step as ResultsStatus
from ivr.flows.steps.verify import Step as Verify


def _hint(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_references(flows: dict[str, Flow], prompts: dict[str, dict[str, str]],
                     prompts_dir: str, broken: set[str] | None = None) -> list[Diagnostic]:
    """``broken``: names of flows whose files have errors (reported there, not again)."""
    out: list[Diagnostic] = []
    for flow in flows.values():
        out += _check_flow(flow, flows, prompts, prompts_dir, broken or set())
    return out


def _diag(flow: Flow, path: tuple[str | int, ...], code: str, msg: str) -> Diagnostic:
    line, col = flow.where(*path)
    return Diagnostic(flow.path, line, col, code, msg)


def _check_flow(flow: Flow, flows: dict[str, Flow], prompts: dict[str, dict[str, str]],
                prompts_dir: str, broken: set[str]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    ids = list(flow.steps)
    spec = flow.spec

    def target_ok(target: str, path: tuple[str | int, ...], what: str) -> None:
        if target not in flow.steps:
            out.append(_diag(flow, path, "IVR104",
                             f"{what}: goes to '{target}', which is not a step of flow "
                             f"'{flow.name}'{_hint(target, ids)}"))

    target_ok(spec.start, ("start",), "start")
    target_ok(spec.on_error, ("on_error",), "on_error")
    if spec.emergency_key and not spec.emergency_step:
        out.append(_diag(flow, ("emergency_key",), "IVR102",
                         "emergency_key needs an emergency_step to go to"))
    if spec.emergency_step:
        target_ok(spec.emergency_step, ("emergency_step",), "emergency_step")
    if spec.crisis_step:
        target_ok(spec.crisis_step, ("crisis_step",), "crisis_step")
    if spec.red_flag_screen != "every_answer":
        line, col = flow.where("red_flag_screen")
        out.append(Diagnostic(flow.path, line, col, "IVR205",
                              f"red_flag_screen: {spec.red_flag_screen} - a red flag said at "
                              "a menu, survey or call-back of this flow is not heard; only "
                              "free questions are screened", severity="warning"))
    scope = Scope(spec.emergency_key, frozenset(flows), frozenset(broken))
    for sid, step in flow.steps.items():
        what = f"{type_of(step)} step '{sid}'"
        for e in step.exits():
            target_ok(e.target, ("steps", sid, *e.path), what)
        for prompt_id, path in step.prompt_refs():
            for lang in spec.languages:
                if lang not in prompts:
                    continue  # reported once below
                if prompt_id not in prompts[lang]:
                    out.append(_diag(flow, ("steps", sid, *path), "IVR108",
                                     f"{what}: prompt '{prompt_id}' has no "
                                     f"{lang} text in {prompts_dir}/{lang}.yaml"
                                     f"{_hint(prompt_id, list(prompts[lang]))}"))
        for found in step.check(scope):
            out.append(_diag(flow, ("steps", sid, *found.path), found.code,
                             f"{what}: {found.message}"))
        clashes = {path: key for key, path in step.answer_keys() if key == spec.emergency_key}
        for path, key in clashes.items():
            out.append(_diag(flow, ("steps", sid, *path), "IVR106",
                             f"{what}: key '{key}' is the flow's emergency key and cannot "
                             "also be an answer here"))
        for queue, path in step.queues():
            if queue not in DEPARTMENTS:
                out.append(_diag(flow, ("steps", sid, *path), "IVR110",
                                 f"{what}: '{queue}' is not a department queue"
                                 f"{_hint(queue, list(DEPARTMENTS))}"))
    for lang in spec.languages:
        if lang not in prompts:
            out.append(_diag(flow, ("languages",), "IVR108",
                             f"no prompts for {lang}: add {prompts_dir}/{lang}.yaml"))
    if not any(d.code == "IVR104" for d in out):
        out += _unreachable(flow)
        out += _unverified_history(flow)
    return out


def _reachable(flow: Flow, crosses: Callable[[StepBase, Edge], bool] | None = None
               ) -> set[str]:
    """Steps reached from the flow's entry points (start, on_error, emergency_step),
    following only the edges ``crosses`` allows (all of them by default)."""
    spec = flow.spec
    roots = [spec.start, spec.on_error] + [s for s in (spec.emergency_step, spec.crisis_step)
                                           if s]
    seen = set(roots)
    todo = deque(roots)
    while todo:
        step = flow.steps[todo.popleft()]
        for e in step.exits():
            if e.target not in seen and (crosses is None or crosses(step, e)):
                seen.add(e.target)
                todo.append(e.target)
    return seen


# Steps that read a caller's own records aloud, and what a stranger would hear.
PERSONAL: dict[type[StepBase], str] = {History: "calls", ResultsStatus: "results status",
                                       Book: "appointments"}


def _unverified_history(flow: Flow) -> list[Diagnostic]:
    """IVR204: personal records are read out (or changed) only after the caller proved
    who they are: no history, results_status or book step is reached without crossing a
    ``verify`` step's verified exit."""
    unverified = _reachable(flow, lambda step, e: not (isinstance(step, Verify)
                                                       and e.label == "verified"))
    return [_diag(flow, ("steps", sid), "IVR204",
                  f"{step.type} step '{sid}' can be reached without passing a verify step's "
                  f"'verified' exit: a caller could hear someone else's {PERSONAL[type(step)]}")
            for sid, step in flow.steps.items()
            if sid in unverified and type(step) in PERSONAL]


def _unreachable(flow: Flow) -> list[Diagnostic]:
    seen = _reachable(flow)
    return [_diag(flow, ("steps", sid), "IVR105",
                  f"step '{sid}' is unreachable: no step, start or on_error leads to it")
            for sid in flow.steps if sid not in seen]

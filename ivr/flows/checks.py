"""Reference checks: targets exist, steps are reachable, keys are unique, prompts
exist in every language, queues are departments, subflows exist."""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Callable

from ivr.departments import DEPARTMENTS
from ivr.flows import schema as s
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.edges import Edge, edges, prompt_refs
from ivr.flows.model import Flow


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
    for sid, step in flow.steps.items():
        kind = step.type  # type: ignore[attr-defined]
        for e in edges(step):
            target_ok(e.target, ("steps", sid, *e.path), f"{kind} step '{sid}'")
        for prompt_id, path in prompt_refs(step):
            for lang in spec.languages:
                if lang not in prompts:
                    continue  # reported once below
                if prompt_id not in prompts[lang]:
                    out.append(_diag(flow, ("steps", sid, *path), "IVR108",
                                     f"{kind} step '{sid}': prompt '{prompt_id}' has no "
                                     f"{lang} text in {prompts_dir}/{lang}.yaml"
                                     f"{_hint(prompt_id, list(prompts[lang]))}"))
        if isinstance(step, s.Menu):
            seen_keys: dict[str, int] = {}
            seen_phrases: dict[str, int] = {}
            for i, opt in enumerate(step.options):
                if opt.key is not None:
                    if opt.key in seen_keys:
                        out.append(_diag(flow, ("steps", sid, "options", i, "key"), "IVR106",
                                         f"menu step '{sid}': key '{opt.key}' is already "
                                         f"option {seen_keys[opt.key] + 1}"))
                    seen_keys.setdefault(opt.key, i)
                    if opt.key == spec.emergency_key:
                        out.append(_diag(flow, ("steps", sid, "options", i, "key"), "IVR106",
                                         f"menu step '{sid}': key '{opt.key}' is the flow's "
                                         "emergency key and cannot be a menu option"))
                for phrase in opt.say:
                    norm = " ".join(phrase.lower().split())
                    if norm in seen_phrases and seen_phrases[norm] != i:
                        out.append(_diag(flow, ("steps", sid, "options", i, "say"), "IVR106",
                                         f"menu step '{sid}': phrase '{phrase}' already "
                                         f"selects option {seen_phrases[norm] + 1}"))
                    seen_phrases.setdefault(norm, i)
        ekey = spec.emergency_key
        if ekey:
            clashes = []
            if isinstance(step, s.Callback) and step.accept_key == ekey:
                clashes.append(("accept_key",))
            if isinstance(step, s.Ask) and ekey in step.dtmf_fallback:
                clashes.append(("dtmf_fallback", ekey))
            if isinstance(step, s.Survey):
                clashes += [("questions", i, "scale") for i, q in enumerate(step.questions)
                            if q.scale >= int(ekey) if ekey.isdigit()]
            for path in clashes:
                out.append(_diag(flow, ("steps", sid, *path), "IVR106",
                                 f"{kind} step '{sid}': key '{ekey}' is the flow's emergency "
                                 "key and cannot also be an answer here"))
        queues = []
        if isinstance(step, s.Route) and step.queue:
            queues.append((step.queue, ("steps", sid, "queue")))
        if isinstance(step, s.Callback):
            queues.append((step.queue, ("steps", sid, "queue")))
        if isinstance(step, s.Triage):
            queues += [(d, ("steps", sid, "departments", d)) for d in step.departments]
        for queue, path in queues:
            if queue not in DEPARTMENTS:
                out.append(_diag(flow, path, "IVR110",
                                 f"{kind} step '{sid}': '{queue}' is not a department queue"
                                 f"{_hint(queue, list(DEPARTMENTS))}"))
        if isinstance(step, s.Subflow | s.FollowUp) and step.flow not in flows:
            why = (f"flow '{step.flow}' has errors (reported in its file)"
                   if step.flow in broken else
                   f"no flow named '{step.flow}'{_hint(step.flow, list(flows))}")
            out.append(_diag(flow, ("steps", sid, "flow"), "IVR109",
                             f"{kind} step '{sid}': {why}"))
    for lang in spec.languages:
        if lang not in prompts:
            out.append(_diag(flow, ("languages",), "IVR108",
                             f"no prompts for {lang}: add {prompts_dir}/{lang}.yaml"))
    if not any(d.code == "IVR104" for d in out):
        out += _unreachable(flow)
        out += _unverified_history(flow)
    return out


def _reachable(flow: Flow, crosses: Callable[[s.StepBase, Edge], bool] | None = None
               ) -> set[str]:
    """Steps reached from the flow's entry points (start, on_error, emergency_step),
    following only the edges ``crosses`` allows (all of them by default)."""
    spec = flow.spec
    roots = [spec.start, spec.on_error] + ([spec.emergency_step] if spec.emergency_step else [])
    seen = set(roots)
    todo = deque(roots)
    while todo:
        step = flow.steps[todo.popleft()]
        for e in edges(step):
            if e.target not in seen and (crosses is None or crosses(step, e)):
                seen.add(e.target)
                todo.append(e.target)
    return seen


def _unverified_history(flow: Flow) -> list[Diagnostic]:
    """IVR204: personal history is read out only after the caller proved who they are:
    no history step is reached without crossing a ``verify`` step's verified exit."""
    unverified = _reachable(flow, lambda step, e: not (isinstance(step, s.Verify)
                                                       and e.label == "verified"))
    return [_diag(flow, ("steps", sid), "IVR204",
                  f"history step '{sid}' can be reached without passing a verify step's "
                  "'verified' exit: a caller could hear someone else's calls")
            for sid, step in flow.steps.items()
            if sid in unverified and isinstance(step, s.History)]


def _unreachable(flow: Flow) -> list[Diagnostic]:
    seen = _reachable(flow)
    return [_diag(flow, ("steps", sid), "IVR105",
                  f"step '{sid}' is unreachable: no step, start or on_error leads to it")
            for sid in flow.steps if sid not in seen]

"""Load and validate flow files, in layers, reporting every finding at once.

syntax (YAML) -> schema (one model per step type) -> references (targets,
prompts, queues, subflows) -> safety (every path ends with a person). A set of
flows is usable only when no layer reports an error.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ivr.flows import yaml_bounds
from ivr.flows.diagnostics import Diagnostic, FlowValidationError
from ivr.flows.model import Flow, FlowSet
from ivr.flows.prompts_catalog import load_prompts
from ivr.flows.registry import STEPS
from ivr.flows.steps.base import ID
from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import Source, load_file, load_source

# Findings after which the step graph is incomplete and the safety analysis cannot run.
BLOCKS_SAFETY = {"IVR001", "IVR002", "IVR100", "IVR101", "IVR102", "IVR103", "IVR104",
                 "IVR107", "IVR109"}
PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_ID = re.compile(ID)


def _did_you_mean(word: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The nested model that a pydantic error location points into."""
    current = model
    for part in loc:
        if not isinstance(part, str):
            continue
        field = next((f for n, f in current.model_fields.items()
                      if part in (n, f.alias)), None)
        if field is None:
            break
        inner = _find_model(field.annotation)
        if inner is None:
            break
        current = inner
    return current


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation) if not isinstance(annotation, types.NoneType) else ():
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _schema_diagnostics(exc: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...],
                        src: Source, what: str) -> list[Diagnostic]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line, col = src.where(prefix + loc)
        kind = err["type"]
        key = loc[-1] if loc else ""
        where_txt = f"{what}: " if what else ""
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            code = "IVR100"
            msg = f"unknown key '{key}'{_did_you_mean(str(key), _fields(parent))}"
            if err["input"] is None:
                msg += " (if it belongs to a text with a comma or colon, quote that text)"
        elif kind == "missing":
            code, msg = "IVR102", f"missing '{key}'"
        elif kind == "string_pattern_mismatch" and err["ctx"].get("pattern") == ID:
            code = "IVR103"
            msg = (f"'{err['input']}' for '{key}' is not a valid id "
                   "(lowercase letters, digits and _, starting with a letter)")
        elif kind == "literal_error":
            code = "IVR103"
            msg = f"'{err['input']}' is not allowed for '{key}': expected {err['ctx']['expected']}"
        elif kind == "string_type" and isinstance(err["input"], bool):
            code = "IVR103"
            msg = (f"'{key}' must be text: YAML reads yes/no/on/off/true/false unquoted as "
                   "true or false; put the word in quotes")
        else:
            code = "IVR107" if any(p in ("hours", "holidays") for p in loc) else "IVR103"
            text = err["msg"].removeprefix("Value error, ")
            msg = f"'{key}': {text}" if isinstance(key, str) and key else text
        out.append(Diagnostic(src.file, line, col, code, where_txt + msg))
    return out


def parse_flow_file(path: Path) -> tuple[Flow | None, list[Diagnostic]]:
    """Syntax and schema layers for one file."""
    file = str(path)
    try:
        text = yaml_bounds.read_text(path)
        src = load_source(text, file)
    except YAMLBoundsError as exc:  # too large, too deep, an alias bomb, not UTF-8
        mark = exc.problem_mark
        return None, [Diagnostic(file, mark.line + 1, mark.column + 1, "IVR003",
                                 str(exc.problem))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Diagnostic(file, mark.line + 1 if mark else 1,
                                 mark.column + 1 if mark else 1, "IVR001",
                                 f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    found: list[Diagnostic] = []
    for dup, line, col in src.duplicates:
        if len(dup) == 2 and dup[0] == "steps":
            msg = f"step '{dup[1]}' is defined twice"
        else:
            msg = f"key '{dup[-1]}' appears twice in the same place"
        found.append(Diagnostic(file, line, col, "IVR002", msg))
    data = src.data
    if not isinstance(data, dict):
        return None, [*found, Diagnostic(file, 1, 1, "IVR103", "a flow file is a mapping "
                                         "with 'flow', 'languages', 'start', 'steps'...")]
    header = {k: v for k, v in data.items() if k != "steps"}
    flow_file = STEPS.flow_file()
    models = STEPS.models
    try:
        flow_file.model_validate({**header, "steps": {"x": {"type": "hangup"}}})
    except ValidationError as exc:
        found += _schema_diagnostics(exc, flow_file, (), src, "")
    steps = data.get("steps")
    if not isinstance(steps, dict) or not steps:
        line, col = src.where(("steps",))
        found.append(Diagnostic(file, line, col, "IVR102" if steps is None else "IVR103",
                                "a flow needs 'steps': a mapping of step id -> step"))
        return None, found
    for sid, body in steps.items():
        line, col = src.where(("steps", sid))
        if not _ID.match(str(sid)):
            found.append(Diagnostic(file, line, col, "IVR103", f"step id '{sid}' is not valid "
                                    "(lowercase letters, digits and _, starting with a letter)"))
        if not isinstance(body, dict):
            found.append(Diagnostic(file, line, col, "IVR103",
                                    f"step '{sid}' must be a mapping with a 'type'"))
            continue
        kind = body.get("type")
        if kind is None:
            found.append(Diagnostic(file, line, col, "IVR102", f"step '{sid}' needs a 'type' "
                                    f"(one of {', '.join(sorted(models))})"))
            continue
        model = models.get(str(kind))
        if model is None:
            tline, tcol = src.where(("steps", sid, "type"))
            found.append(Diagnostic(file, tline, tcol, "IVR101",
                                    f"step '{sid}': unknown step type '{kind}'"
                                    f"{_did_you_mean(str(kind), models)}"))
            continue
        try:
            model.model_validate(body)
        except ValidationError as exc:
            found += _schema_diagnostics(exc, model, ("steps", sid), src,
                                         f"{kind} step '{sid}'")
    if any(d.severity == "error" for d in found):
        return None, found
    spec = flow_file.model_validate(data)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Flow(spec.flow, version, file, spec, src), found


def _declared_name(path: Path) -> str:
    """The ``flow:`` name of a file that failed validation (or its file name); read
    within the same bounds, so a hostile file costs no more here than when parsed."""
    try:
        data = load_file(path).data
    except (OSError, yaml.YAMLError):
        return path.stem
    flow = data.get("flow") if isinstance(data, dict) else None
    return str(flow) if isinstance(flow, str) else path.stem


def flow_files(paths: typing.Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files


def load_flow_set(paths: typing.Iterable[Path], prompts_dir: Path = PROMPTS_DIR
                  ) -> tuple[FlowSet | None, list[Diagnostic]]:
    """Every layer over a set of files. The set is None when any error was found."""
    from ivr.flows.checks import check_references
    from ivr.flows.safety import check_safety

    prompts, raw_prompts, found = load_prompts(prompts_dir)
    flows: dict[str, Flow] = {}
    broken: set[str] = set()
    for path in flow_files(paths):
        flow, diags = parse_flow_file(path)
        found += diags
        if flow is None:
            broken.add(_declared_name(path))
            continue
        if flow.name in flows:
            line, col = flow.where("flow")
            found.append(Diagnostic(flow.path, line, col, "IVR109",
                                    f"flow name '{flow.name}' is already used by "
                                    f"{flows[flow.name].path}"))
            continue
        # the version covers the prompts the flow speaks, too
        extra = "".join(raw_prompts.get(lang, "") for lang in flow.spec.languages)
        version = hashlib.sha256((flow.version + extra).encode()).hexdigest()[:12]
        flows[flow.name] = Flow(flow.name, version, flow.path, flow.spec, flow.source)
    found += check_references(flows, prompts, str(prompts_dir), broken)
    # Safety needs every target to exist; other findings (unreachable steps, prompts)
    # must not hide a red-flag problem.
    if not any(d.code in BLOCKS_SAFETY for d in found):
        found += check_safety(flows)
    if any(d.severity == "error" for d in found):
        return None, sorted(found)
    set_version = hashlib.sha256("".join(sorted(f.version for f in flows.values()))
                                 .encode()).hexdigest()[:12]
    return FlowSet(flows, prompts, set_version), sorted(found)


def load_flow_set_or_raise(paths: typing.Iterable[Path],
                           prompts_dir: Path = PROMPTS_DIR) -> FlowSet:
    flow_set, found = load_flow_set(paths, prompts_dir)
    if flow_set is None:
        raise FlowValidationError(found)
    return flow_set

"""Reading ``privacy.yaml``: one file, one section per module, errors with positions.

Each module (masking, retention) validates its own section with pydantic; this
module turns the file into data and pydantic's errors into lines such as
``privacy.yaml:14:16: retention.recordings: Input should be greater than or equal to 1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import Source, load_file
from ivr.privacy._errors import PrivacyConfigError
from ivr.settings import PROJECT_ROOT

PRIVACY_FILE = PROJECT_ROOT / "privacy.yaml"
SECTIONS = ("masking", "retention")

M = TypeVar("M", bound=BaseModel)


def read_section(path: Path, key: str) -> tuple[Any, Source] | None:
    """The ``key`` section of the file (None inside the tuple if absent); None if no file."""
    try:
        src = load_file(path)  # bounded: size, aliases, nesting, UTF-8
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PrivacyConfigError([f"{path}: cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = exc.problem if isinstance(exc, YAMLBoundsError) else f"invalid YAML: {exc}"
        raise PrivacyConfigError([f"{where}: {what}"]) from None
    findings = [f"{src.file}:{line}:{col}: {_dotted(p)}: duplicate key"
                for p, line, col in src.duplicates]
    if src.data is None:
        src.data = {}
    if not isinstance(src.data, dict):
        findings.append(f"{path}:1:1: expected a mapping with sections {', '.join(SECTIONS)}")
    else:
        for name in src.data:
            if name not in SECTIONS:
                line, col = src.where((name,))
                findings.append(f"{path}:{line}:{col}: {name}: unknown section "
                                f"(known: {', '.join(SECTIONS)})")
    if findings:
        raise PrivacyConfigError(findings)
    return src.data.get(key), src


def validate(model: type[M], data: Any, src: Source | None, key: str,
             origin: str = "<config>") -> M:
    """``model`` built from ``data``; every pydantic error becomes a positioned finding."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        findings = []
        for err in exc.errors():
            path = (key, *err["loc"])
            where = origin if src is None else "{}:{}:{}".format(src.file, *src.where(path))
            message = err["msg"].removeprefix("Value error, ")  # our own validators' text
            findings.append(f"{where}: {_dotted(path)}: {message}")
        raise PrivacyConfigError(findings) from exc


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"

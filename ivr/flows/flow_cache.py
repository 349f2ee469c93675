"""A validated flow set kept on disk, so a process per call (``ivr-eagi``) does not
parse and check every flow again on every call.

The set is pickled once it passed every layer (``load_flow_set``), under a key that
changes when anything it was made from changes: the flow and prompt files' bytes
(recordings: name, size and mtime), the code that checks them (``ivr/flows`` sources:
name, size and mtime) and the Python and pydantic versions. A cache file whose key
does not match, or that does not load, is ignored and replaced: the worst a stale or
damaged cache costs is one full validation. Only the shipped step types are cached
(a registry extended by a test builds its own). Files are 0600 in a 0700 folder: the
set holds the prompts' texts, nothing about callers, but it is the line's behaviour.
"""

from __future__ import annotations

import copyreg
import hashlib
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pydantic

from ivr.flows.loader import flow_files, load_flow_set
from ivr.flows.model import FlowSet
from ivr.flows.registry import STEPS

log = logging.getLogger(__name__)

FLOWS_CODE = Path(__file__).resolve().parent


def _rebuild_flow_file(values: dict[str, Any], fields_set: set[str]) -> Any:
    return STEPS.flow_file().model_construct(_fields_set=fields_set, **values)


def _reduce_flow_file(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    return _rebuild_flow_file, (dict(obj.__dict__), set(obj.model_fields_set))


# the flow-file model is made at run time (its steps typed on the registry's union),
# so pickle cannot name its class: it is rebuilt from the registry instead
copyreg.pickle(STEPS.flow_file(), _reduce_flow_file)


def cache_key(dialplans: Path, prompts: Path) -> str:
    """Changes whenever the flow set, or what validates it, could differ."""
    h = hashlib.sha256()
    h.update(f"{sys.version}|pydantic {pydantic.VERSION}|".encode())
    for code in sorted(FLOWS_CODE.rglob("*.py")):
        st = code.stat()
        h.update(f"{code.relative_to(FLOWS_CODE)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for path in sorted([*flow_files([dialplans]), *prompts.glob("*.yaml")]):
        h.update(f"{path}\n".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    for wav in sorted(prompts.glob("*/*.wav")):
        st = wav.stat()
        h.update(f"{wav}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_flow_set(dialplans: Path, prompts: Path, cache_dir: Path
                    ) -> tuple[FlowSet | None, list[Any]]:
    """``load_flow_set([dialplans], prompts)``, from ``cache_dir`` when it holds the set
    for exactly these files; a freshly validated set is written there."""
    key = cache_key(dialplans, prompts)
    path = cache_dir / f"flows-{key[:32]}.pickle"
    try:
        with path.open("rb") as f:
            flow_set = pickle.load(f)
        if isinstance(flow_set, FlowSet):
            return flow_set, []
    except FileNotFoundError:
        pass
    except Exception:  # damaged, or from code that no longer matches: validate again
        log.warning("flow cache %s unreadable: validating the flows", path, exc_info=True)
    flow_set, found = load_flow_set([dialplans], prompts)
    if flow_set is not None:
        try:
            _write_private(path, pickle.dumps(flow_set, protocol=pickle.HIGHEST_PROTOCOL))
            for old in cache_dir.glob("flows-*.pickle"):
                if old != path:
                    old.unlink(missing_ok=True)
        except Exception:  # a read-only folder: each call validates, nothing worse
            log.warning("flow cache %s not written", path, exc_info=True)
    return flow_set, found


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)

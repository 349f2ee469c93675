"""The validated flow set kept for ``ivr-eagi``: the same set back, private on disk, and
a changed or damaged cache never serves a stale set."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from ivr.flows.flow_cache import cached_flow_set
from ivr.flows.reloader import FlowStore

ROOT = Path(__file__).resolve().parents[2]


def copy_line(tmp_path: Path) -> tuple[Path, Path]:
    dialplans, prompts = tmp_path / "dialplans", tmp_path / "prompts"
    shutil.copytree(ROOT / "dialplans", dialplans, ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(ROOT / "prompts", prompts)
    return dialplans, prompts


def test_the_cached_set_is_the_validated_set(tmp_path):
    dialplans, prompts = copy_line(tmp_path)
    cache = tmp_path / "state" / "flow-cache"
    first, _ = cached_flow_set(dialplans, prompts, cache)
    (pickled,) = cache.glob("flows-*.pickle")
    assert stat.S_IMODE(pickled.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    again, found = cached_flow_set(dialplans, prompts, cache)
    assert found == [] and again is not first and again.version == first.version
    assert again.flows.keys() == first.flows.keys()
    main, main0 = again.flows["main"], first.flows["main"]
    assert main.steps.keys() == main0.steps.keys() and main.spec == main0.spec
    assert again.prompts == first.prompts


def test_an_edit_or_a_damaged_cache_validates_again(tmp_path):
    dialplans, prompts = copy_line(tmp_path)
    cache = tmp_path / "flow-cache"
    first, _ = cached_flow_set(dialplans, prompts, cache)
    main = dialplans / "main.yaml"
    main.write_text(main.read_text() + "\n# edited\n")
    edited, _ = cached_flow_set(dialplans, prompts, cache)
    assert edited.version != first.version
    assert len(list(cache.glob("flows-*.pickle"))) == 1  # the old one went
    next(cache.glob("flows-*.pickle")).write_bytes(b"not a pickle")
    again, _ = cached_flow_set(dialplans, prompts, cache)
    assert again.version == edited.version


def test_an_invalid_edit_is_not_cached_and_still_rejected(tmp_path):
    dialplans, prompts = copy_line(tmp_path)
    cache = tmp_path / "flow-cache"
    store = FlowStore(dialplans, prompts, cache_dir=cache)
    store.load()
    good = store.current.version
    (dialplans / "main.yaml").write_text("flow: [broken\n")
    assert store.load() is False and store.current.version == good and store.last_errors

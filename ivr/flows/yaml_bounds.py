"""Bounds on every YAML file the engine and its tools read, checked before composing.

A YAML file is hostile input as soon as someone other than its author can save it
(a shared folder, a mistaken paste, a hot-reloaded edit). Unbounded, PyYAML expands
aliases (429 bytes of "billion laughs" grew past 1.8 GB), composes a 50 MB file for
minutes, recurses into deep nesting until ``RecursionError`` and tracebacks on bytes
that are not UTF-8. Each refusal here is a :class:`YAMLBoundsError`, a
``yaml.MarkedYAMLError`` with the position where the bound was passed, so every loader
reports it as its usual ``file:line:col`` finding, in bounded time and memory.

The limits, and why:

- ``MAX_BYTES`` 2 MiB: the largest real file (``triage_examples.yaml``) is 280 KB;
  7x headroom, and reading stops at ``MAX_BYTES`` + 1 bytes (``/dev/zero`` or a file
  growing while read cannot make it unbounded).
- ``MAX_NODES`` 50,000 YAML nodes counted with every alias expanded (an alias costs
  its anchor's whole size): the largest real file has 21,000; a file at the bound
  composes in about 1 s and tens of MB, whatever its aliases. A data set that grows
  by design passes a bound of its own (``max_nodes``): the meaning screen's labelled
  examples (``ivr.triage.examples.MAX_NODES``).
- ``MAX_DEPTH`` 50 nested collections: real files nest under 10; the composer and
  every walk over the data recurse once per level.

The count is one pass over the parser's events with constant work per event (the
expanded size of each anchor is kept), libyaml's parser when PyYAML has it (about 20x
faster), else PyYAML's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 50


class YAMLBoundsError(yaml.MarkedYAMLError):
    """The text passes a bound (size, nodes, depth, recursion) or is not UTF-8."""

    def __init__(self, file: str, line: int, col: int, problem: str) -> None:
        super().__init__(problem=problem,
                         problem_mark=yaml.Mark(file, 0, line - 1, col - 1, None, None))


def read_text(path: Path) -> str:
    """The file's text, reading at most ``MAX_BYTES`` + 1 bytes; YAMLBoundsError if it is
    larger or not UTF-8 (the position of the first bad byte). OSError propagates."""
    with Path(path).open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    return decode(data, str(path))


def decode(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text within ``MAX_BYTES``, or YAMLBoundsError."""
    if len(data) > MAX_BYTES:
        raise YAMLBoundsError(file, 1, 1, f"the file is larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[start:exc.start].decode("utf-8")) + 1  # characters, as editors count
        raise YAMLBoundsError(file, line, col, f"not UTF-8 text (byte 0x{data[exc.start]:02x}"
                              f" at offset {exc.start})") from None


def check(text: str, file: str, max_nodes: int = MAX_NODES) -> None:
    """Raise YAMLBoundsError at the first bound ``text`` passes. A syntax error is left
    to the composer, which reports it with its own position."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YAMLBoundsError(file, 1, 1, f"the file is larger than {MAX_BYTES} bytes")
    for loader in filter(None, (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader)):
        try:
            _count(text, file, loader, max_nodes)
            return
        except YAMLBoundsError:
            raise
        except (yaml.YAMLError, UnicodeError):
            continue  # libyaml refuses it (its own limits, lone surrogates): PyYAML's turn


def _count(text: str, file: str, loader: Any, max_nodes: int) -> None:
    anchors: dict[str, int] = {}  # anchor -> nodes it stands for, once its node is complete
    open_: list[tuple[str | None, int]] = []  # (anchor, total when the collection began)
    total = 0
    for event in yaml.parse(text, Loader=loader):
        mark = event.start_mark
        if isinstance(event, yaml.CollectionStartEvent):
            total += 1
            open_.append((event.anchor, total))
            if len(open_) > MAX_DEPTH:
                raise YAMLBoundsError(file, mark.line + 1, mark.column + 1,
                                      f"nested more than {MAX_DEPTH} deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, began = open_.pop()
            if anchor is not None:
                anchors[anchor] = total - began + 1
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors and any(a == event.anchor for a, _ in open_):
                raise YAMLBoundsError(file, mark.line + 1, mark.column + 1,
                                      f"alias '*{event.anchor}' refers to a node that "
                                      "contains it (a recursive structure)")
            total += anchors.get(event.anchor, 1)  # undefined: the composer reports it
        if total > max_nodes:
            raise YAMLBoundsError(file, mark.line + 1, mark.column + 1,
                                  f"more than {max_nodes} YAML nodes with aliases expanded "
                                  "(an alias repeats its whole anchor)")

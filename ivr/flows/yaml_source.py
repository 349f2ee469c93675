"""YAML with source positions: every node's ``line:col`` kept beside the data.

PyYAML silently keeps the last of two equal keys; a duplicated DTMF option or
step id must be an error, so composition reports duplicates here. Every text is
checked against ``ivr.flows.yaml_bounds`` first (size, aliases, nesting), so no file
can make composing it unbounded; every failure is a ``yaml.MarkedYAMLError``.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from ivr.flows import yaml_bounds

Path = tuple[str | int, ...]


@dataclass
class Source:
    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[Path, int, int]] = field(default_factory=list)

    def where(self, path: Path) -> tuple[int, int]:
        """Position of ``path``, or of its nearest existing parent."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))


def _walk(node: yaml.Node, path: Path, src: Source, scalars: yaml.SafeLoader) -> Any:
    src.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (_scalar(key_node, scalars) if isinstance(key_node, yaml.ScalarNode)
                   else f"<a {key_node.id} as a key>")
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                src.duplicates.append(((*path, key), key_node.start_mark.line + 1,
                                       key_node.start_mark.column + 1))
            out[key] = _walk(value_node, (*path, key), src, scalars)
            # keys point at the key itself: "unknown key" errors land on it
            src.positions[(*path, key)] = (key_node.start_mark.line + 1,
                                            key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), src, scalars) for i, item in enumerate(node.value)]
    return _scalar(node, scalars)


def _scalar(node: yaml.Node, scalars: yaml.SafeLoader) -> Any:
    """A scalar as PyYAML's safe loader would build it (null, bool, int, date, text).
    A value its tag cannot hold (``2024-13-45``, ``!!int x``, an int of 5,000 digits)
    is a ConstructorError at the node, never a ValueError from deep inside PyYAML."""
    try:
        return scalars.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # PyYAML's constructors raise ValueError, KeyError, ...
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {node.value[:40]!r} as {node.tag.rsplit(':', 1)[-1]}: "
            f"{exc}", node.start_mark) from None


def load_source(text: str, file: str, max_nodes: int = yaml_bounds.MAX_NODES) -> Source:
    """Parse ``text`` within the bounds; raises yaml.YAMLError (a MarkedYAMLError with
    the position: syntax, a bound passed, a value its tag cannot hold)."""
    yaml_bounds.check(text, file, max_nodes)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:  # the one YAMLError without a position
        pos = exc.position
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        raise yaml.MarkedYAMLError(
            problem=f"character #x{exc.character:04x} is not allowed in YAML",
            problem_mark=yaml.Mark(file, pos, line - 1, col - 1, None, None)) from None
    src = Source(file, None)
    src.data = _walk(node, (), src, yaml.SafeLoader("")) if node is not None else None
    return src


def load_file(path: pathlib.Path) -> Source:
    """The file read within the bounds (size, UTF-8) and parsed: raises yaml.YAMLError
    as :func:`load_source`; OSError (missing, unreadable) propagates."""
    return load_source(yaml_bounds.read_text(path), str(path))

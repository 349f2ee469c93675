"""YAML with source positions: every node's ``line:col`` kept beside the data.

PyYAML silently keeps the last of two equal keys; a duplicated DTMF option or
step id must be an error, so composition reports duplicates here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

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


def _walk(node: yaml.Node, path: Path, src: Source) -> Any:
    src.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else key_node.value
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                src.duplicates.append(((*path, key), key_node.start_mark.line + 1,
                                       key_node.start_mark.column + 1))
            out[key] = _walk(value_node, (*path, key), src)
            # keys point at the key itself: "unknown key" errors land on it
            src.positions[(*path, key)] = (key_node.start_mark.line + 1,
                                            key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), src) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """A scalar as PyYAML's safe loader would build it (null, bool, int, date, text)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def load_source(text: str, file: str) -> Source:
    """Parse ``text``; raises yaml.YAMLError on syntax errors."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    src = Source(file, None)
    src.data = _walk(node, (), src) if node is not None else None
    return src

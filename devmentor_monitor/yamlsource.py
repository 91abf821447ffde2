"""YAML loaded with its line numbers, so every config error can name file, line and key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""

    def __init__(self, source: str, line: int | None, key: str, message: str) -> None:
        self.source, self.line, self.key, self.message = source, line, key, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass(slots=True)
class Node:
    """One YAML value and the line (1-based) it starts on."""

    value: Any  # dict[str, Node] | list[Node] | scalar
    line: int
    key_line: int = 0  # line of the mapping key that holds it, when there is one

    @property
    def where(self) -> int:
        return self.key_line or self.line


# libyaml's parser when PyYAML has it: same nodes and marks, several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, source: str) -> Node:
    """Parse ``text``; a syntax error or duplicate key becomes a ConfigError."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(source, line, "", f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - defensive
        raise ConfigError(source, None, "", f"YAML error: {exc}") from None
    if root is None:
        return Node({}, 1)
    return _convert(root, source, "")


def _convert(node: yaml.Node, source: str, path: str) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str):
                key = str(key)
            child_path = f"{path}.{key}" if path else key
            key_line = key_node.start_mark.line + 1
            if key in out:
                raise ConfigError(source, key_line, child_path, "duplicate key")
            child = _convert(value_node, source, child_path)
            child.key_line = key_line
            out[key] = child
        return Node(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Node(
            [_convert(n, source, f"{path}[{i}]") for i, n in enumerate(node.value)], line
        )
    return Node(_scalar(node), line)


_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return _CONSTRUCTOR.construct_object(node, deep=True)


def plain(node: Node) -> Any:
    """The Python value of a Node tree, without line numbers."""
    if isinstance(node.value, dict):
        return {k: plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) for v in node.value]
    return node.value

"""YAML loaded with its line numbers, so every config error can name file, line and key.

Bounded, since a services file may come from anyone: at most MAX_BYTES of text, MAX_DEPTH
levels, MAX_ALIAS_NODES values copied by aliases (a 370-byte "billion laughs" file would
otherwise expand to hundreds of millions), and no alias inside its own anchor.
"""

from __future__ import annotations

from typing import Any

import msgspec
import yaml


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""

    def __init__(self, source: str, line: int | None, key: str, message: str) -> None:
        self.source, self.line, self.key, self.message = source, line, key, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")

    @property
    def errors(self) -> list[ConfigError]:
        """Every problem found (this one alone here; ConfigErrors holds several)."""
        return [self]


class ConfigErrors(ConfigError):
    """Several problems in one file, reported together; the first one's source, line,
    key and message are this error's own, so code that reads one still works."""

    def __init__(self, errors: list[ConfigError], *, capped: bool = False) -> None:
        ordered = sorted(errors, key=lambda e: e.line or 0)  # as they appear in the file
        first = ordered[0]
        super().__init__(first.source, first.line, first.key, first.message)
        self._errors, self.capped = ordered, capped

    @property
    def errors(self) -> list[ConfigError]:
        return list(self._errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self._errors)


MAX_BYTES = 1 << 20  # 1 MiB: ten thousand services fit with room to spare
MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000


class Node(msgspec.Struct):
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
    """Parse ``text``; a syntax error, duplicate key or a limit passed is a ConfigError."""
    if len(text) > MAX_BYTES:
        raise ConfigError(source, None, "", f"too large: over {MAX_BYTES:,} characters")
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
    try:
        return _Converter(source).convert(root, "", 0, 1)
    finally:  # it remembers every scalar node it built: 2 MiB kept at 1,000 services
        _CONSTRUCTOR.constructed_objects.clear()


class _Converter:
    """yaml nodes → Nodes, within the limits. An alias is the anchor's node met again,
    so a node converted twice is a copy, and one met inside itself is a loop."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: set[int] = set()
        self.inside: set[int] = set()  # nodes being converted (ancestors of this one)
        self.copies = 0

    def convert(self, node: yaml.Node, path: str, depth: int, home: int) -> Node:
        """``home`` is the line of the nearest value written in the file (not copied by
        an alias): where an error inside a copy is reported."""
        ident = id(node)
        if ident in self.inside:
            raise ConfigError(
                self.source, home, path, "recursive alias: an anchor contains an alias to itself"
            )
        if depth > MAX_DEPTH:
            raise ConfigError(self.source, home, path, f"nested deeper than {MAX_DEPTH} levels")
        if ident in self.seen:
            self.copies += 1
            if self.copies > MAX_ALIAS_NODES:
                raise ConfigError(
                    self.source,
                    home,
                    path,
                    f"aliases expand to over {MAX_ALIAS_NODES:,} values (an alias bomb?)",
                )
        else:
            home = node.start_mark.line + 1
        self.seen.add(ident)
        self.inside.add(ident)
        try:
            return self._node(node, path, depth, home)
        finally:
            self.inside.discard(ident)

    def _node(self, node: yaml.Node, path: str, depth: int, home: int) -> Node:
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
                    raise ConfigError(self.source, key_line, child_path, "duplicate key")
                child = self.convert(value_node, child_path, depth + 1, home)
                child.key_line = key_line
                out[key] = child
            return Node(out, line)
        if isinstance(node, yaml.SequenceNode):
            return Node(
                [
                    self.convert(n, f"{path}[{i}]", depth + 1, home)
                    for i, n in enumerate(node.value)
                ],
                line,
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

"""Typed reads of a YAML Node tree for the config schemas (config.py, notify/settings.py).

Every failed read raises a ConfigError naming file, line and key, in the wording the
services.yaml docs and tests use; `Reader` can also collect several of them (up to
MAX_ERRORS) so one run reports every problem in a file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .units import parse_duration
from .yamlsource import ConfigError, ConfigErrors, Node

T = TypeVar("T")
MAX_ERRORS = 20  # problems reported from one file; reading stops at the twentieth
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")  # service, rule, channel and key names


class Reader:
    """Typed access to a Node tree; every failure raises a ConfigError with line and key.

    With ``collect``, `attempt` notes a failure and lets the caller carry on with a
    default, so one run finds every problem in the file; `done` then raises them all
    together. Without it (a section read on its own), the first failure is raised."""

    def __init__(self, source: str, *, collect: bool = False) -> None:
        self.source = source
        self.collect = collect
        self.errors: list[ConfigError] = []

    def fail(self, node: Node | None, key: str, message: str) -> ConfigError:
        return ConfigError(self.source, node.where if node else None, key, message)

    def note(self, error: ConfigError) -> None:
        """Keep a problem for the report; stop reading at MAX_ERRORS."""
        if not self.collect or isinstance(error, ConfigErrors):
            raise error  # reading one section, or the cap reached further down
        if str(error) not in {str(e) for e in self.errors}:
            self.errors.append(error)
        if len(self.errors) >= MAX_ERRORS:
            raise ConfigErrors(self.errors, capped=True)

    @contextlib.contextmanager
    def noting(self) -> Iterator[None]:
        """Run a block; a ConfigError in it is noted, and reading goes on after it."""
        try:
            yield
        except ConfigError as exc:
            self.note(exc)

    def attempt(self, read: Callable[[], T], default: T) -> T:
        """``read()``, or ``default`` once its ConfigError is noted."""
        with self.noting():
            return read()
        return default

    def done(self, value: T | None) -> T:
        """``value`` if nothing was wrong; otherwise every problem, raised at once."""
        if len(self.errors) > 1:
            raise ConfigErrors(self.errors)
        if self.errors:
            raise self.errors[0]
        assert value is not None, "a failed read always notes an error"
        return value

    def mapping(self, node: Node, key: str, allowed: set[str] | None) -> dict[str, Node]:
        """A mapping; keys outside ``allowed`` (None: any key is fine) are noted as
        errors and the rest is read anyway."""
        if not isinstance(node.value, dict):
            raise self.fail(node, key, f"must be a mapping, got {kind_of(node.value)}")
        for name, child in node.value.items() if allowed is not None else ():
            if allowed is not None and name not in allowed:
                path = f"{key}.{name}" if key else name
                hint = ", ".join(sorted(allowed))
                self.note(self.fail(child, path, f"unknown key (allowed: {hint})"))
        return node.value

    def number(
        self,
        node: Node,
        key: str,
        *,
        positive: bool = False,
        lo: float | None = None,
        hi: float | None = None,
        integer: bool = False,
    ) -> float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            want = "an integer" if integer else "a number"
            raise self.fail(node, key, f"must be {want}, got {show_value(value)}")
        if integer and not isinstance(value, int):
            raise self.fail(node, key, f"must be an integer, got {show_value(value)}")
        if positive and value <= 0:
            raise self.fail(node, key, f"must be positive, got {show_value(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(
                node, key, f"must be between {lo:g} and {hi:g}, got {show_value(value)}"
            )
        return value

    def integer(self, node: Node, key: str, **kw: Any) -> int:
        return int(self.number(node, key, integer=True, **kw))

    def duration(self, node: Node, key: str, *, positive: bool = True) -> float:
        try:
            seconds = parse_duration(node.value)
        except ValueError as exc:
            raise self.fail(node, key, str(exc)) from None
        if positive and seconds <= 0:
            raise self.fail(node, key, f"must be a positive duration, got {show_value(node.value)}")
        return seconds

    def string(self, node: Node, key: str) -> str:
        if not isinstance(node.value, str) or not node.value.strip():
            raise self.fail(node, key, f"must be a non-empty string, got {show_value(node.value)}")
        return node.value

    def boolean(self, node: Node, key: str) -> bool:
        if not isinstance(node.value, bool):
            raise self.fail(node, key, f"must be true or false, got {show_value(node.value)}")
        return node.value

    def str_list(self, node: Node, key: str) -> tuple[str, ...]:
        if not isinstance(node.value, list):
            raise self.fail(node, key, f"must be a list, got {kind_of(node.value)}")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(node.value))

    def named_items(
        self, node: Node | None, section: str, what: str
    ) -> Iterator[tuple[str, str, Node, dict[str, Node]]]:
        """Entries of a list of named mappings (services, channels), each with a
        well-formed, unique `name`: yields (name, key path, item node, its mapping)."""
        if node is None or node.value is None:
            return
        if not isinstance(node.value, list):
            raise self.fail(node, section, f"must be a list of {what}s, got {kind_of(node.value)}")
        seen: dict[str, int] = {}
        for i, item in enumerate(node.value):
            named = self.attempt(partial(self._named, section, what, i, item, seen), None)
            if named is not None:
                yield named

    def _named(
        self, section: str, what: str, i: int, item: Node, seen: dict[str, int]
    ) -> tuple[str, str, Node, dict[str, Node]]:
        key = f"{section}[{i}]"
        m = self.mapping(item, key, None)
        if "name" not in m:
            raise self.fail(item, key, "missing required key 'name'")
        name = self.string(m["name"], f"{key}.name")
        if not _NAME.match(name):
            raise self.fail(
                m["name"],
                f"{key}.name",
                f"{name!r} must be lower-case letters, digits, '-', '_' or '.'",
            )
        key = f"{section}.{name}"
        if name in seen:
            raise self.fail(
                m["name"], key, f"duplicate {what} (first defined on line {seen[name]})"
            )
        seen[name] = m["name"].where
        return name, key, item, m

    def url(self, node: Node, key: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
        text = self.string(node, key)
        problem = url_problem(text, schemes)
        if problem:
            raise self.fail(node, key, problem)
        return text


def url_problem(text: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``text`` is not a usable URL of one of ``schemes``, or None."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"malformed URL {text!r}: {exc}"
    if parts.scheme not in schemes:
        return f"malformed URL {text!r}: scheme must be {' or '.join(schemes)}"
    if not parts.hostname:
        return f"malformed URL {text!r}: no host"
    if port == 0:
        return f"malformed URL {text!r}: port 0"
    return None


def kind_of(value: object) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def show_value(value: object) -> str:
    return "nothing" if value is None else repr(value)

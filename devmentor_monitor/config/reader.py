"""Typed reads of a YAML Node tree for the config schemas (config.py, notify/settings.py).

Every failed read raises a ConfigError naming file, line and key, in the wording the
services.yaml docs and tests use; `Reader` can also collect several of them (up to
MAX_ERRORS) so one run reports every problem in a file.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from functools import partial
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from devmentor_monitor.config.yaml_lines import ConfigError, ConfigErrors, Node
from devmentor_monitor.units import parse_duration

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
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


# --------------------------------------------------------------------------- declared sections
# A section is declared once, as a frozen msgspec Struct: each field's type (with `Meta`
# bounds and the markers below) says how it is read, its default what an absent key means,
# and its name the key (`msgspec.field(name="retry.base")`: a key one mapping down).
# `read_struct` reads a Node mapping by that declaration with the Reader's checks above,
# so every message, line and key is the Reader's own.


def _kind(read: str, **extra: Any) -> Meta:
    return Meta(extra={"read": read, **extra})


Duration = Annotated[float, Meta(gt=0, extra={"read": "duration"})]
"""A positive duration: "10s", "250ms", "7d" or seconds."""
AnyDuration = Annotated[float, Meta(ge=0, extra={"read": "duration"})]
"""A duration that may be 0."""
Positive = Annotated[int, Meta(gt=0)]
Percent = Annotated[float, Meta(ge=0, le=100)]
Url = Annotated[str, _kind("url")]
"""An http(s) URL."""
StrMap = tuple[tuple[str, str], ...]
"""A mapping of names to non-empty strings, kept in file order."""
ScalarMap = Annotated[tuple[tuple[str, Any], ...], _kind("scalars")]
"""A mapping of names to plain values (string, number, true/false)."""
Nullable = Meta(extra={"null": True})
"""On an optional field: a key written empty (null) reads as None, not as an error."""


NotInFile = Meta(extra={"file": False})
"""On a field the file does not write (where the config came from, overrides)."""


class Fields:
    """One mapping node read by a Struct's declaration: unknown keys are noted at once;
    each field is then read when asked for, so a caller may read them in its own order
    and collect each one's problem on its own."""

    def __init__(
        self,
        r: Reader,
        cls: type[msgspec.Struct],
        node: Node | None,
        key: str,
        only: Callable[[dict[str, Any]], bool] | None = None,
        also: tuple[str, ...] = (),
    ) -> None:
        """``only``: given a field's Meta extras, whether this node may write it; ``also``:
        keys read by the caller that are not fields (alert rules' above / below)."""
        self.r, self.key, self.at = r, key, node
        self.fields = {
            f.name: f
            for f in _declared(cls)
            if NotInFile not in _metas(f.type) and (only is None or only(_extra(f.type)))
        }
        names = [f.encode_name for f in self.fields.values()]
        self.empty = node is None or node.value is None
        self.m = (
            {}
            if node is None or self.empty
            else r.mapping(node, key, {n.partition(".")[0] for n in names} | set(also))
        )
        self.names = names
        self._groups: dict[str, dict[str, Node]] = {}

    def node(self, name: str) -> Node | None:
        """The node written for field ``name`` (None: not written)."""
        group, _, sub = self.fields[name].encode_name.rpartition(".")
        if not group:
            return self.m.get(sub)
        if group not in self._groups:
            inner = self.m.get(group)
            allowed = {n.partition(".")[2] for n in self.names if n.startswith(group + ".")}
            self._groups[group] = (
                {}
                if inner is None or inner.value is None
                else self.r.mapping(inner, _join(self.key, group), allowed)
            )
        return self._groups[group].get(sub)

    def missing(self, template: str, skip: Any = ()) -> None:
        """Raise if a field without a default is not written: ``template`` gets the names."""
        absent = sorted(
            f.encode_name
            for f in self.fields.values()
            if f.default is msgspec.NODEFAULT
            and f.default_factory is msgspec.NODEFAULT
            and f.name not in skip
            and self.node(f.name) is None
        )
        if absent:
            raise self.r.fail(self.at, self.key, template.format(", ".join(absent)))

    def read(self, name: str, default: Any = msgspec.NODEFAULT) -> Any:
        """Field ``name`` as written, or ``default`` (else the declared one) when absent."""
        f = self.fields[name]
        child = self.node(name)
        if default is msgspec.NODEFAULT:
            default = f.default
        if child is None or (child.value is None and Nullable in _metas(f.type)):
            return default
        return read_typed(self.r, f.type, child, _join(self.key, f.encode_name))


def read_struct(
    r: Reader,
    cls: type[S],
    node: Node | None,
    key: str,
    *,
    defaults: dict[str, Any] | None = None,
    missing: str = "missing {}",
    then: Callable[[Fields], dict[str, Any]] | None = None,
    **given: Any,
) -> S:
    """A `cls` from a mapping node (None or empty: the declared defaults, or ``defaults``).
    Unknown keys are noted; a field without a default that is not written raises
    ``missing``; ``then`` (given the Fields) computes fields or checks before any is read;
    the rest are read in declaration order and the first bad one raises. ``given`` fields
    are not read from the file (the caller computed them)."""
    values = {**(defaults or {}), **given}
    if node is None or node.value is None:
        return cls(**values)
    fields = Fields(r, cls, node, key)
    fields.missing(missing, skip=given)
    fixed = set(given)
    if then is not None:
        computed = then(fields)
        values.update(computed)
        fixed.update(computed)
    for name in fields.fields:
        if name not in fixed and fields.node(name) is not None:
            values[name] = fields.read(name)
    return cls(**values)


@functools.cache
def _declared(cls: type[msgspec.Struct]) -> tuple[msgspec.structs.FieldInfo, ...]:
    """A Struct's fields with their types resolved, once per class (resolving is slow)."""
    return msgspec.structs.fields(cls)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _metas(tp: Any) -> tuple[Any, ...]:
    return get_args(tp)[1:] if get_origin(tp) is Annotated else ()


def _extra(tp: Any) -> dict[str, Any]:
    return {k: v for x in _metas(tp) if isinstance(x, Meta) for k, v in (x.extra or {}).items()}


def read_typed(r: Reader, tp: Any, node: Node, key: str) -> Any:
    """One value read by its declared type."""
    metas: list[Meta] = []
    if get_origin(tp) is Annotated:
        tp, *extras = get_args(tp)
        metas = [x for x in extras if isinstance(x, Meta)]
    extra = {k: v for x in metas for k, v in (x.extra or {}).items()}
    meta = next((x for x in metas if x.ge is not None or x.gt is not None), Meta())
    if "read" in extra:
        return _READS[extra["read"]](r, node, key, meta, extra)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or isinstance(tp, UnionType):  # X | None: None is the default
        return read_typed(r, next(a for a in args if a is not type(None)), node, key)
    if tp is bool:
        return r.boolean(node, key)
    if tp is int:
        return r.integer(node, key, positive=meta.gt == 0, **_bounds(meta))
    if tp is float:
        return r.number(node, key, positive=meta.gt == 0, **_bounds(meta))
    if tp is str:
        return r.string(node, key)
    if origin is Literal:
        value = r.string(node, key)
        if value not in args:
            message = extra.get("choice", "must be one of {choices}")
            raise r.fail(node, key, message.format(choices=", ".join(args), value=value))
        return value
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        r.mapping(node, key, None)  # written empty is an error here, not the defaults
        return read_struct(r, tp, node, key)
    if origin is tuple and args == (str, ...):
        return r.str_list(node, key)
    if origin is tuple and args[0] == tuple[str, str]:
        return tuple((k, r.string(v, f"{key}.{k}")) for k, v in r.mapping(node, key, None).items())
    raise TypeError(f"{key}: no reader for {tp!r}")  # a declaration error, found by the tests


def choice(message: str) -> Meta:
    """On a Literal: the error's wording, with {choices} and {value}."""
    return Meta(extra={"choice": message})


def _bounds(meta: Meta) -> dict[str, Any]:
    return {"lo": meta.ge, "hi": meta.le} if meta.ge is not None and meta.le is not None else {}


def _read_duration(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> float:
    return r.duration(node, key, positive=meta.gt == 0)


def _read_url(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> str:
    return r.url(node, key, schemes=extra.get("schemes", ("http", "https")))


def _read_scalars(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[tuple[str, Any], ...]:
    out = []
    for name, child in r.mapping(node, key, None).items():
        if isinstance(child.value, dict | list):
            raise r.fail(
                child, f"{key}.{name}", "must be a plain value (string, number, true/false)"
            )
        out.append((name, child.value))
    return tuple(out)


Read = Callable[[Reader, Node, str, Meta, dict[str, Any]], Any]
_READS: dict[str, Read] = {
    "duration": _read_duration,
    "url": _read_url,
    "scalars": _read_scalars,
}


def reads(name: str) -> Callable[[Read], Read]:
    """Register a reader for values declared with ``Meta(extra={"read": name})``."""

    def register(read: Read) -> Read:
        _READS[name] = read
        return read

    return register

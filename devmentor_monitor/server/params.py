"""Request parsers shared by the API handlers: query parameters and JSON bodies.

A ``Param`` is both the parser the handler calls and the schema `/api/openapi.json`
states, so the document cannot promise a free string where the server enforces an
enum or a range. Parsing is strict: ASCII digits only, finite numbers, no parameter
given twice, JSON bodies only as application/json and bounded in size and depth.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from devmentor_monitor import boundedjson
from devmentor_monitor.aio import web
from devmentor_monitor.units import parse_duration

MAX_BODY = 64 * 1024
BODY_TIMEOUT = 10.0
_UNIX_TIME = r"[0-9]{1,12}(\.[0-9]{1,6})?"
_DURATION = r"[0-9]{1,9}(\.[0-9]{1,6})?(ms|s|m|h|d|w)"


class BadRequest(Exception):
    """A parameter or body the API cannot use; becomes a 400 with this message."""


class UnsupportedMediaType(Exception):
    """A body that is not JSON by its Content-Type; becomes a 415."""


class Param:
    """A query parameter's parser (ValueError on a bad value) and its OpenAPI schema."""

    def __init__(
        self, parse: Callable[[str], Any], schema: dict[str, Any], description: str = ""
    ) -> None:
        self.parse, self.schema, self.description = parse, schema, description

    def __call__(self, raw: str) -> Any:
        return self.parse(raw)


def choice(values: Iterable[str], description: str = "") -> Param:
    allowed = tuple(values)

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {raw!r}")
        return raw

    return Param(parse, {"type": "string", "enum": list(allowed)}, description)


def int_between(lo: int, hi: int, description: str = "") -> Param:
    def parse(raw: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,12}", raw, re.ASCII):
            raise ValueError(f"must be an integer between {lo} and {hi}")
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return Param(
        parse, {"type": "integer", "minimum": lo, "maximum": hi}, description or f"{lo}-{hi}"
    )


def duration_between(lo: float, hi: float, words: tuple[str, str], description: str = "") -> Param:
    """A duration such as 5m or 1h, from ``lo`` to ``hi`` seconds (``words`` spells them)."""

    def parse(raw: str) -> float:
        if not re.fullmatch(_DURATION, raw, re.ASCII):
            raise ValueError(f"malformed duration {raw!r} (use e.g. 10s, 500ms, 5m, 7d)")
        seconds = parse_duration(raw)
        if not lo <= seconds <= hi:
            raise ValueError(f"must be between {words[0]} and {words[1]}, got {raw!r}")
        return seconds

    return Param(parse, {"type": "string", "pattern": f"^{_DURATION}$"}, description)


def _since(raw: str) -> float:
    if re.fullmatch(_UNIX_TIME, raw, re.ASCII):
        return float(raw)
    if re.fullmatch(_DURATION, raw, re.ASCII):
        return time.time() - parse_duration(raw)
    raise ValueError("expected a Unix time (1700000000) or a duration ago (15m, 1h, 7d)")


since = Param(
    _since,
    {"type": "string", "pattern": f"^({_UNIX_TIME}|{_DURATION})$"},
    "Unix time, or a duration ago (15m, 1h, 7d)",
)
until = Param(_since, since.schema, "Unix time, or a duration ago; default now")
_SECONDS = r"[0-9]{1,9}(\.[0-9]{1,6})?"
MAX_STEP = 30 * 86400.0


def _step(raw: str) -> float:
    if re.fullmatch(_SECONDS, raw, re.ASCII):
        seconds = float(raw)
    elif re.fullmatch(_DURATION, raw, re.ASCII):
        seconds = parse_duration(raw)
    else:
        raise ValueError(f"expected seconds (60) or a duration (10s, 1m, 1h), got {raw!r}")
    if seconds > MAX_STEP:
        raise ValueError(f"must be at most 30d, got {raw!r}")
    return seconds


step = Param(
    _step,
    {"type": "string", "pattern": f"^({_SECONDS}|{_DURATION})$"},
    "Seconds or a duration (10s, 1m, 1h; 0 for every raw sample). It picks the tier: under "
    "1m raw samples (last 24 h), under 1h 1-minute rollups (last 7 d), else 1-hour rollups; "
    "from rollups it is rounded up to whole rollups.",
)
text = Param(str, {"type": "string"})
LIMIT = int_between(1, 1000, "1-1000")
WINDOW = duration_between(
    1.0, 7 * 86400.0, ("1s", "7d"), "History window: a duration such as 5m, 1h, 24h (1s to 7d)."
)


def query(request: web.Request, allowed: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Validate query parameters: unknown, repeated and bad ones are a 400, never ignored."""
    out: dict[str, Any] = {}
    for name in request.query:
        if name in out:
            continue
        parse = allowed.get(name)
        if parse is None:
            known = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(f"unknown query parameter {name!r} (allowed: {known})")
        values = request.query.getall(name)
        if len(values) > 1:
            raise BadRequest(f"query parameter {name!r} given {len(values)} times; give it once")
        try:
            out[name] = parse(values[0])
        except ValueError as exc:
            raise BadRequest(f"bad value for {name!r}: {exc}") from None
    return out


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def json_object(
    request: web.Request,
    *,
    required: frozenset[str] = frozenset(),
    optional: frozenset[str] = frozenset(),
    empty_ok: bool = False,
) -> dict[str, Any]:
    """The body as a JSON object with exactly these fields; 415, or 400 saying what is wrong.

    Decoding is bounded (boundedjson): a deeply nested body is a 400, not a RecursionError.
    """
    data = await json_body(request, empty_ok=empty_ok)
    if empty_ok and data is _EMPTY:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    unknown = set(data) - required - optional
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(sorted(unknown))}; expected "
            f"{', '.join(sorted(required | optional))}"
        )
    missing = required - set(data)
    if missing:
        raise BadRequest(f"missing field(s) {', '.join(sorted(missing))}")
    return data


_EMPTY: Any = object()


def _too_large() -> web.HTTPRequestEntityTooLarge:
    """A 413 that names the limit (aiohttp's own says only the numbers)."""
    text = f"the body is over {MAX_BODY:,} bytes, the most this API takes"
    return web.HTTPRequestEntityTooLarge(MAX_BODY, text=text)


async def json_body(request: web.Request, *, empty_ok: bool = False) -> Any:
    """The body as any JSON value (an object, or a list for batch endpoints), with the same
    limits and errors as `json_object`; with ``empty_ok`` an empty body is `_EMPTY`."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_large()
    try:
        async with asyncio.timeout(BODY_TIMEOUT):  # a trickled body must not hold a place
            raw = await request.read()  # past client_max_size (MAX_BODY), aiohttp's 413
    except TimeoutError:
        raise web.HTTPRequestTimeout(text=f"the body took over {BODY_TIMEOUT:g} s") from None
    except web.HTTPRequestEntityTooLarge:  # chunked, no Content-Length: found while read
        raise _too_large() from None
    if not raw and empty_ok:  # whitespace is not "no body": it is not JSON either (400)
        return _EMPTY
    if not _is_json(request.content_type):
        given = request.content_type if "Content-Type" in request.headers else "no Content-Type"
        raise UnsupportedMediaType(f"send the body as application/json, not {given}")
    try:
        return boundedjson.loads(raw, max_bytes=MAX_BODY)
    except boundedjson.JSONRejected as exc:
        what = "body is not JSON" if exc.reason == "malformed_json" else "body refused"
        raise BadRequest(f"{what}: {exc}") from None

"""`devmentor-monitor silence add|list|expire`: silences on the running monitor, over HTTP.

A client of `/api/silences` (server/silences_api.py), so a silence made here is the same
as one made from the API or the TUI: persisted, audited, and read by the dispatcher. The
monitor is found at --url, else at the configured server address and port (a wildcard
bind address means 127.0.0.1). Writes need a key with the operator role, taken from
$DEVMENTOR_API_KEY (never from the command line, where `ps` would show it).

Exit codes: 0 done, 1 the monitor refused or could not be reached, 2 usage.
Standard library only: no aiohttp, no textual.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from devmentor_monitor.units import format_duration

if TYPE_CHECKING:
    import urllib.error

    from devmentor_monitor.config.schema import Config

PROG = "devmentor-monitor"
KEY_ENV = "DEVMENTOR_API_KEY"
TIMEOUT = 10.0


class Failed(Exception):
    """The monitor refused, or was not reached: one line on stderr, exit 1."""


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    p = subs.add_parser(
        "silence",
        help="create, list and expire silences on the running monitor",
        description="Silences mute notifications for what they match (service, rule, "
        "severity labels) until they end. Talks to the running monitor's API; "
        f"writes need an operator key in ${KEY_ENV}.",
    )
    actions = p.add_subparsers(dest="silence_command", metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text)
        common(a, sub=True)
        a.add_argument(
            "--url",
            help="the monitor's base URL (default: http(s)://127.0.0.1:<configured port>)",
        )
        a.add_argument("--json", action="store_true", help="print the API's JSON")
        return a

    add = action("add", "create a silence")
    add.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="LABEL=VALUE",
        help="label equals value (LABEL!=VALUE: differs); repeat to AND more, "
        "e.g. --match service=auth",
    )
    add.add_argument(
        "--match-re",
        action="append",
        default=[],
        metavar="LABEL=REGEX",
        help="label matches an anchored regex (LABEL!=REGEX: does not), e.g. "
        "--match-re 'rule=burn_rate_.*'",
    )
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 2h, 7d")
    until.add_argument(
        "--until", metavar="TIME", help="an ISO date-time with offset, e.g. 2026-03-01T02:00:00Z"
    )
    add.add_argument("--comment", required=True, help="why (shown with every silenced incident)")

    ls = action("list", "list pending and active silences")
    ls.add_argument("--all", action="store_true", help="expired ones too")

    expire = action("expire", "end a silence now")
    expire.add_argument("id", help="the silence id, as `silence list` shows it")


# --------------------------------------------------------------------------- matchers


def parse_match(text: str, *, regex: bool) -> dict[str, Any]:
    """LABEL=VALUE or LABEL!=VALUE as an API matcher; ValueError if neither."""
    name, sep, value = text.partition("=")
    negative = name.endswith("!")
    name = name.removesuffix("!").strip()
    if not sep or not name:
        flag = "--match-re" if regex else "--match"
        raise ValueError(f"{flag} wants LABEL=VALUE (or LABEL!=VALUE), got {text!r}")
    return {"name": name, "value": value, "isRegex": regex, "isEqual": not negative}


def matcher_text(m: dict[str, Any]) -> str:
    op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return f"{m['name']}{op[(bool(m.get('isRegex')), bool(m.get('isEqual', True)))]}{m['value']!r}"


# --------------------------------------------------------------------------- HTTP


def base_url(args: argparse.Namespace, load: Callable[[], Config]) -> str:
    if getattr(args, "url", None):
        return str(args.url).rstrip("/")
    cfg = load()
    host = cfg.server.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if cfg.server.tls else "http"  # verified as usual: SSL_CERT_FILE
    return f"{scheme}://{host}:{cfg.server.port}"


def call(method: str, url: str, body: Any = None, key: str | None = None) -> Any:
    """One JSON request; Failed with the server's reason, or why it was not reached."""
    import urllib.error  # here: every other command (`ultra`, `--serve`) starts without it
    import urllib.request

    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise Failed(_refusal(exc, key)) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = (
            "connection refused"
            if isinstance(reason, ConnectionRefusedError)
            else str(getattr(reason, "strerror", None) or reason)
        )
        raise Failed(
            f"cannot reach the monitor at {_origin(url)}: {why} "
            "(is `devmentor-monitor --serve` or `ultra` running? see --url)"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise Failed(f"cannot reach the monitor at {_origin(url)}: {exc or 'timed out'}") from None
    except ValueError:
        raise Failed(f"{_origin(url)} did not answer JSON; is it the monitor?") from None


def _origin(url: str) -> str:
    return url.split("/api/", 1)[0]


def _refusal(exc: urllib.error.HTTPError, key: str | None) -> str:
    try:
        message = json.loads(exc.read())["error"]["message"]
    except (ValueError, KeyError, TypeError, OSError):
        message = exc.reason
    text = f"{exc.code} {exc.reason}: {message}"
    if exc.code == 401 and not key:
        text += f" (set {KEY_ENV} to a key with the operator role)"
    elif exc.code in (401, 403):
        text += f" (check {KEY_ENV})"
    return text


# --------------------------------------------------------------------------- output


def _when(value: str, now: float) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    left = moment.timestamp() - now
    stamp = moment.strftime("%Y-%m-%d %H:%M UTC")
    if abs(left) < 1:
        return f"{stamp} (now)"
    span = format_duration(abs(left))
    return f"{stamp} (in {span})" if left > 0 else f"{stamp} ({span} ago)"


def describe(s: dict[str, Any], now: float) -> str:
    what = " ".join(matcher_text(m) for m in s["matchers"])
    return f"{s['id']} {what} until {_when(s['endsAt'], now)}: {s['comment']}"


def table(silences: list[dict[str, Any]], now: float) -> str:
    if not silences:
        return "no silences"
    rows = [("ID", "STATE", "ENDS", "BY", "MATCHERS", "COMMENT")]
    for s in silences:
        rows.append(
            (
                s["id"],
                s["status"]["state"],
                _when(s["endsAt"], now),
                s["createdBy"],
                " ".join(matcher_text(m) for m in s["matchers"]),
                s["comment"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        for r in rows
    ).rstrip()


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace, load: Callable[[], Config], usage_error: type[Exception]) -> int:
    command = getattr(args, "silence_command", None)
    if command is None:
        raise usage_error("silence needs an action: add, list or expire (see silence --help)")
    key = os.environ.get(KEY_ENV) or None
    now = time.time()
    try:
        if command == "add":
            try:
                matchers = [parse_match(m, regex=False) for m in args.match]
                matchers += [parse_match(m, regex=True) for m in args.match_re]
            except ValueError as exc:
                raise usage_error(str(exc)) from None
            if not matchers:
                raise usage_error("give at least one --match or --match-re")
            body: dict[str, Any] = {"matchers": matchers, "comment": args.comment}
            if args.duration:
                body["duration"] = args.duration
            else:
                body["endsAt"] = args.until
            made = call("POST", base_url(args, load) + "/api/silences", body, key)
            print(json.dumps(made, indent=2) if args.json else f"silenced {describe(made, now)}")
        elif command == "list":
            query = "?expired=true" if args.all else ""
            found = call("GET", base_url(args, load) + "/api/silences" + query)["silences"]
            print(json.dumps(found, indent=2) if args.json else table(found, now))
        else:
            url = base_url(args, load) + "/api/silences/" + quote(args.id, safe="")
            ended = call("DELETE", url, None, key)
            print(json.dumps(ended, indent=2) if args.json else f"expired {ended['id']}")
    except Failed as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0

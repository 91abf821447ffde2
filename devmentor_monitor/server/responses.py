"""The API's JSON answers, and its one error shape: {"error": {status, reason, message}}."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from devmentor_monitor.aio import web


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_body(status: int, message: str) -> bytes:
    reason = HTTPStatus(status).phrase
    return json.dumps(
        {"error": {"status": status, "reason": reason, "message": message}}, separators=(",", ":")
    ).encode()


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=error_body(status, message),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def raw_error(status: int, message: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 error answer with ``Connection: close``, for a socket that
    never reaches aiohttp (a connection refused at the cap)."""
    body = error_body(status, message)
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body

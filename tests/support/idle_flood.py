"""A thousand TCP connections that send part of a request head and then nothing.

Shared by tests/integration/test_connection_limits.py and bench/idle_connections.py.
Connects are non-blocking with one deadline, so a server that stopped accepting (the
old code at its file limit) costs seconds, not a connect timeout per socket.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from dataclasses import dataclass, field

PARTIAL_HEAD = b"GET /health HTTP/1.1\r\nHost: monitor\r\n"  # the blank line never comes


def allow_fds(needed: int) -> bool:
    """Raise this process's open-file limit to ``needed`` if it is lower; False if it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return True
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError):
        return False
    return True


@dataclass
class Conn:
    sock: socket.socket
    opened: float
    answer: bytes = b""
    closed_at: float | None = None


@dataclass
class IdleFlood:
    """``count`` idle connections to 127.0.0.1:``port``; watch() records what comes back."""

    port: int
    count: int = 1000
    conns: list[Conn] = field(default_factory=list)
    connect_failed: int = 0

    def open(self, deadline_s: float = 5.0) -> None:
        sel = selectors.DefaultSelector()
        for _ in range(self.count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            sel.register(s, selectors.EVENT_WRITE)
        end = time.monotonic() + deadline_s
        while sel.get_map() and time.monotonic() < end:
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                sel.unregister(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and _send(s):
                    self.conns.append(Conn(s, time.monotonic()))
                else:
                    s.close()
                    self.connect_failed += 1
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
            self.connect_failed += 1
        sel.close()

    def watch(self, seconds: float) -> None:
        """Read what the server sends, and when it closes, for ``seconds`` (or until all
        are closed)."""
        sel = selectors.DefaultSelector()
        for c in self.conns:
            if c.closed_at is None:
                sel.register(c.sock, selectors.EVENT_READ, c)
        end = time.monotonic() + seconds
        while sel.get_map() and time.monotonic() < end:
            for key, _ in sel.select(timeout=max(0.0, min(0.1, end - time.monotonic()))):
                c: Conn = key.data
                try:
                    data = c.sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    c.answer += data
                else:
                    c.closed_at = time.monotonic()
                    sel.unregister(c.sock)
        sel.close()

    @property
    def refused(self) -> list[Conn]:
        return [c for c in self.conns if c.answer.startswith(b"HTTP/1.1 503 ")]

    @property
    def still_open(self) -> int:
        return sum(c.closed_at is None for c in self.conns)

    def close(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.sock.close()


def _send(s: socket.socket) -> bool:
    try:
        return s.send(PARTIAL_HEAD) == len(PARTIAL_HEAD)
    except OSError:
        return False

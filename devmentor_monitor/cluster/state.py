"""What the fleet looks like from this instance: the record the store holds
(`store.fleet`), /api/fleet and /health answer with and the TUI's header shows.

Written by the runtime's intake only (one writer), from what cluster/node.py observes.
"""

from __future__ import annotations

import os
import socket
from typing import Literal

import msgspec

Mode = Literal["solo", "member", "fallback"]


class Member(msgspec.Struct, frozen=True):
    """A live instance: its id, the URL its API is reached at, when it started (Unix
    time) and how many checks its share holds (rendezvous over the same services)."""

    id: str
    url: str
    started: float
    checks: int = 0


class FleetView(msgspec.Struct, frozen=True):
    """``mode``: "solo" (no cluster configured), "member" (in the fleet through Redis),
    "fallback" (Redis unreachable: this instance runs every check, ``reason`` says why).
    ``token``: this instance's fencing token while it is the leader, else None."""

    me: str
    mode: Mode = "solo"
    members: tuple[Member, ...] = ()
    leader: str | None = None
    token: int | None = None
    reason: str = ""

    @property
    def leading(self) -> bool:
        return self.leader is not None and self.leader == self.me and self.token is not None


def default_id() -> str:
    """`cluster.id` when the file gives none: ``<hostname>-<pid>`` (unique per process,
    so a restarted instance is a new member; the old one's entry expires)."""
    return f"{socket.gethostname()}-{os.getpid()}"

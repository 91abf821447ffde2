"""Rendezvous (highest-random-weight) hashing: which live member runs which check.

Every member scores every key; the highest score owns it. A member that joins takes
only the keys it now scores highest on, and one that leaves hands on only its own:
nothing else moves (tests/unit/test_rendezvous.py). Pure, so every instance works out
the same split from the same member list, its own and everyone else's share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b


def weight(member: str, key: str) -> int:
    """The member's score for the key: 8 bytes of blake2b over both (stable across
    processes and versions, unlike hash())."""
    digest = blake2b(f"{member}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Sequence[str]) -> str | None:
    """The member that runs ``key`` (None: no member). A tie, unlikely at 64 bits, goes
    to the greater id, so every instance picks the same one."""
    if not members:
        return None
    return max(members, key=lambda m: (weight(m, key), m))


def share(keys: Iterable[str], members: Sequence[str], me: str) -> set[str]:
    """The keys ``me`` owns among ``members``."""
    return {k for k in keys if owner(k, members) == me}

"""Rendezvous hashing (cluster/rendezvous.py): a join or leave moves only that member's
share, and 3,000 checks split evenly over 3 members."""

from __future__ import annotations

from devmentor_monitor.cluster.rendezvous import owner, share, weight

KEYS = [f"svc-{i}" for i in range(3000)]
MEMBERS = ["web-1", "web-2", "web-3"]


def test_weight_is_stable_and_eight_bytes() -> None:
    assert weight("web-1", "auth") == weight("web-1", "auth")
    assert weight("web-1", "auth") != weight("web-2", "auth")
    assert 0 <= weight("web-1", "auth") < 2**64


def test_three_members_share_3000_keys_within_5_percent() -> None:
    sizes = [len(share(KEYS, MEMBERS, m)) for m in MEMBERS]
    assert sum(sizes) == 3000
    assert all(abs(n - 1000) <= 50 for n in sizes), sizes
    # disjoint: each key has one owner, whatever order the members are listed in
    assert set().union(*(share(KEYS, MEMBERS, m) for m in MEMBERS)) == set(KEYS)
    assert all(owner(k, MEMBERS) == owner(k, MEMBERS[::-1]) for k in KEYS[:200])


def test_a_join_takes_only_what_the_newcomer_now_owns() -> None:
    before = {k: owner(k, MEMBERS) for k in KEYS}
    after = {k: owner(k, [*MEMBERS, "web-4"]) for k in KEYS}
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved
    assert all(after[k] == "web-4" for k in moved)
    assert 600 <= len(moved) <= 900  # about a quarter


def test_a_leave_hands_on_only_the_leavers_share() -> None:
    before = {k: owner(k, MEMBERS) for k in KEYS}
    after = {k: owner(k, ["web-1", "web-3"]) for k in KEYS}
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved == {k for k in KEYS if before[k] == "web-2"}


def test_no_members_no_owner() -> None:
    assert owner("auth", []) is None
    assert share(KEYS, [], "web-1") == set()

"""The audit trail's hash chain: how a row's hash is made and how a chain is checked.

Each row stores ``prev`` (the hash of the row before it) and ``hash`` (SHA-256 over
``prev`` and its own fields), so editing a row changes its hash and deleting one breaks
the link of the row after it. Retention removes the oldest rows and keeps the hash of the
last one removed as the anchor the remaining chain starts from. Without a secret this is
tamper-evident, not tamper-proof: whoever can write the file can rebuild the whole chain,
and dropping the newest rows leaves a shorter valid chain, so the head hash `audit verify`
prints is worth keeping elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64  # the ``prev`` of the first row ever written

# id, ts, actor, action, target, source, outcome, count, prev, hash: as audit stores them
Row = tuple[int, float, str, str, str, str, str, int, str, str]


def entry_hash(
    prev: str,
    ts: float,
    actor: str,
    action: str,
    target: str,
    source: str,
    outcome: str,
    count: int,
) -> str:
    """SHA-256 (hex) over the canonical JSON array of ``prev`` and the row's fields.

    ts is hashed as a float and count as an int, as SQLite gives them back (REAL, INTEGER),
    so an int clock or a bool count hash the same when written and when verified.
    """
    import hashlib  # at the first audited write, not at start: ~0.6 MiB RSS in `ultra`

    doc = [prev, float(ts), str(actor), str(action), str(target), str(source), str(outcome)]
    text = json.dumps([*doc, int(count)], separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last row retention removed: the chain left in the table follows its hash."""

    last_id: int
    hash: str
    ts: float
    pruned: int  # rows removed by retention, ever


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first row the chain does not hold for, and what is wrong with it."""

    id: int
    ts: float
    actor: str
    action: str
    what: str

    def describe(self) -> str:
        return (
            f"row {self.id} ({utc(self.ts)}, actor {self.actor!r}, action {self.action!r}): "
            f"{self.what}"
        )


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What `verify` found: the rows it checked, the head hash, the first problem."""

    entries: int
    head: str
    anchor: Anchor | None
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(rows: Iterable[Row], anchor: Anchor | None) -> ChainCheck:
    """Check ``rows`` (in id order) against their hashes and links, from ``anchor``."""
    expected = anchor.hash if anchor is not None else GENESIS
    before: int | None = anchor.last_id if anchor is not None else None
    count = 0
    for row in rows:
        row_id, ts, actor, action, target, source, outcome, n, prev, digest = row
        if type(ts) not in (int, float) or type(n) is not int:
            what = f"a field of the wrong type (ts {ts!r}, count {n!r}): the row was edited"
            return ChainCheck(
                count, expected, anchor, ChainProblem(row_id, 0.0, actor, action, what)
            )
        if prev != expected:
            problem = ChainProblem(row_id, ts, actor, action, _broken_link(row_id, before, anchor))
            return ChainCheck(count, expected, anchor, problem)
        if entry_hash(prev, ts, actor, action, target, source, outcome, n) != digest:
            what = "hash mismatch: its fields do not give its stored hash (the row was edited)"
            return ChainCheck(
                count, expected, anchor, ChainProblem(row_id, ts, actor, action, what)
            )
        expected, before = digest, row_id
        count += 1
    return ChainCheck(count, expected, anchor, None)


def _broken_link(row_id: int, before: int | None, anchor: Anchor | None) -> str:
    if before is None:
        return "broken link: the first row does not start the chain (rows before it were deleted)"
    if anchor is not None and before == anchor.last_id:
        where = f"the pruning anchor (row {before}, the last one retention removed)"
    else:
        where = f"row {before} before it"
    missing = row_id - before - 1
    gap = (
        f"; {missing} row(s) between them are missing (deleted)"
        if missing > 0
        else f"; row {before}'s hash or this row's prev was changed"
    )
    return f"broken link: its prev is not the hash of {where}{gap}"


def utc(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

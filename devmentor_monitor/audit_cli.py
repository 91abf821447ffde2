"""`devmentor-monitor audit verify|list`: the data dir's audit trail, read-only (beside a
running monitor too, WAL lets both read).

`verify` recomputes the hash chain (storage/audit_chain.py): exit 0 when it holds, 1
naming the first row that was edited or follows a deleted one. `list` prints the trail
newest first, filtered as GET /api/audit is. Registered by cli.py with the standard
library only; the database is opened when the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.storage.files import add_data_dir_option
from devmentor_monitor.units import SINCE_WORDS, parse_since

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config
    from devmentor_monitor.model import AuditEntry
    from devmentor_monitor.storage.db import Database

PROG = "devmentor-monitor"


def _since(text: str) -> float:
    try:
        return parse_since(text, time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"must be a number 1-100000, got {text!r}")
    return int(text)


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    """Register `audit` on the top-level sub-commands (``common``: -c, --log-level)."""
    p = subs.add_parser(
        "audit",
        help="verify or list the audit trail",
        description="The audit trail in the data dir's monitor.db: every write and action, "
        "allowed or refused. Rows are hash-chained; `verify` checks the chain.",
    )
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check the hash chain: exit 0 if intact, 1 naming the first bad row",
        description="Recompute every row's hash from the pruning anchor on: exit 0 and "
        "'audit chain ok: N entries' when the chain holds, 1 naming the first row that "
        "was edited (hash mismatch) or follows a deleted one (broken link). The head hash "
        "it prints is worth keeping elsewhere: dropping the newest rows leaves a valid, "
        "shorter chain.",
    )
    listing = actions.add_parser(
        "list",
        help="print the trail, newest first",
        description="Print the audit trail, newest first: when, who, from where, what, on "
        "what, and the outcome (xN: refusals of a minute counted in one row).",
    )
    listing.add_argument("--actor", help="only this key's name (anonymous: no key)")
    listing.add_argument(
        "--action", help="only this action (incident.open), or a prefix ending in '.'"
    )
    listing.add_argument("--since", type=_since, metavar="WHEN", help=SINCE_WORDS)
    listing.add_argument(
        "--limit", type=_limit, default=200, metavar="N", help="at most N rows (default 200)"
    )
    listing.add_argument("--json", action="store_true", help="a JSON array, as GET /api/audit")
    for sub in (verify, listing):
        common(sub, sub=True)
        add_data_dir_option(sub)


def run(
    args: argparse.Namespace, load: Callable[[], Config], usage: Callable[[str], Exception]
) -> int:
    if args.audit_command not in ("verify", "list"):
        raise usage("audit needs an action: verify or list (see `devmentor-monitor audit -h`)")
    db = _open(load())
    try:
        if args.audit_command == "verify":
            return _verify(db)
        entries = db.load_audit(args.limit, actor=args.actor, action=args.action, since=args.since)
    finally:
        db.close()
    _print(entries, as_json=args.json)
    return 0


def _open(config: Config) -> Database:
    from devmentor_monitor.storage.open import database_for

    db = database_for(config)
    db.open_readonly()  # StorageError (exit 1) when missing or not a database
    try:
        db.require_chained_audit()
    except Exception:
        db.close()
        raise
    return db


def _verify(db: Database) -> int:
    from devmentor_monitor.storage.audit_chain import utc

    check = db.verify_audit()
    anchor = check.anchor
    pruned = (
        f", after {anchor.pruned} older row(s) removed by retention (through row "
        f"{anchor.last_id}, {utc(anchor.ts)})"
        if anchor is not None
        else ""
    )
    if check.problem is None:
        print(f"audit chain ok: {check.entries} entries{pruned}")
        print(f"head {check.head}")
        return 0
    print(f"{PROG}: audit chain broken at {check.problem.describe()}", file=sys.stderr)
    print(
        f"{PROG}: the {check.entries} row(s) before it are intact{pruned}; "
        f"{db.where} was changed outside the monitor",
        file=sys.stderr,
    )
    return 1


def _print(entries: list[AuditEntry], *, as_json: bool) -> None:
    if as_json:
        import json

        from devmentor_monitor.server.shapes import audit_json

        print(json.dumps([audit_json(e) for e in entries], indent=2))
        return
    if not entries:
        print("no audit entries")
        return
    from devmentor_monitor.storage.audit_chain import utc

    rows = [("TIME (UTC)", "ACTOR", "SOURCE", "ACTION", "TARGET", "OUTCOME")]
    for e in entries:
        outcome = e.outcome if e.count == 1 else f"{e.outcome} (x{e.count})"
        rows.append((utc(e.ts), e.actor, e.source, e.action, e.target, outcome))
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(5)]
    for r in rows:
        print("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5])

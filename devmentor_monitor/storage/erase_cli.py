"""`devmentor-monitor data erase --service S | --before DATE [--data-dir DIR] [--yes]`: the
right to erasure over the data dir's files.

Deletes a service's stored events, incidents (timelines, signals, notification state)
and history series, or everything older than DATE, or both conditions at once; prints
the rows deleted per table and writes an audit entry (actor cli:<user>, action
data.erase). It works beside a running monitor: SQLite's locks and busy timeouts order
the writes (WAL), nothing is corrupted; what that monitor still holds in memory (the
last events, open incidents) is written again when it changes, so stop it first for a
complete erasure.

Exit codes: 0 erased, 1 the files could not be used, 2 usage (no subject, a DATE that
does not parse, no --yes where nobody can be asked).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devmentor_monitor.storage.files import add_data_dir_option

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config
    from devmentor_monitor.storage.db import Database

ACTION = "data.erase"
DATE_HELP = "YYYY-MM-DD (midnight UTC) or an ISO date-time, e.g. 2026-03-01T00:00:00Z"


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    """Register `data erase` on the top-level sub-commands (``common``: -c, --log-level)."""
    p = subs.add_parser(
        "data",
        help="erase stored data (the right to erasure)",
        description="Tools for the data the monitor stores in its data dir.",
    )
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    erase = actions.add_parser(
        "erase",
        help="delete a service's (or old) events, incidents and history",
        description="Delete the stored events, incidents (with their timelines and "
        "notification state) and history series of --service, or every row older than "
        "--before, or both conditions at once, from the data dir's monitor.db and "
        "history.db. Prints the rows deleted per table and records the erasure in the "
        "audit trail. Stop the monitor first for a complete erasure: what it holds in "
        "memory is written again.",
    )
    common(erase, sub=True)
    erase.add_argument("--service", metavar="SERVICE", help="the service whose data goes")
    erase.add_argument("--before", metavar="DATE", help=f"rows older than this: {DATE_HELP}")
    add_data_dir_option(erase, "monitor.db and history.db")
    erase.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def parse_date(text: str) -> float:
    """DATE as epoch seconds; ValueError with the accepted forms otherwise. A date or a
    date-time without an offset is UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--before {text!r} is not a date; use {DATE_HELP}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def subject(service: str | None, before: float | None) -> str:
    """What the audit entry names as the target: service=auth, before=2026-...Z, or both."""
    parts = []
    if service is not None:
        parts.append(f"service={service}")
    if before is not None:
        stamp = datetime.fromtimestamp(before, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"before={stamp}")
    return " ".join(parts)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid())


def run(args: argparse.Namespace, load: Callable[[], Config], usage: type[Exception]) -> int:
    """Erase what the options name from the loaded config's data dir."""
    if getattr(args, "data_command", None) != "erase":
        raise usage("data: say which action: `devmentor-monitor data erase --help`")
    if args.service is None and args.before is None:
        raise usage("data erase: give --service SERVICE or --before DATE (or both)")
    if args.service is not None and not args.service.strip():
        raise usage("data erase: --service must name a service")
    try:
        before = parse_date(args.before) if args.before is not None else None
    except ValueError as exc:
        raise usage(f"data erase: {exc}") from None
    from devmentor_monitor.config.schema import data_dir
    from devmentor_monitor.storage.open import database_for

    config = load()
    where = data_dir(config)
    db = database_for(config)
    what = subject(args.service, before)
    if not args.yes:
        if not sys.stdin.isatty():
            raise usage(f"data erase: refusing to erase {what} without --yes (nobody to ask)")
        answer = input(
            f"Erase every stored row of {what} in {db.where} and {where}? "
            "It cannot be undone. [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    return _erase(where, db, args.service, before, what)


def _erase(where: Path, db: Database, service: str | None, before: float | None, what: str) -> int:
    from devmentor_monitor.history import sqlite as history
    from devmentor_monitor.storage.db import StorageError

    shared = db.shared  # storage.url: PostgreSQL
    if not shared and not (where / "monitor.db").is_file():
        raise StorageError(
            f"{db.where}: no such file; the monitor writes it there when it runs "
            "(or pass --data-dir)"
        )
    db.open()
    try:
        counts = {db.where if shared else "monitor.db": db.erase(service=service, before=before)}
        history_path = where / "history.db"
        if shared:  # the fleet's history is in the same database (history/postgres.py)
            from devmentor_monitor.history import postgres as shared_history

            try:
                counts["history"] = shared_history.erase(
                    getattr(db, "url", ""), service=service, before=before
                )
            except Exception as exc:
                _audit(db, what, f"failed: history: {exc}; {_summary(counts)}")
                raise StorageError(f"{db.where}: history: {exc}") from None
        elif history_path.is_file():
            try:
                counts["history.db"] = history.erase(history_path, service=service, before=before)
            except Exception as exc:  # the audit says what was erased before it failed
                _audit(db, what, f"failed: history.db: {exc}; {_summary(counts)}")
                raise StorageError(f"{history_path}: {exc}") from None
        _audit(db, what, f"ok: {_summary(counts)}")
    finally:
        db.close()
    print(f"erased {what} from {where}:")
    for name, rows in counts.items():
        print(f"  {name}: " + ", ".join(f"{table} {n}" for table, n in rows.items()))
    print(f"audit: {ACTION} by cli:{_user()} recorded")
    return 0


def _summary(counts: dict[str, dict[str, int]]) -> str:
    return " ".join(f"{table}={n}" for rows in counts.values() for table, n in rows.items())


def _audit(db: Database, target: str, outcome: str) -> None:
    """Through the audit writer every other write uses (storage/db.py)."""
    from devmentor_monitor.model import AuditEntry

    db.audit(AuditEntry(time.time(), f"cli:{_user()}", ACTION, target, "cli", outcome))

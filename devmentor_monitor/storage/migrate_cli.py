"""`devmentor-monitor db migrate`: apply the shared store's migrations by hand.

What every start does by itself (storage/migrations.py, under the advisory lock, so it
is safe beside running instances): prints each version it applied, or that the database
was up to date. Exit 0; 2 when the database cannot be reached or migrated (the message
names host, port and database, never the password). With no storage.url, the SQLite
file is opened, which upgrades its own schema.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.storage.files import add_data_dir_option

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config

PROG = "devmentor-monitor"


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    """Register `db` on the top-level sub-commands (``common``: -c, --log-level)."""
    p = subs.add_parser(
        "db",
        help="the incidents store: apply migrations",
        description="The incidents store (storage.url's PostgreSQL, or monitor.db).",
    )
    actions = p.add_subparsers(dest="db_command", metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="apply the schema migrations the database lacks",
        description="Apply the versioned migrations storage.url's PostgreSQL lacks, in one "
        "transaction under an advisory lock (instances starting meanwhile wait for it), "
        "and print what was applied. Every start does the same by itself. Exit 0; 2 when "
        "the database cannot be reached.",
    )
    common(migrate, sub=True)
    add_data_dir_option(migrate)


def run(args: Any, load: Callable[[], Config], usage: Callable[[str], Exception]) -> int:
    if getattr(args, "db_command", None) != "migrate":
        raise usage("db needs an action: migrate (see `devmentor-monitor db -h`)")
    from devmentor_monitor.storage.db import SCHEMA_VERSION, StorageError
    from devmentor_monitor.storage.open import database_for

    config = load()
    db = database_for(config)
    if not db.shared:
        db.open()  # SQLite upgrades its own schema as it opens
        db.close()
        print(f"{db.where}: SQLite schema {SCHEMA_VERSION}, up to date")
        return 0
    from devmentor_monitor.storage import migrations
    from devmentor_monitor.storage.postgres import PgDatabase, reason

    assert isinstance(db, PgDatabase)
    try:
        raw = db.connect()
        try:
            applied = migrations.migrate(raw, db.where)
            latest = migrations.version(raw)
        finally:
            raw.close()
    except StorageError as exc:
        print(f"{PROG}: storage error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the server's refusal (permissions, ...): one line
        print(f"{PROG}: storage error: {db.where}: cannot migrate: {reason(exc)}", file=sys.stderr)
        return 2
    for m in applied:
        print(f"applied {migrations.describe(m)}")
    if applied:
        print(f"{db.where}: migrated to version {latest}")
    else:
        print(f"{db.where}: up to date (version {latest})")
    return 0

"""`devmentor-monitor keys create|list|revoke`: managed API keys in the data dir's
monitor.db, with no monitor running or beside one (a running monitor re-reads the keys
within keyring.REFRESH seconds). Every change is audited, actor "cli:<user>".
Registered by cli.py with the standard library only; storage is imported when it runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.storage.files import add_data_dir_option

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config

ROLE_CHOICES = ("viewer", "operator", "admin")


def _duration(text: str) -> float:
    from devmentor_monitor.units import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return seconds


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    p = subs.add_parser(
        "keys",
        help="create, list and revoke managed API keys",
        description="Managed API keys, stored as scrypt hashes in the data dir's monitor.db "
        "(the same keys as /api/keys). A secret is printed once, at creation.",
    )
    common(p, sub=True)
    add_data_dir_option(p)
    actions = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print its secret once")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLE_CHOICES, required=True)
    create.add_argument(
        "--expires-in", type=_duration, metavar="DURATION", help="e.g. 90d (default: never)"
    )
    create.add_argument(
        "--scope", action="append", default=[], help="limit to a route group (repeatable)"
    )
    create.add_argument("--json", action="store_true", help="machine-readable output")
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    revoke = actions.add_parser("revoke", help="revoke a key (its sessions end too)")
    revoke.add_argument("name")


def run(args: argparse.Namespace, load: Callable[[], Config], usage: type[Exception]) -> int:
    from devmentor_monitor.model import AuditEntry
    from devmentor_monitor.server.keyring import NAME, RESERVED
    from devmentor_monitor.server.routes import SCOPES
    from devmentor_monitor.storage.keys import KeyProblem, KeyTable
    from devmentor_monitor.storage.open import database_for

    config = load()
    db = database_for(config)
    db.open()
    actor = f"cli:{getpass.getuser()}"
    now = time.time()
    try:
        table = KeyTable(db.conn)
        if args.keys_command == "list":
            keys = [k.public() for k in table.list()]
            if args.json:
                print(json.dumps({"keys": keys}, indent=2))
            else:
                for k in keys:
                    state = "revoked" if k["revoked"] else "active"
                    print(f"{k['name']:<24} {k['role']:<9} {state}")
            return 0
        if args.keys_command == "create":
            if not NAME.match(args.name) or args.name in RESERVED:
                raise usage(
                    f"name {args.name!r}: 1-64 letters, digits, '_', '.' or '-', starting "
                    f"with one, and not {' or '.join(RESERVED)}"
                )
            bad = [s for s in args.scope if s not in SCOPES]
            if bad:
                raise usage(f"unknown scope {', '.join(bad)}; one of {', '.join(SCOPES)}")
            if any(k.name == args.name for k in config.api_keys):
                raise usage(f"a configured key (auth.keys) is named {args.name!r}")
            expires = None if args.expires_in is None else now + args.expires_in
            key, secret = table.create(
                args.name, args.role, now=now, expires=expires, scopes=tuple(args.scope)
            )
            db.audit(AuditEntry(now, actor, "key.create", key.name, "cli", f"ok: role {key.role}"))
            if args.json:
                print(json.dumps({**key.public(), "secret": secret}, indent=2))
            else:
                print(secret)
                print(
                    f"key {key.name!r} ({key.role}): the secret above is shown once",
                    file=sys.stderr,
                )
            return 0
        key = table.revoke(args.name, now)
        db.audit(AuditEntry(now, actor, "key.revoke", key.name, "cli", "ok"))
        print(f"key {key.name!r} revoked")
        return 0
    except KeyProblem as exc:
        print(f"devmentor-monitor: error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.close()

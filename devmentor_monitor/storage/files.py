"""The data dir and its database files, private to the user running the monitor.

Incidents, events, history and the audit trail say a lot about a platform: the data dir
is created 0700 and every SQLite file (with its -wal and -shm) 0600, whatever the umask
(mkdir's and open's modes are filtered by it, so the modes are set again after). A data
dir that already exists is the user's choice and is left as it is; the files in it are
tightened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` 0700 if it is missing (its parents as `mkdir -p` would)."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:  # made meanwhile (the other database's thread): theirs to set
        return
    os.chmod(path, DIR_MODE)


def private_db(path: Path) -> None:
    """Create the database file 0600 if it is missing (an empty file is an empty SQLite
    database) and tighten it and its -wal/-shm to 0600. SQLite creates the -wal and -shm
    with the database file's mode, so they follow."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        # not there yet; or not ours to change
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(p, FILE_MODE)


def add_data_dir_option(parser: argparse.ArgumentParser, holds: str = "monitor.db") -> None:
    """`--data-dir` for the commands that read or change the data dir's files offline
    (report, keys, audit, data erase): one declaration of the option and its help."""
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"where the monitor keeps {holds} "
        "(default: storage.data_dir, else $XDG_STATE_HOME/devmentor-monitor)",
    )

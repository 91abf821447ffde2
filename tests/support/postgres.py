"""A real PostgreSQL on a free loopback port, in a temp dir, stopped by PID (RECIPES.md).

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user the
Debian package creates. One server serves a test session; each test gets its own
database (`PostgresServer.database`), so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from devmentor_monitor.demo.fleet import free_port

_names = itertools.count(1)


def bindir() -> Path | None:
    """The newest installed server's programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


class PostgresServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="devmentor-pg-"))
        self.data = self.dir / "data"
        self.pid: int | None = None
        self._root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self._root:  # initdb and postgres refuse root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> PostgresServer:
        bins = bindir()
        if bins is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/setup --test installs it)")
        if self._root:
            shutil.chown(self.dir, "postgres")
        self._run(str(bins / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._run(
            str(bins / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "pg.log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.dir / "pg.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), SIGKILL if it lingers; the temp dir removed."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)

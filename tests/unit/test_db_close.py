"""Closing the database while writes are still queued: they finish, then it closes.

Monitor.stop closes the database from another thread (asyncio.to_thread) while a write
its cancelled caller had submitted may still run in the database thread; closing the
connection under it crashed the whole process (segfault in a CI run). The scenario runs in
a fresh interpreter so that a crash fails this test instead of ending the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, TimelineEntry
    from devmentor_monitor.storage.db import Database

    path = Path(sys.argv[1])
    db = Database(path)
    db.open()
    writes = []
    for i in range(300):
        inc = Incident(f"inc-{i}", "auth", "manual", Severity.HIGH, "down", "",
                       IncidentState.OPEN, float(i), float(i))
        entry = TimelineEntry(float(i), "opened", "test", "x" * 2000)
        writes.append(db._executor.submit(db.save_incident, inc, [entry]))
    closer = threading.Thread(target=db.close)  # as Monitor.stop does, off the db thread
    closer.start()
    closer.join()
    failed = [f.exception() for f in writes if f.exception() is not None]
    again = Database(path)
    again.open()
    print(len(again.load_incidents(limit=1000)), len(failed))
    again.close()
""")


def test_close_waits_for_queued_writes_and_never_crashes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(tmp_path / "monitor.db")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    saved, failed = map(int, done.stdout.split())
    assert (saved, failed) == (300, 0)

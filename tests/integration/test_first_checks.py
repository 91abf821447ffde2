"""Issue 19, real values fast: `ultra`'s first round of checks goes out before the rest of
the runtime is built (first_checks.py), and nothing it found is lost once the Monitor
adopts it: a first failing check still opens an incident, its status change is in the
event log, and each check counts once in the history."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.http import HealthServer
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.first_checks import FirstChecks
from devmentor_monitor.model import Health
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.store import Store

pytestmark = pytest.mark.integration


async def test_the_first_round_before_the_runtime_is_adopted_not_lost(tmp_path: Path) -> None:
    refused = free_port()  # nothing listens: the first check fails
    async with HealthServer() as server:
        doc = {
            "storage": {"data_dir": str(tmp_path / "data")},
            "services": [
                {"name": "auth", "url": server.url(), "interval": "1h"},
                {
                    "name": "billing",
                    "url": f"http://127.0.0.1:{refused}/health",
                    "interval": "1h",
                    "failure_threshold": 1,
                },
            ],
        }
        path = tmp_path / "services.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        config = load_config(path, env={}, port=free_port())
        store = Store(config)
        first = FirstChecks(config, store)
        first.start()
        await first.first_round()
        assert store.status("auth") is Health.UP  # on screen before the runtime exists
        assert store.status("billing") is Health.DOWN

        monitor = Monitor(config, serve=False, store=store, first=first)
        await monitor.start(require_server=False)
        try:
            await eventually(
                lambda: [i.service for i in store.open_incidents()] == ["billing"],
                10,
                "an incident from the first failing check",
            )

            deadline = time.monotonic() + 10
            while not any(  # the event log's writer flushes on its own
                e.type == "service.health.changed" and e.service == "billing"
                for e in await monitor.queries.events(50)
            ):
                assert time.monotonic() < deadline, "the first status change in the event log"
                await asyncio.sleep(0.05)
            assert store.service("auth").checks_total == 1  # no second round (1h)
        finally:
            await monitor.stop()

        second = Monitor(config, serve=False)  # its history: the first round's, once each
        await second.start(require_server=False)
        try:
            await eventually(lambda: second.store.service("billing").checks_total >= 1, 10, "")
            for name in ("auth", "billing"):
                total, _, _ = second.store.check_counts(name, time.time(), 3600)
                assert total == 1 + second.store.service(name).checks_total, name
        finally:
            await second.stop()


RUNTIME = (
    "devmentor_monitor.runtime",
    "devmentor_monitor.incidents.engine",
    "devmentor_monitor.history.sqlite",
    "devmentor_monitor.notify.outbox",
    "devmentor_monitor.predictions.engine",
    "sqlite3",
)
FIRST_ROUND = """
import asyncio, sys
from devmentor_monitor import cli
from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.store import Store

async def main():
    config = parse_text("services:\\n  - name: auth\\n    url: http://127.0.0.1:1/health\\n")
    runtime = cli.UltraRuntime(config, demo=True, serve=False)
    store = Store(config)
    await runtime.first_checks(store)
    assert store.last_check("auth") is not None, "no first check"
    print(" ".join(m for m in sys.modules if m in sys.argv[1:]))
    await runtime.stop()

asyncio.run(main())
"""


def test_the_first_round_imports_none_of_the_rest_of_the_runtime(tmp_path: Path) -> None:
    """What made the first checks wait: the runtime's imports come after them."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_ROUND, *RUNTIME],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.split() == []

"""Issue 19, real values fast: the dashboard's runtime (`start(require_server=False)`)
sends its first round of checks before its exporter and the history's figures, but leaves
the monitor's own /health for after the exporter listens: it is never shown refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from support.http import HealthServer
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.model import CheckResult, Health
from devmentor_monitor.runtime import Monitor

pytestmark = pytest.mark.integration


async def test_first_checks_go_before_the_exporter_and_its_own_health_after(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with HealthServer() as server:
        doc = {
            "storage": {"data_dir": str(tmp_path / "data")},
            "services": [
                {"name": "auth", "url": server.url(), "interval": "1h"},
                {"name": "monitoring", "url": f"http://127.0.0.1:{port}/health", "interval": "1h"},
            ],
        }
        path = tmp_path / "services.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        monitor = Monitor(load_config(path, env={}, port=port))
        seen: list[tuple[str, float]] = []  # (what, when): checks and the exporter's start
        observe = monitor.intake.observe

        def record(obs: object) -> None:
            if isinstance(obs, CheckResult):
                seen.append((obs.service, time.monotonic()))
            observe(obs)  # type: ignore[arg-type]

        monitor.intake.observe = record  # type: ignore[method-assign]
        start_server = monitor._start_server

        async def timed_server(*args: object) -> None:
            seen.append(("exporter", time.monotonic()))
            await start_server(*args)  # type: ignore[arg-type]

        monitor._start_server = timed_server  # type: ignore[method-assign]
        await monitor.start(require_server=False)
        try:
            await eventually(
                lambda: monitor.store.last_check("monitoring"), 10, "the monitor's own check"
            )
            order = [what for what, _ in seen]
            assert order.index("auth") < order.index("exporter") < order.index("monitoring")
            own = monitor.store.last_check("monitoring")
            assert own is not None
            assert own.ok, own.error  # not "connection refused"
            assert monitor.store.status("monitoring") is Health.UP
        finally:
            await monitor.stop()


def config_file(tmp_path: Path, url: str) -> Path:
    doc = {
        "storage": {"data_dir": str(tmp_path / "data")},
        "services": [{"name": "auth", "url": url, "interval": "0.2s", "timeout": "0.15s"}],
    }
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def test_checks_made_while_the_history_is_restored_count_once(tmp_path: Path) -> None:
    """The dashboard checks before its history is read back: a check must count once,
    neither twice (written, then read back) nor lost (replaced by the restored bucket)."""
    async with HealthServer() as server:
        path = config_file(tmp_path, server.url())
        first = Monitor(load_config(path, env={}, port=free_port()), serve=False)
        await first.start(require_server=False)
        try:
            await eventually(lambda: first.store.service("auth").checks_total >= 5, 10, "checks")
        finally:
            await first.stop()
        before = first.store.service("auth").checks_total  # all on disk after the stop

        second = Monitor(load_config(path, env={}, port=free_port()), serve=False)
        await second.start(require_server=False)  # returns once the history is restored
        try:
            await eventually(lambda: second.store.service("auth").checks_total >= 3, 10, "more")
            now = time.time()
            total, up, failed = second.store.check_counts("auth", now, 3600)
            assert total == before + second.store.service("auth").checks_total
            assert (up, failed) == (total, 0)
        finally:
            await second.stop()

"""A real Prometheus server (the Debian package) on a free loopback port: it scrapes the
given targets every second and evaluates the given rule files every second."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml

from devmentor_monitor.demo.fleet import free_port
from support.processes import stop_process
from support.waiting import wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
MISSING = "prometheus not installed (scripts/setup --test does)"


class QueryError(Exception):
    """Prometheus rejected a query: not a "no data yet" that waiting could change."""


class Prometheus:
    """`prometheus` scraping ``targets`` (host:port) as job `devmentor`; stopped by PID."""

    def __init__(self, tmp: Path, targets: list[str], rule_files: tuple[Path, ...] = ()) -> None:
        if PROMETHEUS is None:
            raise RuntimeError(MISSING)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(f) for f in rule_files],
                    "scrape_configs": [
                        {"job_name": "devmentor", "static_configs": [{"targets": targets}]}
                    ],
                }
            )
        )
        self.log_path = tmp / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log_path.read_text()}")
            return httpx.get(f"{self.base}/-/ready", timeout=2).status_code == 200

        wait_until(ready, 30, interval=0.2, what="prometheus to be ready")

    def api(self, path: str, **params: Any) -> Any:
        """The `data` of a /api/v1 answer. A query Prometheus rejects (bad PromQL) fails
        the test at once with its error, rather than reading as "no data yet"."""
        r = httpx.get(f"{self.base}/api/v1/{path}", params=params, timeout=5)
        if r.status_code in (400, 422):
            body = r.json()
            raise QueryError(f"{params}: {body.get('errorType')}: {body.get('error')}")
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result: one entry per series (empty: no data)."""
        return list(self.api("query", query=expr)["result"])

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

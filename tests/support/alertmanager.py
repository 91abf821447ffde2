"""A real Alertmanager (the Debian package) on a free loopback port, gossip off."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from devmentor_monitor.demo.fleet import free_port
from support.processes import stop_process
from support.waiting import wait_until

ALERTMANAGER = shutil.which("prometheus-alertmanager")


class Alertmanager:
    """`prometheus-alertmanager` on a free loopback port, gossip off; stopped by PID."""

    def __init__(self, tmp: Path) -> None:
        if ALERTMANAGER is None:
            raise RuntimeError("prometheus-alertmanager is not installed (scripts/setup --test)")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = tmp / "am.yml"
        cfg.write_text("route: {receiver: r}\nreceivers: [{name: r}]\n")
        self.log_path = tmp / "alertmanager.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={cfg}",
                f"--storage.path={tmp / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited:\n{self.log_path.read_text()}")
            return httpx.get(f"{self.base}/api/v2/status", timeout=2).status_code == 200

        wait_until(ready, 15, what="alertmanager to answer")

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.base}/api/v2/alerts", params=params, timeout=5)
        r.raise_for_status()
        return list(r.json())

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

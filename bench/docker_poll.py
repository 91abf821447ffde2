"""Cost of one Docker poll with 50 running containers (podman's Docker API, busybox).

Starts a private podman API service (tests/support/podman.py, the tests' own recipe), runs 50
idle containers, then times the source's blocking poll (events, list, inspect where
needed, one stats call per running container) as the monitor's thread runs it: wall
time and this process's CPU time per poll, median and max over POLLS polls. Prints JSON.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, host_info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.podman import IMAGE, Podman, missing

CONTAINERS = 50
POLLS = 20


def main() -> int:
    import docker

    from devmentor_monitor.config.schema import DockerSettings
    from devmentor_monitor.workloads.docker_source import DockerSource

    result: dict[str, Any] = {"host": host_info(), "containers": CONTAINERS, "polls": POLLS}
    why = missing()
    if why:
        result["error"] = why
        emit(result)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-podman-", ignore_cleanup_errors=True) as tmp:
        engine = Podman(Path(tmp))
        try:
            engine.import_busybox()
            engine.start()
            client = docker.DockerClient(base_url=engine.url, timeout=60)
            t0 = time.monotonic()
            for i in range(CONTAINERS):
                client.containers.run(
                    IMAGE,
                    ["sleep", "3600"],
                    detach=True,
                    network_mode="none",
                    init=True,
                    name=f"bench-{i}",
                )
            result["start_50_s"] = round(time.monotonic() - t0, 1)
            source = DockerSource(
                DockerSettings(enabled=True, host=engine.url, timeout=30), (), False
            )
            source._client = docker.DockerClient(base_url=engine.url, timeout=30)
            source._events_since = time.time()
            source.collect()  # the first poll inspects everything and has no CPU baseline
            walls, cpus = [], []
            for _ in range(POLLS):
                w0, c0 = time.perf_counter(), time.process_time()
                items, _ = source.collect()
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
            running = sum(c.running for c in items)
            result.update(
                {
                    "running_seen": running,
                    "poll_wall_ms": {
                        "median": round(statistics.median(walls) * 1000, 1),
                        "max": round(max(walls) * 1000, 1),
                    },
                    "poll_cpu_ms": {
                        "median": round(statistics.median(cpus) * 1000, 1),
                        "max": round(max(cpus) * 1000, 1),
                    },
                    "per_container_wall_ms": round(statistics.median(walls) * 1000 / CONTAINERS, 2),
                    "note": "poll = events since last poll + list + stats per running container "
                    "(+ inspect every 12th poll or on change); runs in one thread",
                }
            )
            ok = running == CONTAINERS
        finally:
            try:
                engine.remove_all()
            finally:
                engine.stop()
                engine.unmount()
    emit(result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

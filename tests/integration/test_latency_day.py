"""Issue 19: a service keeps only its last hour of latencies in memory (a day of them was
~135 KiB a service), the host series their last hour of samples; the day's view reads the
rest from the history on disk. Checks and host samples stored three hours ago (seeded
into history.db before the start) show in `/api/services/{name}?window=24h` and
`/api/metrics?series=cpu&window=24h`, each once and in order, up to the live ones; a
`window=1h` stays in the hour."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devmentor_monitor.history.model import Sample, host_series, service_series
from devmentor_monitor.history.sqlite import SqliteSeries

pytestmark = pytest.mark.integration

HOUR = 3600.0


async def seed(path: Path, samples: list[Sample]) -> None:
    series = SqliteSeries(path, 30 * 86400.0, batch_interval=0.01)
    series.open()
    series.write(samples)
    await series.flush()
    await series.close()


def test_the_day_of_latencies_comes_from_the_history(
    tmp_path, fleet, write_config, fast, serve, wait
):
    now = time.time()
    # An hour of checks a minute, from 3 h to 2 h ago: older than any ring keeps.
    old = [(now - 3 * HOUR + 60 * i, 0.001 * (i + 1)) for i in range(60)]
    state = tmp_path / "state" / "devmentor-monitor"  # the serve fixture's XDG_STATE_HOME
    state.mkdir(parents=True)
    name = service_series("auth", "latency_seconds")
    cpu = [(t, 50.0 + i % 7) for i, (t, _) in enumerate(old)]
    asyncio.run(
        seed(
            state / "history.db",
            [Sample(name, t, v) for t, v in old]
            + [Sample(host_series("cpu"), t, v) for t, v in cpu],
        )
    )

    proc = serve("-c", str(write_config(fast(fleet.urls))))
    wait(lambda: proc.get("/api/services/auth").json()["checks_total"] >= 3, 10, what="3 checks")

    day = proc.get("/api/services/auth?window=24h").json()["latency_history_ms"]
    ts = [t for t, _ in day]
    assert ts == sorted(set(ts))  # in order, none twice where the ring and disk meet
    stored = [(t, ms) for t, ms in day if t < now - HOUR]
    assert [(round(t, 3), ms) for t, ms in stored] == [
        (round(t, 3), round(v * 1000, 2)) for t, v in old
    ]
    assert ts[-1] > now  # and the live checks after them
    hour = proc.get("/api/services/auth?window=1h").json()["latency_history_ms"]
    assert hour
    assert min(t for t, _ in hour) > now - HOUR
    assert [p for p in hour if p[0] <= ts[-1]] == day[len(stored) :]  # the ring's, as they were

    def host(window: str) -> list[list[float]]:
        body = proc.get(f"/api/metrics?series=cpu&window={window}").json()
        return body["series"]["cpu"]["points"]

    wait(lambda: host("1h"), 10, what="a host sample")
    day = host("24h")
    ts = [t for t, _ in day]
    assert ts == sorted(set(ts))
    stored = [(round(t, 3), v) for t, v in day if t < now - HOUR]
    assert stored == [(round(t, 3), v) for t, v in cpu]
    assert ts[-1] > now
    assert min(t for t, _ in host("1h")) > now - HOUR

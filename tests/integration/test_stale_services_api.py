"""Issue 19, real values fast: a restarted `--serve` shows each service's last known status
at once, marked stale (`"stale": true` with the time of the check it comes from), and
leaves it out of /metrics' devmentor_service_up, until the first fresh check replaces it."""

from __future__ import annotations

import signal
import time

import pytest

pytestmark = pytest.mark.integration


def by_name(proc) -> dict:
    return {s["name"]: s for s in proc.get("/api/services").json()["services"]}


def test_last_known_status_is_served_stale_until_the_first_fresh_check(
    fleet, write_config, fast, serve, wait
):
    for name in ("auth", "memory", "project"):
        fleet.behave(name, error_rate=0.0, jitter=0.0, latency_ms=5.0)
    fleet.behave("memory", down=True)
    cfg = str(write_config(fast(fleet.urls, interval="5s", timeout="3s")))
    first = serve("-c", cfg)
    wait(
        lambda: (
            {n: s["status"] for n, s in by_name(first).items()}
            == {"auth": "up", "memory": "down", "project": "up"}
        ),
        10,
        what="auth and project up, memory down",
    )
    before = by_name(first)
    assert not any(s["stale"] for s in before.values())  # checked in this run: fresh
    first.signal(signal.SIGTERM)
    assert first.proc.wait(10) == 0
    stopped = time.time()

    # The restart: memory and project now hang past their 3 s timeout, auth answers.
    fleet.behave("memory", down=False, latency_ms=4_000.0)
    fleet.behave("project", latency_ms=4_000.0)
    second = serve("-c", cfg)
    body = second.get("/api/services").json()
    after = {s["name"]: s for s in body["services"]}
    # Stale statuses are not known yet: counted as unknown, as on /health (a stale "down"
    # would page a reader of the counts for a service nobody has checked in this run).
    assert body["counts"]["down"] == 0, body["counts"]
    assert body["counts"]["unknown"] >= 2, body["counts"]
    for name, status in (("memory", "down"), ("project", "up")):
        s = after[name]
        assert (s["status"], s["stale"]) == (status, True), s
        assert s["last_check"] is None  # none in this run yet
        assert before[name]["last_check"]["ts"] - 1e-3 <= s["stale_at"] <= stopped
    assert after["project"]["latency_ms"]["last"] > 0  # that check's latency
    metrics = second.get("/metrics").text
    assert 'devmentor_service_up{service="project"}' not in metrics  # not known now

    # auth's first check comes at once; the others' (timeouts) after 3 s: fresh, DOWN.
    auth = wait(lambda: (s := by_name(second)["auth"]) and not s["stale"] and s, 10, what="auth")
    assert auth["status"] in ("up", "degraded")  # degraded: a loaded machine's slow answer
    fresh = wait(
        lambda: (s := by_name(second)["project"]) and not s["stale"] and s, 15, what="project"
    )
    assert fresh["status"] == "down"
    assert fresh["stale_at"] is None
    assert "timeout" in fresh["last_check"]["error"]
    assert 'devmentor_service_up{service="project"} 0.0' in second.get("/metrics").text

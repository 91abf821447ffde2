"""`/api/services` through `--serve`: the same bytes scrape after scrape until a check
changes what it says, then the new state at once (server/services_body.py)."""

from __future__ import annotations

import pytest
from support.processes import FleetThread

pytestmark = pytest.mark.integration


def test_services_body_is_the_same_bytes_until_a_check_changes_it(write_config, fast, serve, wait):
    fleet = FleetThread(["auth", "memory", "project"])
    try:
        cfg = write_config(fast(fleet.urls, interval="3s", timeout="1s"))
        proc = serve("-c", str(cfg))

        def all_up() -> bool:
            body = proc.get("/api/services").json()
            return all(s["status"] == "up" for s in body["services"])

        wait(all_up, 10, what="all up")
        same = 0
        for _ in range(40):  # back-to-back scrapes with no check between them match exactly
            a = proc.get("/api/services")
            b = proc.get("/api/services")
            assert a.headers["content-type"].startswith("application/json")
            checks = [sum(s["checks_total"] for s in r.json()["services"]) for r in (a, b)]
            if checks[0] == checks[1]:
                assert a.content == b.content
                same += 1
        assert same >= 30
        before = proc.get("/api/services").content
        fleet.stop("memory")

        def memory_down() -> bool:
            body = proc.get("/api/services").json()
            return {s["name"]: s["status"] for s in body["services"]}["memory"] == "down"

        wait(memory_down, 15, what="memory down")
        after = proc.get("/api/services")
        assert after.content != before
        assert after.json()["counts"]["down"] == 1
    finally:
        fleet.close()

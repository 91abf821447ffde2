"""Issue 20: several `--serve` instances as one fleet through a real Redis.

20 services on one counting stub (tests/support/counting.py), checked every second; short
cluster timings (beat 0.2 s, so a member is gone 0.6 s after its last beat; lease 1.5 s).
What a user would notice: each check runs once per interval fleet-wide (counted at the
stub), every instance shows the same results, a killed instance's share moves to the
survivor within two intervals, a Redis outage makes each instance run every check and
say so, and a killed leader is replaced within the lease.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.counting import CountingStub
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration

N = 20
INTERVAL = 1.0
BEAT = 0.2
LEASE = 1.5
FAILING = frozenset({3})  # answers 500: down on every instance, whoever checks it


@pytest.fixture
def stub() -> Iterator[CountingStub]:
    s = CountingStub(N, failing=FAILING)
    yield s
    s.close()


@pytest.fixture
def fleet_config(
    stub: CountingStub, redis_server: RedisServer, pg_url: str, write_config: Any
) -> Path:
    services = [
        {
            "name": f"svc-{i}",
            "url": stub.url(i),
            "interval": f"{INTERVAL}s",
            "timeout": "0.8s",
            "failure_threshold": 1,
        }
        for i in range(N)
    ]
    path: Path = write_config(
        services,
        redis={"url": redis_server.url},
        storage={"url": pg_url},
        cluster={"enabled": True, "heartbeat": f"{BEAT}s", "lease": f"{LEASE}s"},
    )
    return path


@pytest.fixture
def instance(serve: Any, fleet_config: Path, tmp_path: Path) -> Callable[[], Any]:
    """Start one more instance of the fleet, each with its own data directory."""
    started: list[Any] = []

    def start() -> Any:
        state = tmp_path / f"state-{len(started)}"
        proc = serve("--config", str(fleet_config), env={"XDG_STATE_HOME": str(state)})
        started.append(proc)
        return proc

    return start


def fleet(proc: Any) -> dict[str, Any]:
    body: dict[str, Any] = proc.get("/api/fleet").json()
    return body


def services(proc: Any) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in proc.get("/api/services").json()["services"]}


def split(procs: list[Any]) -> bool:
    """Every instance sees all of them, and their shares add up to the 20 checks."""
    views = [fleet(p) for p in procs]
    return all(
        v["mode"] == "member"
        and len(v["members"]) == len(procs)
        and sum(m["checks"] for m in v["members"]) == N
        for v in views
    )


def once_per_interval(stub: CountingStub, since: float, until: float) -> None:
    """Each endpoint was asked about once a second over the window, never twice in one."""
    span = until - since
    for i in range(N):
        hits = [t for t in stub.hits[stub.path(i)] if since <= t < until]
        assert span / INTERVAL - 1.5 <= len(hits) <= span / INTERVAL + 1, (i, len(hits))
        gaps = [b - a for a, b in itertools.pairwise(hits)]
        assert all(g > 0.6 * INTERVAL for g in gaps), (i, gaps)


def window(seconds: float) -> tuple[float, float]:
    start = time.monotonic()
    time.sleep(seconds)  # the window counted at the stub: time itself is what is measured
    return start, time.monotonic()


def test_two_instances_split_the_checks_share_results_and_a_killed_ones_share_moves(
    stub: CountingStub, instance: Callable[[], Any], wait: Any
) -> None:
    a, b = instance(), instance()
    wait(lambda: split([a, b]), 15, what="both instances in a fleet of 2")
    mine = {fleet(p)["me"]: m["checks"] for p in (a, b) for m in fleet(p)["members"]}
    assert all(n > 0 for n in mine.values()), mine  # both carry a share
    time.sleep(INTERVAL)  # the join's own round: out of the window
    once_per_interval(stub, *window(5.0))

    # The same results on both: the same check (its time) and status, wherever it ran.
    def same() -> bool:
        sa, sb = services(a), services(b)
        return all(
            sa[n]["last_check"] and sa[n]["last_check"]["ts"] == sb[n]["last_check"]["ts"]
            for n in sa
        ) and {n: s["status"] for n, s in sa.items()} == {n: s["status"] for n, s in sb.items()}

    wait(same, 5, what="the same results on both instances")
    # The fleet's own traffic is not taken for platform events (events.patterns devmentor:*)
    for p in (a, b):
        metrics = p.get("/metrics").text
        assert "devmentor_events_rejected_total" not in metrics or all(
            line.endswith(" 0.0")
            for line in metrics.splitlines()
            if line.startswith("devmentor_events_rejected_total{")
        ), metrics
        origins = {e["origin"] for e in p.get("/api/events").json()["events"]}
        assert origins <= {"monitor"}, origins
    assert services(a)["svc-3"]["status"] == "down"
    assert services(b)["svc-0"]["status"] == "up"

    # kill -9 one: the survivor checks all 20 within two intervals
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(5)
    killed = time.monotonic()
    wait(
        lambda: all(stub.last(i) > killed for i in range(N)),
        2 * INTERVAL + 0.5,
        what="the survivor to check all 20",
    )
    first = [min(t for t in stub.hits[stub.path(i)] if t > killed) for i in range(N)]
    assert max(first) - killed <= 2 * INTERVAL  # each one's first check since the kill
    wait(lambda: len(fleet(a)["members"]) == 1, 3, what="the dead member gone")
    assert fleet(a)["leader"] == fleet(a)["me"]
    time.sleep(INTERVAL)
    once_per_interval(stub, *window(3.0))


def test_redis_outage_each_runs_every_check_says_so_and_rejoins(
    stub: CountingStub, redis_server: RedisServer, instance: Callable[[], Any], wait: Any
) -> None:
    a, b = instance(), instance()
    wait(lambda: split([a, b]), 15, what="both instances in a fleet of 2")

    redis_server.stop()  # SIGKILL
    wait(
        lambda: all(p.get("/health").json()["cluster"]["mode"] == "fallback" for p in (a, b)),
        5,
        what="both in fallback",
    )
    health = a.get("/health").json()
    assert "redis unreachable" in health["cluster"]["reason"]
    assert f"running all {N} checks" in health["cluster"]["reason"]
    cluster = next(s for s in health["sources"] if s["name"] == "cluster")
    assert cluster["state"] == "unavailable"
    time.sleep(INTERVAL)  # the share that moved: out of the window
    since, until = window(4.0)
    counts = stub.counts(since, until)
    # two instances, 4 s: about 8 each (one alone: 4; a loaded machine drifts a little)
    assert all(n >= 6 for n in counts.values()), counts
    for p in (a, b):  # both keep answering, with state
        assert p.get("/api/services").status_code == 200
        assert p.get("/api/fleet").json()["mode"] == "fallback"

    # Redis back on the same port: they find each other and split again
    RedisServer(redis_server.dir, port=redis_server.port).start()
    redis_server.pid = int((redis_server.dir / "redis.pid").read_text())  # stopped at the end
    wait(lambda: split([a, b]), 10, what="the fleet of 2 again")
    time.sleep(INTERVAL)
    once_per_interval(stub, *window(4.0))
    assert a.get("/health").json()["cluster"]["mode"] == "member"


def test_three_instances_a_killed_leader_is_replaced_within_the_lease(
    instance: Callable[[], Any], wait: Any
) -> None:
    procs = [instance(), instance(), instance()]
    wait(lambda: split(procs), 20, what="a fleet of 3")

    def agreed_leader() -> str | None:
        leaders = {fleet(p)["leader"] for p in procs}
        return leaders.pop() if len(leaders) == 1 and None not in leaders else None

    leader = wait(agreed_leader, 5, what="one leader all agree on")
    old = next(p for p in procs if fleet(p)["me"] == leader)
    token = fleet(old)["token"]
    assert isinstance(token, int)
    rest = [p for p in procs if p is not old]
    assert all(fleet(p)["token"] is None for p in rest)  # only the leader has a token

    os.kill(old.proc.pid, signal.SIGKILL)
    old.proc.wait(5)
    killed = time.monotonic()

    def new_leader() -> dict[str, Any] | None:
        for p in rest:
            view = fleet(p)
            if view["leader"] == view["me"] and view["token"] is not None:
                return view
        return None

    view = wait(new_leader, LEASE + 1.0, interval=0.02, what="a new leader")
    assert time.monotonic() - killed <= LEASE + 0.2
    assert view["me"] != leader
    assert view["token"] > token  # fencing: a later leader's token is higher
    wait(lambda: all(fleet(p)["leader"] == view["me"] for p in rest), 2, what="both agree")

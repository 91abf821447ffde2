"""Issue 20, as a user meets it: two `--serve` instances behind a real HAProxy, on a real
PostgreSQL and Redis, over 20 services on one counting stub.

Each check runs once per interval fleet-wide; `/api/services` and `/api/incidents` answer
the same through HAProxy whichever instance serves; an acknowledgement made through one
instance is seen through the other; and a `kill -9` of the leader during an outage
neither loses the page nor sends it twice (counted at a real webhook receiver).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.counting import CountingStub
from support.haproxy import HAProxy
from support.http import Receiver
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration

N = 20
INTERVAL = 1.0
DOWN = 3  # the service whose outage opens the incident
LATE = 5  # the one that goes down as the leader is killed
OPERATOR = "op-key-0123456789abcdef"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR}"}


@pytest.fixture
def stub() -> Iterator[CountingStub]:
    s = CountingStub(N)
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    r = Receiver.in_thread()
    yield r
    r.close()


@pytest.fixture
def start(
    stub: CountingStub,
    redis_server: RedisServer,
    pg_url: str,
    receiver: Any,
    write_config: Any,
    serve: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Callable[[], Any]:
    """One more instance of the fleet, each with its own data directory (and a heartbeat
    job among the services for a test marked `heartbeat_job`)."""
    services = [
        {
            "name": f"svc-{i}",
            "url": stub.url(i),
            "interval": f"{INTERVAL:g}s",
            "timeout": "0.8s",
            "failure_threshold": 2,
        }
        for i in range(N)
    ]
    if request.node.get_closest_marker("heartbeat_job"):
        services.append({"name": "nightly", "heartbeat": {"grace": "2s"}, "interval": "0.5s"})
    cfg = write_config(
        services,
        redis={"url": redis_server.url},
        storage={"url": pg_url},
        cluster={"enabled": True, "heartbeat": "0.2s", "lease": "1.5s"},
        notifications={
            "channels": [{"name": "ops", "type": "webhook", "url": receiver.base + "/hook"}],
            "retry": {"base": "0.1s", "max": "1s"},
        },
    )
    started: list[Any] = []

    def one() -> Any:
        env = {**KEYS, "XDG_STATE_HOME": str(tmp_path / f"state-{len(started)}")}
        proc = serve("-c", str(cfg), env=env)
        started.append(proc)
        return proc

    return one


def fleet(proc: Any) -> dict[str, Any]:
    body: dict[str, Any] = proc.get("/api/fleet").json()
    return body


def formed(procs: list[Any]) -> bool:
    views = [fleet(p) for p in procs]
    leaders = {v["leader"] for v in views}
    return (
        all(v["mode"] == "member" and len(v["members"]) == len(procs) for v in views)
        and len(leaders) == 1
        and None not in leaders
    )


def leader_of(procs: list[Any]) -> tuple[Any, Any]:
    """(the leader, a follower)."""
    lead = next(p for p in procs if fleet(p)["leader"] == fleet(p)["me"])
    return lead, next(p for p in procs if p is not lead)


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in body["services"]}


def incidents(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(i["id"], i["service"], i["state"]) for i in body["incidents"]]


def test_two_instances_behind_haproxy_answer_as_one(
    start: Callable[[], Any], stub: CountingStub, tmp_path: Path, wait: Any
) -> None:
    a, b = start(), start()
    lb = HAProxy(tmp_path / "haproxy", [a.port, b.port]).start()
    try:
        wait(lambda: formed([a, b]), 15, what="a fleet of two with one leader")
        stub.failing.add(stub.path(DOWN))
        with httpx.Client(base_url=lb.url, timeout=5) as client:
            opened = wait(
                lambda: incidents(client.get("/api/incidents?state=open").json()),
                15,
                what="the incident through HAProxy",
            )
            assert [(svc, state) for _, svc, state in opened] == [(f"svc-{DOWN}", "open")]

            # Each check once per interval fleet-wide, counted at the stub.
            since = time.monotonic()
            time.sleep(4 * INTERVAL)  # the window counted at the stub: time is measured
            counts = stub.counts(since)
            assert all(3 <= n <= 5 for n in counts.values()), counts

            # Whichever instance HAProxy picks (round robin): the same answers.
            seen_services = [statuses(client.get("/api/services").json()) for _ in range(4)]
            seen_incidents = [incidents(client.get("/api/incidents").json()) for _ in range(4)]
        assert all(s == seen_services[0] for s in seen_services), seen_services
        assert seen_services[0][f"svc-{DOWN}"] == "down"
        assert sum(1 for s in seen_services[0].values() if s == "up") == N - 1
        assert all(i == seen_incidents[0] for i in seen_incidents), seen_incidents
        served_by = {a.port, b.port}
        assert len(served_by) == 2  # both behind it (HAProxy's checks: tests/support)

        # Acknowledged through the follower: seen through the leader and HAProxy.
        lead, follower = leader_of([a, b])
        inc_id = opened[0][0]
        ack = httpx.post(
            f"{follower.url}/api/incidents/{inc_id}/acknowledge",
            headers={"Authorization": f"Bearer {OPERATOR}"},
            json={"comment": "on it"},
            timeout=10,
        )
        assert ack.status_code == 200, ack.text
        assert ack.json()["acknowledged_by"] == "ops"
        assert lead.get(f"/api/incidents/{inc_id}").json()["state"] == "acknowledged"
        with httpx.Client(base_url=lb.url, timeout=5) as client:
            for _ in range(4):
                assert client.get(f"/api/incidents/{inc_id}").json()["state"] == "acknowledged"
        wait(
            lambda: any(
                i["id"] == inc_id and i["state"] == "acknowledged"
                for i in follower.get("/api/incidents").json()["incidents"]
            ),
            3,
            what="the follower's own list",
        )
    finally:
        lb.stop()


def test_a_killed_leader_neither_loses_nor_doubles_a_page(
    start: Callable[[], Any], stub: CountingStub, receiver: Any, wait: Any
) -> None:
    """Two outages span the failover: one paged before the kill, one begun just before it
    (its page may be the old leader's or the new one's): one open and one resolved page
    each, whoever sends them."""
    a, b = start(), start()
    wait(lambda: formed([a, b]), 15, what="a fleet of two with one leader")
    stub.failing.add(stub.path(DOWN))
    wait(lambda: [x for x in receiver.bodies() if x["kind"] == "open"], 15, what="the open page")
    lead, survivor = leader_of([a, b])
    stub.failing.add(stub.path(LATE))  # down from now: the kill comes before its page
    lead.proc.send_signal(signal.SIGKILL)
    lead.proc.wait(5)
    wait(
        lambda: fleet(survivor)["leader"] == fleet(survivor)["me"] and fleet(survivor)["token"],
        5,
        what="the survivor to lead",
    )
    wait(
        lambda: len([x for x in receiver.bodies() if x["kind"] == "open"]) == 2,
        15,
        what="the late outage's page, from the new leader",
    )
    stub.failing.clear()  # both outages end after the failover
    wait(
        lambda: len([x for x in receiver.bodies() if x["kind"] == "resolved"]) == 2,
        15,
        what="both resolved pages, from the new leader",
    )
    time.sleep(3 * INTERVAL)  # nothing more comes: a second page would be here by now
    pages = sorted((x["service"], x["kind"]) for x in receiver.bodies())
    assert pages == [
        (f"svc-{DOWN}", "open"),
        (f"svc-{DOWN}", "resolved"),
        (f"svc-{LATE}", "open"),
        (f"svc-{LATE}", "resolved"),
    ], pages
    listed = survivor.get("/api/incidents").json()["incidents"]
    assert sorted((i["service"], i["state"]) for i in listed) == [
        (f"svc-{DOWN}", "resolved"),
        (f"svc-{LATE}", "resolved"),
    ]


def test_a_paused_leader_past_its_lease_writes_nothing_when_it_wakes(
    start: Callable[[], Any], stub: CountingStub, receiver: Any, wait: Any
) -> None:
    """SIGSTOP the leader past its lease: the other takes the lead (a higher fencing token)
    and resolves the outage; the old one, woken, gives the lead up and neither pages nor
    writes: one open and one resolved page in all."""
    a, b = start(), start()
    wait(lambda: formed([a, b]), 15, what="a fleet of two with one leader")
    stub.failing.add(stub.path(DOWN))
    wait(lambda: [x for x in receiver.bodies() if x["kind"] == "open"], 15, what="the open page")
    old, other = leader_of([a, b])
    old_token = fleet(old)["token"]
    old.proc.send_signal(signal.SIGSTOP)
    try:
        view = wait(
            lambda: (v := fleet(other))["leader"] == v["me"] and v["token"] and v,
            5,
            what="the other to lead",
        )
        assert view["token"] > old_token
        stub.failing.discard(stub.path(DOWN))
        wait(
            lambda: [x for x in receiver.bodies() if x["kind"] == "resolved"],
            15,
            what="the resolved page, from the new leader",
        )
    finally:
        asleep = len(old.output())
        old.proc.send_signal(signal.SIGCONT)
    wait(lambda: fleet(old)["leader"] == fleet(other)["me"], 5, what="the woken one to follow")
    time.sleep(3 * INTERVAL)  # a stale write or page would come now
    assert sorted(x["kind"] for x in receiver.bodies()) == ["open", "resolved"]
    (inc,) = old.get("/api/incidents").json()["incidents"]
    assert inc["state"] == "resolved"
    woken = old.output()[asleep:]  # what it logged once woken: no write went through
    assert "incident resolved" not in woken
    assert "incident opened" not in woken
    assert "notification sent" not in woken


@pytest.mark.heartbeat_job
def test_a_heartbeat_pushed_to_one_instance_keeps_the_service_up_on_all(
    start: Callable[[], Any], tmp_path: Path, wait: Any
) -> None:
    """A balancer sends each beat to one instance; the others hear it through Redis and
    judge by the same last beat: no instance marks the job down while it beats."""
    a, b = start(), start()
    wait(lambda: formed([a, b]), 15, what="a fleet of two with one leader")
    lb = HAProxy(tmp_path / "haproxy", [a.port, b.port]).start()
    try:

        def nightly(p: Any) -> dict[str, Any]:
            return next(
                s for s in p.get("/api/services").json()["services"] if s["name"] == "nightly"
            )

        auth = {"Authorization": f"Bearer {OPERATOR}"}
        ends = time.monotonic() + 5.0  # 2.5 graces, beating through the balancer
        with httpx.Client(base_url=lb.url, timeout=5, headers=auth) as client:
            while time.monotonic() < ends:
                assert client.post("/api/heartbeat/nightly").status_code == 200
                time.sleep(0.4)  # the job's own pace: a beat every 0.4 s
                assert [nightly(p)["status"] for p in (a, b)] == ["up", "up"]
        last = {p.port: nightly(p)["heartbeat"]["last_beat"] for p in (a, b)}
        assert last[a.port] == pytest.approx(last[b.port], abs=0.01), last
        assert "nightly" not in {i["service"] for i in a.get("/api/incidents").json()["incidents"]}
    finally:
        lb.stop()

"""The Kubernetes source against a fake API server (tests/support/kube_fake.py): no real API
server can run on this machine, so the fake serves complete, real-shaped objects and the
official client parses them with its own models."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.kube_fake import NS, FakeKube, deployment, event, listing, node, pod, status_object
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.model import Health, SourceState
from devmentor_monitor.runtime import Monitor

pytestmark = pytest.mark.integration

OPERATOR = "operator-key-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    server = FakeKube()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def monitor_for(tmp_path: Path, fleet: Any):
    monitors: list[Monitor] = []

    async def make(server: FakeKube, **kube: Any) -> Monitor:
        doc = {
            "kubernetes": {
                "kubeconfig": str(server.kubeconfig(tmp_path / "kubeconfig")),
                "interval": "0.5s",
                "timeout": "2s",
                "watch_timeout": "2s",
                **kube,
            },
            "storage": {"data_dir": str(tmp_path / "data")},
            "auth": {"keys": [{"name": "ops", "key": OPERATOR, "role": "operator"}]},
            "services": [
                {"name": n, "url": u, "interval": "0.5s", "timeout": "0.4s"}
                for n, u in fleet.urls.items()
            ],
        }
        path = tmp_path / "services.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        env = {"AUTO_DISCOVER": "true", "MIN_REPLICAS": "1", "MAX_REPLICAS": "5"}
        m = Monitor(load_config(path, env=env, port=free_port()))
        await m.start()
        monitors.append(m)
        return m

    yield make
    for m in monitors:
        await m.stop()


async def api(
    m: Monitor, method: str, path: str, key: str | None = OPERATOR, **kw: Any
) -> httpx.Response:
    assert m.server is not None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=m.server.url, timeout=10) as client:
        return await client.request(method, path, headers=headers, **kw)


def test_kube_objects_parse_with_the_official_models() -> None:
    """The fake's objects are complete: the client's strict models accept every one."""
    from kubernetes.client import ApiClient

    client = ApiClient()
    cases = {
        "V1PodList": listing("PodList", "v1", [pod("a-1", "a", last_reason="Error")], "1"),
        "V1DeploymentList": listing("DeploymentList", "apps/v1", [deployment("a")], "1"),
        "V1NodeList": listing("NodeList", "v1", [node("n")], "1"),
        "CoreV1EventList": listing("EventList", "v1", [event("e", "a-1", "BackOff", "m")], "1"),
        "V1Status": status_object(410, "Expired", "too old resource version"),
    }
    for klass, data in cases.items():
        obj = client.deserialize(json.dumps(data), klass, "application/json")
        assert type(obj).__name__ == klass
    parsed = client.deserialize(json.dumps(cases["V1PodList"]), "V1PodList", "application/json")
    status = parsed.items[0].status.container_statuses[0]
    assert status.last_state.terminated.reason == "Error"
    assert status.restart_count == 0


async def test_lists_pods_deployments_nodes_and_warnings(fake: FakeKube, monitor_for) -> None:
    m = await monitor_for(fake)
    kube = m.store.kube
    await eventually(lambda: len(kube.items("pods")) == 2 and kube.items("events"), 15, "the lists")
    status = m.store.source("kubernetes")
    assert status.state is SourceState.OK
    assert status.reason == f"{fake.url} namespace {NS}"
    bad = kube.get("pods", "memory-5d4f8b7c9-q9w7e")
    assert (bad.ready, bad.restarts, bad.node, bad.service, bad.owner) == (
        False,
        7,
        "node-1",
        "memory",
        "memory",
    )
    assert (bad.phase, bad.waiting) == ("Running", "CrashLoopBackOff")
    assert bad.last_termination == "OOMKilled (exit 137)"
    assert bad.created == 1714557600.0
    good = kube.get("pods", "auth-5d4f8b7c9-x2k8p")
    assert good.ready
    assert good.service == "auth"
    dep = kube.get("deployments", "memory")
    assert (dep.desired, dep.ready, dep.updated, dep.service) == (1, 0, 1, "memory")
    nodes = {n.name: n for n in kube.items("nodes")}
    assert nodes["node-1"].ready
    assert nodes["node-1"].pressure == ()
    assert nodes["node-2"].pressure == ("MemoryPressure",)
    assert dict(nodes["node-1"].allocatable)["memory"] == "15204764Ki"
    # the pod behind `memory` is not ready: its service is down whatever /health says
    await eventually(lambda: m.store.status("memory") is Health.DOWN, 10, "memory down")
    assert m.store.workload_down("memory").startswith("no ready pod (pod memory-5d4f8b7c9")
    body = (await api(m, "GET", "/api/kubernetes/events")).json()
    assert body["events"][0]["kind"] == "BackOff"
    assert body["events"][0]["service"] == "memory"
    assert body["source"]["available"]
    assert body["namespace"] == NS
    pods = (await api(m, "GET", "/api/kubernetes/pods")).json()["pods"]
    assert {p["name"] for p in pods} == set(fake.pods)
    nodes_json = (await api(m, "GET", "/api/kubernetes/nodes")).json()["nodes"]
    assert nodes_json[1]["pressure"] == ["MemoryPressure"]
    deps = (await api(m, "GET", "/api/kubernetes/deployments")).json()["deployments"]
    assert {d["name"]: d["desired"] for d in deps} == {"auth": 2, "memory": 1}
    metrics = (await api(m, "GET", "/metrics")).text
    assert (
        'devmentor_pod_ready{namespace="devmentor",pod="memory-5d4f8b7c9-q9w7e",'
        'service="memory"} 0.0' in metrics
    )
    assert (
        'devmentor_pod_restarts_total{namespace="devmentor",pod="memory-5d4f8b7c9-q9w7e"' in metrics
    )
    assert (
        'devmentor_deployment_replicas{deployment="memory",namespace="devmentor",'
        'state="desired"} 1.0'
        in metrics
        or 'devmentor_deployment_replicas{namespace="devmentor",deployment="memory",'
        'state="desired"} 1.0'
        in metrics
    )


async def test_watch_events_update_pods_without_a_relist(fake: FakeKube, monitor_for) -> None:
    m = await monitor_for(fake, watch_timeout="30s")
    kube = m.store.kube
    await eventually(lambda: len(kube.items("pods")) == 2 and fake.watching(), 15, "a pod watch")
    lists = fake.count("GET", f"/api/v1/namespaces/{NS}/pods?") - fake.count(
        "GET", f"/api/v1/namespaces/{NS}/pods?allowWatchBookmarks"
    )
    healed = pod("memory-5d4f8b7c9-q9w7e", "memory", restarts=8, last_reason="OOMKilled")
    fake.push("MODIFIED", healed)
    await eventually(
        lambda: kube.get("pods", "memory-5d4f8b7c9-q9w7e").ready, 10, "the watched change"
    )
    assert kube.get("pods", "memory-5d4f8b7c9-q9w7e").restarts == 8
    await eventually(lambda: m.store.workload_down("memory") is None, 10, "memory bound up")
    fake.push("ADDED", pod("auth-5d4f8b7c9-new01", "auth"))
    await eventually(lambda: kube.get("pods", "auth-5d4f8b7c9-new01"), 10, "the new pod")
    fake.push("DELETED", pod("auth-5d4f8b7c9-x2k8p", "auth"))
    await eventually(
        lambda: kube.get("pods", "auth-5d4f8b7c9-x2k8p") is None, 10, "the deleted pod gone"
    )
    relisted = fake.count("GET", f"/api/v1/namespaces/{NS}/pods?") - fake.count(
        "GET", f"/api/v1/namespaces/{NS}/pods?allowWatchBookmarks"
    )
    assert relisted == lists
    assert m.kube_source.relists == 1


async def test_expired_watch_410_relists(fake: FakeKube, monitor_for) -> None:
    m = await monitor_for(fake, watch_timeout="1s")
    await eventually(lambda: m.kube_source.relists == 1 and fake.watching(), 15, "a watch")
    fake.pods["project-5d4f8b7c9-p1"] = pod("project-5d4f8b7c9-p1", "project")  # unseen
    fake.expire_next_watch = True  # the next watch (within 1 s) answers 410 Gone
    await eventually(lambda: m.kube_source.relists >= 2, 15, "a relist after 410")
    await eventually(
        lambda: m.store.kube.get("pods", "project-5d4f8b7c9-p1"), 5, "the pod only a relist shows"
    )
    assert m.store.source("kubernetes").state is SourceState.OK
    assert any("watch=" in p and "resourceVersion=" in p for _, p, _ in fake.requests)


async def test_forbidden_is_not_available_forbidden(fake: FakeKube, monitor_for) -> None:
    fake.forbidden = True
    m = await monitor_for(fake)
    status = await eventually(
        lambda: (s := m.store.source("kubernetes")) and s.state is SourceState.UNAVAILABLE and s,
        15,
        "unavailable",
    )
    assert status.reason.startswith('forbidden: pods is forbidden: User "system:')
    assert status.retry_at is not None
    body = (await api(m, "GET", "/api/kubernetes/pods")).json()
    assert body["source"]["available"] is False
    assert body["pods"] == []
    fake.forbidden = False  # permissions fixed: it recovers by itself
    await eventually(lambda: m.store.source("kubernetes").state is SourceState.OK, 20, "recovered")


async def test_actions_scale_restart_delete(fake: FakeKube, monitor_for) -> None:
    m = await monitor_for(fake)
    await eventually(lambda: m.store.kube.items("deployments"), 15, "deployments")
    r = await api(m, "POST", "/api/kubernetes/deployments/auth/scale", json={"replicas": 3})
    assert r.status_code == 200, r.text
    scale = [(p, b) for meth, p, b in fake.requests if meth == "PATCH" and p.endswith("/scale")]
    assert scale
    assert json.loads(scale[-1][1]) == {"spec": {"replicas": 3}}
    for wrong in (0, 6):
        r = await api(m, "POST", "/api/kubernetes/deployments/auth/scale", json={"replicas": wrong})
        assert r.status_code == 400
        assert r.json()["error"]["message"] == (
            f"replicas must be within MIN_REPLICAS..MAX_REPLICAS (1..5), got {wrong}"
        )
    assert (
        len([1 for meth, p, _ in fake.requests if meth == "PATCH" and p.endswith("/scale")]) == 1
    )  # refused ones never reached the API
    r = await api(m, "POST", "/api/kubernetes/deployments/auth/restart")
    assert r.status_code == 200, r.text
    i, (_, _, body) = next(
        (i, x)
        for i, x in enumerate(fake.requests)
        if x[0] == "PATCH" and x[1].endswith("/deployments/auth")
    )
    assert fake.content_types[i] == "application/strategic-merge-patch+json"
    stamp = json.loads(body)["spec"]["template"]["metadata"]["annotations"][
        "kubectl.kubernetes.io/restartedAt"
    ]
    assert (
        abs(time.time() - time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) + time.timezone)
        < 120
    )
    r = await api(m, "DELETE", "/api/kubernetes/pods/memory-5d4f8b7c9-q9w7e")
    assert r.status_code == 200, r.text
    assert fake.count("DELETE", f"/api/v1/namespaces/{NS}/pods/memory-5d4f8b7c9-q9w7e") == 1
    r = await api(m, "POST", "/api/kubernetes/deployments/nope/restart")
    assert r.status_code == 404
    assert "not found" in r.json()["error"]["message"]
    r = await api(m, "DELETE", "/api/kubernetes/pods/x", key=None)
    assert r.status_code == 401
    audit = await m.db.run(m.db.load_audit)
    rows = {(a.action, a.target, a.outcome.split(":")[0]) for a in audit}
    assert {
        ("deployment.scale", "auth to 3", "ok"),
        ("deployment.scale", "auth to 6", "denied"),
        ("deployment.restart", "auth", "ok"),
        ("pod.delete", "memory-5d4f8b7c9-q9w7e", "ok"),
        ("deployment.restart", "nope", "failed"),
        ("pod.delete", "x", "denied"),
    } <= rows


async def test_a_hung_api_times_out_without_blocking(fake: FakeKube, monitor_for) -> None:
    fake.hang = True
    m = await monitor_for(fake, timeout="1s")
    lag: list[float] = []
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        await asyncio.sleep(0.02)
        lag.append(time.monotonic() - t0 - 0.02)
        status = m.store.source("kubernetes")
        if status is not None and status.state is SourceState.UNAVAILABLE:
            break
    assert status is not None
    assert status.reason == f"API timeout after 1 s ({fake.url})"
    assert max(lag) < 0.5, f"event loop stalled {max(lag):.3f} s"

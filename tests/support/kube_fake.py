"""A fake Kubernetes API server on loopback, for the tests and bench/kube_hang.py.

No API server can run on this machine (see README), so this serves what one would: whole
objects shaped like `kubectl get -o json` output of Kubernetes 1.30 (v1 Pod/PodList,
apps/v1 Deployment/DeploymentList, Scale, v1 Node/NodeList, Event/EventList, WatchEvent
lines, Status for 403/404/410, /version), and the official client parses them with its
own strict models (test_kube_objects_parse_with_the_official_models). The test drives it:
queue watch events, expire a watch (410), forbid everything (403), or hang.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from devmentor_monitor.demo.fleet import free_port

NS = "devmentor"
CREATED = "2024-05-01T10:00:00Z"


def meta(name: str, namespace: str | None = NS, rv: str = "1000", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{name}",
        "resourceVersion": rv,
        "creationTimestamp": CREATED,
        **extra,
    }
    if namespace:
        m["namespace"] = namespace
    return m


def pod(
    name: str,
    app: str,
    *,
    ready: bool = True,
    restarts: int = 0,
    phase: str = "Running",
    node: str = "node-1",
    last_reason: str | None = None,
    rv: str = "1000",
    waiting: str | None = None,
) -> dict[str, Any]:
    hash_ = "5d4f8b7c9"
    state: dict[str, Any] = {"running": {"startedAt": "2024-05-01T10:00:05Z"}}
    if waiting:
        state = {
            "waiting": {"reason": waiting, "message": "back-off 5m0s restarting failed container"}
        }
    last_state: dict[str, Any] = {}
    if last_reason:
        last_state = {
            "terminated": {
                "exitCode": 137,
                "reason": last_reason,
                "startedAt": "2024-05-01T10:00:01Z",
                "finishedAt": "2024-05-01T10:00:04Z",
                "containerID": "containerd://0f1e2d",
            }
        }
    cond = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            name,
            rv=rv,
            generateName=f"{app}-{hash_}-",
            labels={"app": app, "pod-template-hash": hash_},
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{app}-{hash_}",
                    "uid": f"uid-rs-{app}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        ),
        "spec": {
            "containers": [
                {
                    "name": app,
                    "image": f"registry.local/devmentor/{app}:1.4.2",
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 3002, "protocol": "TCP"}],
                    "resources": {
                        "limits": {"memory": "256Mi"},
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "dnsPolicy": "ClusterFirst",
            "nodeName": node,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
        },
        "status": {
            "phase": phase,
            "hostIP": "10.0.0.11",
            "podIP": "10.244.1.7",
            "qosClass": "Burstable",
            "startTime": CREATED,
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": CREATED},
                {"type": "Ready", "status": cond, "lastTransitionTime": CREATED},
                {"type": "ContainersReady", "status": cond, "lastTransitionTime": CREATED},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": CREATED},
            ],
            "containerStatuses": [
                {
                    "name": app,
                    "ready": ready,
                    "restartCount": restarts,
                    "started": ready,
                    "image": f"registry.local/devmentor/{app}:1.4.2",
                    "imageID": f"registry.local/devmentor/{app}@sha256:" + "ab" * 32,
                    "containerID": "containerd://9a8b7c",
                    "state": state,
                    "lastState": last_state,
                }
            ],
        },
    }


def deployment(
    app: str, *, desired: int = 2, ready: int = 2, updated: int = 2, rv: str = "1000"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(
            app,
            rv=rv,
            generation=3,
            labels={"app": app},
            annotations={"deployment.kubernetes.io/revision": "3"},
        ),
        "spec": {
            "replicas": desired,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": app}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "containers": [{"name": app, "image": f"registry.local/devmentor/{app}:1.4.2"}],
                    "restartPolicy": "Always",
                },
            },
        },
        "status": {
            "observedGeneration": 3,
            "replicas": desired,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if ready else "False",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": CREATED,
                    "lastTransitionTime": CREATED,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{app}-5d4f8b7c9" has successfully progressed.',
                    "lastUpdateTime": CREATED,
                    "lastTransitionTime": CREATED,
                },
            ],
        },
    }


def node(name: str, *, ready: bool = True, memory_pressure: bool = False) -> dict[str, Any]:
    def cond(kind: str, status: bool, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True" if status else "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": CREATED,
            "lastTransitionTime": CREATED,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            name,
            namespace=None,
            labels={"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        ),
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {
            "capacity": {
                "cpu": "4",
                "memory": "16331164Ki",
                "pods": "110",
                "ephemeral-storage": "102625208Ki",
            },
            "allocatable": {
                "cpu": "3800m",
                "memory": "15204764Ki",
                "pods": "110",
                "ephemeral-storage": "94580335255",
            },
            "conditions": [
                cond(
                    "MemoryPressure",
                    memory_pressure,
                    "KubeletHasInsufficientMemory"
                    if memory_pressure
                    else "KubeletHasSufficientMemory",
                    "kubelet memory",
                ),
                cond("DiskPressure", False, "KubeletHasNoDiskPressure", "no disk pressure"),
                cond("PIDPressure", False, "KubeletHasSufficientPID", "sufficient PID"),
                cond(
                    "Ready",
                    ready,
                    "KubeletReady" if ready else "KubeletNotReady",
                    "kubelet is posting ready status",
                ),
            ],
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.11"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "b",
                "containerRuntimeVersion": "containerd://1.7.13",
                "kernelVersion": "6.1.0-18-amd64",
                "kubeProxyVersion": "v1.30.2",
                "kubeletVersion": "v1.30.2",
                "machineID": "m",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": "u",
            },
        },
    }


def event(name: str, pod_name: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta(name),
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod_name,
            "namespace": NS,
            "uid": f"uid-{pod_name}",
            "resourceVersion": "1000",
            "fieldPath": "spec.containers{auth}",
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 4,
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": CREATED,
        "lastTimestamp": "2024-05-01T10:05:00Z",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
    }


def listing(kind: str, api_version: str, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"resourceVersion": rv},
        "items": items,
    }


def status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.2",
    "gitCommit": "39683505b630ff2121012f3c5b16215a1449d5ed",
    "gitTreeState": "clean",
    "buildDate": "2024-06-11T20:21:00Z",
    "goVersion": "go1.22.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class FakeKube:
    """The fake server's state; handlers run on its own loop in a thread."""

    def __init__(self) -> None:
        self.pods = {
            p["metadata"]["name"]: p
            for p in (
                pod("auth-5d4f8b7c9-x2k8p", "auth"),
                pod(
                    "memory-5d4f8b7c9-q9w7e",
                    "memory",
                    ready=False,
                    restarts=7,
                    last_reason="OOMKilled",
                    waiting="CrashLoopBackOff",
                ),
            )
        }
        self.deployments = {
            d["metadata"]["name"]: d
            for d in (deployment("auth"), deployment("memory", desired=1, ready=0, updated=1))
        }
        self.nodes = [node("node-1"), node("node-2", memory_pressure=True)]
        self.events = [
            event(
                "memory.17c1",
                "memory-5d4f8b7c9-q9w7e",
                "BackOff",
                "Back-off restarting failed container memory in pod memory-5d4f8b7c9-q9w7e",
            )
        ]
        self.rv = 1000
        self.forbidden = False
        self.hang = False
        self.expire_next_watch = False
        self.requests: list[tuple[str, str, str]] = []  # method, path with query, body
        self.content_types: list[str] = []
        self.watchers: list[asyncio.Queue[dict[str, Any] | None]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        async def stop() -> None:
            self._released.set()
            for q in self.watchers:
                q.put_nowait(None)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def push(self, kind: str, obj: dict[str, Any]) -> None:
        """Send a watch event (ADDED, MODIFIED, DELETED, ERROR) to every open pod watch."""

        def go() -> None:
            if kind != "ERROR":
                self.rv += 1
                obj["metadata"]["resourceVersion"] = str(self.rv)
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = obj
            for q in self.watchers:
                q.put_nowait({"type": kind, "object": copy.deepcopy(obj)})

        self.loop.call_soon_threadsafe(go)

    def watching(self) -> int:
        return len(self.watchers)

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "test-token-not-secret"}}],
                    "contexts": [
                        {
                            "name": "fake",
                            "context": {"cluster": "fake", "user": "tester", "namespace": NS},
                        }
                    ],
                }
            )
        )
        return path

    # ------------------------------------------------------------------ server
    async def _start(self) -> None:
        self._released = asyncio.Event()
        app = web.Application(middlewares=[self._gate])
        r = app.router
        r.add_get("/version", self._version)
        r.add_get("/version/", self._version)
        r.add_get(f"/api/v1/namespaces/{NS}/pods", self._pods)
        r.add_delete(f"/api/v1/namespaces/{NS}/pods/{{name}}", self._delete_pod)
        r.add_get(f"/apis/apps/v1/namespaces/{NS}/deployments", self._deployments)
        r.add_patch(f"/apis/apps/v1/namespaces/{NS}/deployments/{{name}}", self._patch)
        r.add_patch(f"/apis/apps/v1/namespaces/{NS}/deployments/{{name}}/scale", self._scale)
        r.add_get("/api/v1/nodes", self._nodes)
        r.add_get(f"/api/v1/namespaces/{NS}/events", self._events)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.text() if request.can_read_body else ""
        self.requests.append((request.method, request.path_qs, body))
        self.content_types.append(request.headers.get("Content-Type", ""))
        if self.hang:  # never answers (until the server stops)
            await self._released.wait()
            return web.json_response(
                status_object(503, "ServiceUnavailable", "stopping"), status=503
            )
        if self.forbidden and request.path.startswith("/api"):
            return web.json_response(
                status_object(
                    403,
                    "Forbidden",
                    'pods is forbidden: User "system:serviceaccount:devmentor:'
                    'monitor" cannot list resource "pods" in API group "" in the namespace '
                    '"devmentor"',
                ),
                status=403,
            )
        return await handler(request)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(VERSION)

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            return await self._watch(request)
        return web.json_response(listing("PodList", "v1", list(self.pods.values()), str(self.rv)))

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if self.expire_next_watch:
            self.expire_next_watch = False
            line = {
                "type": "ERROR",
                "object": status_object(
                    410,
                    "Expired",
                    f"too old resource version: {request.query.get('resourceVersion')} ({self.rv})",
                ),
            }
            await resp.write(json.dumps(line).encode() + b"\n")
            return resp
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.watchers.append(q)
        timeout = float(request.query.get("timeoutSeconds", "30"))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), timeout)
                except TimeoutError:
                    break
                if item is None:
                    break
                await resp.write(json.dumps(item).encode() + b"\n")
        finally:
            self.watchers.remove(q)
        return resp

    async def _deployments(self, request: web.Request) -> web.Response:
        return web.json_response(
            listing("DeploymentList", "apps/v1", list(self.deployments.values()), str(self.rv))
        )

    async def _nodes(self, request: web.Request) -> web.Response:
        return web.json_response(listing("NodeList", "v1", self.nodes, str(self.rv)))

    async def _events(self, request: web.Request) -> web.Response:
        items = self.events
        if request.query.get("fieldSelector") == "type=Warning":
            items = [e for e in items if e["type"] == "Warning"]
        return web.json_response(listing("EventList", "v1", items, str(self.rv)))

    def _missing(self, kind: str, name: str) -> web.Response:
        return web.json_response(
            status_object(404, "NotFound", f'{kind} "{name}" not found'), status=404
        )

    async def _patch(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        d = self.deployments.get(name)
        if d is None:
            return self._missing("deployments.apps", name)
        patch = await request.json()
        annotations = patch["spec"]["template"]["metadata"]["annotations"]
        d["spec"]["template"]["metadata"].setdefault("annotations", {}).update(annotations)
        d["metadata"]["generation"] += 1
        return web.json_response(d)

    async def _scale(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        d = self.deployments.get(name)
        if d is None:
            return self._missing("deployments.apps", name)
        replicas = (await request.json())["spec"]["replicas"]
        d["spec"]["replicas"] = replicas
        return web.json_response(
            {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": meta(name, rv=str(self.rv)),
                "spec": {"replicas": replicas},
                "status": {"replicas": d["status"]["replicas"], "selector": f"app={name}"},
            }
        )

    async def _delete_pod(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        p = self.pods.get(name)
        if p is None:
            return self._missing("pods", name)
        p = copy.deepcopy(p)
        p["metadata"]["deletionTimestamp"] = "2024-05-01T11:00:00Z"
        p["metadata"]["deletionGracePeriodSeconds"] = 30
        return web.json_response(p)

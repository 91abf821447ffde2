"""Kubernetes source: pods (listed, then watched), deployments, nodes, Warning events.

The official client is imported here, on first connect, and only when `kubernetes:` is
configured. Every call runs in a daemon thread with a timeout, so a hung API server
delays only this source, never the event loop or the monitor's exit. Pods are watched
from the list's resourceVersion; a 410 Gone (or any watch error) means list again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from devmentor_monitor.backoff import Backoff
from devmentor_monitor.config.schema import KubeSettings
from devmentor_monitor.masking import mask
from devmentor_monitor.observations import Intake, KubeChanged, KubeListed
from devmentor_monitor.sources.base import status, timed
from devmentor_monitor.workloads.model import DeploymentInfo, NodeInfo, PodInfo, WorkloadEvent

T = TypeVar("T")
BACKOFF = (1.0, 60.0)
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class KubeError(Exception):
    """An action the API refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_cancelled() -> None:
    """Python 3.11's wait_for can swallow a cancel that races a result; a loop that goes
    on after one would keep TaskGroup (and the monitor's stop) waiting forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Gone(Exception):
    """The watch's resourceVersion expired (410): list again."""


async def in_daemon(fn: Callable[[], T], timeout: float) -> T:  # noqa: ASYNC109 - a thread
    """Like base.in_thread, but on a daemon thread: a call stuck past its timeout never
    holds up the executor or the process's exit."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not fut.done():
            fut.set_result(value) if ok else fut.set_exception(value)

    def target() -> None:
        try:
            result: tuple[bool, Any] = (True, fn())
        except BaseException as exc:
            result = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(settle, *result)

    threading.Thread(target=target, name="kube-call", daemon=True).start()
    async with asyncio.timeout(timeout):
        return await fut


# ---------------------------------------------------------------------- selectors
Requirement = tuple[str, str, str | None]  # key, op (=, !=, exists, !exists), value


def parse_selector(text: str) -> list[Requirement]:
    """Equality-based label selectors, as kubectl -l takes them: a=b,c!=d,e,!f."""
    out: list[Requirement] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "!=" in part:
            k, v = part.split("!=", 1)
            out.append((k.strip(), "!=", v.strip()))
        elif "=" in part:
            k, v = part.replace("==", "=").split("=", 1)
            out.append((k.strip(), "=", v.strip()))
        elif part.startswith("!"):
            out.append((part[1:].strip(), "!exists", None))
        else:
            out.append((part, "exists", None))
    return out


def matches(selector: list[Requirement], labels: dict[str, str]) -> bool:
    for key, op, value in selector:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!exists" and key in labels:
            return False
    return bool(selector)


# ---------------------------------------------------------------------- conversions
def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return None


def pod_info(pod: Any, service: str | None) -> PodInfo:
    meta, spec, st = pod.metadata, pod.spec, pod.status
    statuses = (st.container_statuses if st else None) or []
    conditions = {c.type: c.status for c in ((st.conditions if st else None) or [])}
    ready_n = sum(1 for c in statuses if c.ready)
    ready = (
        conditions.get("Ready") == "True"
        if "Ready" in conditions
        else bool(statuses) and ready_n == len(statuses)
    )
    last = None
    for c in statuses:
        term = c.last_state.terminated if c.last_state else None
        if term is not None:
            last = f"{term.reason or 'Terminated'} (exit {term.exit_code})"
    phase = (st.phase if st else None) or "Unknown"
    waiting = next(
        (
            c.state.waiting.reason
            for c in statuses  # what kubectl shows instead
            if c.state and c.state.waiting and c.state.waiting.reason
        ),
        None,
    )
    labels = dict(meta.labels or {})
    owner = None
    for ref in meta.owner_references or []:
        if ref.kind == "ReplicaSet":
            hash_ = labels.get("pod-template-hash")
            owner = ref.name.removesuffix(f"-{hash_}") if hash_ else ref.name
        elif ref.kind in ("StatefulSet", "DaemonSet", "Deployment"):
            owner = ref.name
    return PodInfo(
        name=meta.name,
        namespace=meta.namespace or "",
        phase=phase,
        ready=ready,
        ready_containers=ready_n,
        containers=len(statuses) or len((spec.containers if spec else None) or []),
        restarts=sum(c.restart_count or 0 for c in statuses),
        node=spec.node_name if spec else None,
        created=_ts(meta.creation_timestamp),
        last_termination=last,
        waiting=waiting,
        labels=tuple(sorted(labels.items())),
        owner=owner,
        service=service,
    )


def deployment_info(d: Any, service: str | None) -> DeploymentInfo:
    st = d.status
    selector = (d.spec.selector.match_labels if d.spec and d.spec.selector else None) or {}
    return DeploymentInfo(
        name=d.metadata.name,
        namespace=d.metadata.namespace or "",
        desired=d.spec.replicas if d.spec and d.spec.replicas is not None else 1,
        ready=(st.ready_replicas if st else None) or 0,
        updated=(st.updated_replicas if st else None) or 0,
        available=(st.available_replicas if st else None) or 0,
        labels=tuple(sorted((d.metadata.labels or {}).items())),
        selector=tuple(sorted(selector.items())),
        service=service,
    )


def node_info(n: Any) -> NodeInfo:
    conditions = {c.type: c.status for c in ((n.status.conditions if n.status else None) or [])}
    return NodeInfo(
        name=n.metadata.name,
        ready=conditions.get("Ready") == "True",
        pressure=tuple(p for p in PRESSURES if conditions.get(p) == "True"),
        allocatable=tuple(sorted(((n.status.allocatable if n.status else None) or {}).items())),
    )


def event_info(e: Any, service: str | None) -> WorkloadEvent:
    obj = e.involved_object
    ts = (
        _ts(e.last_timestamp)
        or _ts(e.event_time)
        or _ts(e.first_timestamp)
        or _ts(e.metadata.creation_timestamp)
        or time.time()
    )
    return WorkloadEvent(
        ts=ts,
        source="kubernetes",
        kind=e.reason or "Warning",
        subject=f"{obj.kind}/{obj.name}",
        message=mask((e.message or "")[:500]),  # an image pull's error can quote credentials
        service=service,
        warning=e.type == "Warning",
    )


def explain(exc: BaseException, host: str, timeout: float) -> str:
    """One stable sentence: forbidden, unauthorized, no kubeconfig, timeout, refused."""
    status_code = getattr(exc, "status", None)
    name = type(exc).__name__
    text = str(exc)
    if status_code == 403:
        return "forbidden: " + _api_message(exc, "the credentials may not list this")[:160]
    if status_code == 401:
        return "unauthorized: the kubeconfig's credentials were refused"
    if name == "ConfigException":
        if "service host/port" in text or "Service host/port" in text:
            return "not in a cluster (no in-cluster service account)"
        return f"no usable kubeconfig: {text.splitlines()[0][:140]}"
    if isinstance(exc, TimeoutError) or "timed out" in text.lower() or "Timeout" in name:
        return f"API timeout after {timeout:g} s ({host})"
    if "refused" in text:
        return f"connection refused at {host}"
    if isinstance(status_code, int) and status_code:
        return f"HTTP {status_code}: {_api_message(exc, getattr(exc, 'reason', ''))[:160]}"
    return (text.splitlines()[0] if text else name)[:160]


def _api_message(exc: BaseException, default: str) -> str:
    import json

    try:
        return json.loads(getattr(exc, "body", "") or "{}").get("message") or default
    except (ValueError, AttributeError):
        return default


def _import_sdk() -> Any:
    import kubernetes
    import kubernetes.watch

    return kubernetes


class KubeSource:
    """Lists and watches one namespace; actions patch, scale and delete there."""

    name = "kubernetes"

    def __init__(
        self, settings: KubeSettings, services: tuple[str, ...], auto_discover: bool
    ) -> None:
        self.settings = settings
        self.namespace = settings.namespace
        selectors = dict(settings.selectors)
        if auto_discover:
            for s in services:
                selectors.setdefault(s, f"app={s}")
        self.selectors = {s: parse_selector(t) for s, t in selectors.items()}
        self._k8s: Any = None
        self.api: Any = None
        self.host = "kubernetes"
        self._wake = asyncio.Event()
        self._stopping = False
        self._seen_events: set[str] = set()
        self._pod_service: dict[str, str | None] = {}  # binds Warning events to services
        self.relists = 0  # pod lists done (the first, then one per expired watch)
        self.watch_events = 0

    # ------------------------------------------------------------------ the loop
    async def run(self, intake: Intake) -> None:
        backoff = Backoff(*BACKOFF)
        while True:
            try:
                if self.api is None:
                    await self._connect()
                    intake.observe(status(self.name, True, self._describe()))
                backoff.reset()
                await self._both(intake)
            except asyncio.CancelledError:
                self._stopping = True
                raise
            except Exception as exc:
                check_cancelled()
                self.api = None
                retry = backoff.next()
                intake.observe(
                    status(
                        self.name,
                        False,
                        explain(exc, self.host, self.settings.timeout),
                        retry_at=time.time() + retry,
                    )
                )
                await asyncio.sleep(retry)

    async def _both(self, intake: Intake) -> None:
        """The pod watch and the polled lists, until one fails (then both stop). Not a
        TaskGroup: on 3.11 a failed child leaves the parent marked as cancelling."""
        tasks = [asyncio.create_task(self._pods(intake)), asyncio.create_task(self._others(intake))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()  # raises the failure
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _describe(self) -> str:
        return f"{self.host} namespace {self.namespace}"

    async def _connect(self) -> None:
        if self._k8s is None:  # lazily, and off the loop: the client takes ~0.5 s to import
            self._k8s = await in_daemon(_import_sdk, 60)
        k8s, s = self._k8s, self.settings

        def connect() -> Any:
            cfg = k8s.client.Configuration()
            if s.in_cluster:
                k8s.config.load_incluster_config(client_configuration=cfg)
            else:
                k8s.config.load_kube_config(
                    config_file=s.kubeconfig, context=s.context, client_configuration=cfg
                )
            cfg.retries = 0  # our own backoff retries; urllib3's would triple each timeout
            api = k8s.client.ApiClient(cfg)
            self.host = api.configuration.host
            k8s.client.VersionApi(api).get_code(_request_timeout=s.timeout)
            return api

        self.api = await in_daemon(connect, s.timeout * 2)
        self.core = k8s.client.CoreV1Api(self.api)
        self.apps = k8s.client.AppsV1Api(self.api)

    def _call(self, fn: Callable[[], T]) -> Any:
        return in_daemon(fn, self.settings.timeout + 1)

    def _service(self, labels: dict[str, str]) -> str | None:
        for service, selector in self.selectors.items():
            if matches(selector, labels):
                return service
        return None

    # ------------------------------------------------------------------ pods: list + watch
    async def _pods(self, intake: Intake) -> None:
        while True:
            rv = await self._list_pods(intake)
            while True:
                check_cancelled()
                try:
                    rv = await self._watch_pods(intake, rv)
                except Gone:
                    break  # relist: the watch's resourceVersion is too old

    async def _list_pods(self, intake: Intake) -> str:
        t = self.settings.timeout
        pods = await self._call(
            lambda: self.core.list_namespaced_pod(self.namespace, _request_timeout=t)
        )
        items = {
            p.metadata.name: pod_info(p, self._service(p.metadata.labels or {})) for p in pods.items
        }
        self.relists += 1
        self._pod_service = {name: info.service for name, info in items.items()}
        intake.observe(KubeListed("pods", items))
        return pods.metadata.resource_version or ""

    async def _watch_pods(self, intake: Intake, rv: str) -> str:
        """One watch window (watch_timeout long); returns the last resourceVersion."""
        loop = asyncio.get_running_loop()
        window = max(1, int(self.settings.watch_timeout))
        t = self.settings.timeout
        ApiException = self._k8s.client.ApiException

        def deliver(kind: str, name: str, info: PodInfo | None) -> None:
            self.watch_events += 1
            self._pod_service[name] = info.service if info else None
            intake.observe(KubeChanged("pods", name, info))

        def watch() -> str:
            w = self._k8s.watch.Watch()
            last = rv
            try:
                for ev in w.stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    resource_version=rv,
                    timeout_seconds=window,
                    allow_watch_bookmarks=True,
                    _request_timeout=(t, window + t),
                ):
                    if self._stopping:
                        w.stop()
                        break
                    pod = ev["object"]
                    last = w.resource_version or last
                    if ev["type"] == "BOOKMARK":
                        continue
                    info = (
                        None
                        if ev["type"] == "DELETED"
                        else pod_info(pod, self._service(pod.metadata.labels or {}))
                    )
                    loop.call_soon_threadsafe(deliver, ev["type"], pod.metadata.name, info)
            except ApiException as exc:
                if exc.status == 410:
                    raise Gone() from None
                raise
            return last

        return await in_daemon(watch, window + 2 * t)

    # ------------------------------------------------------------------ the rest: polled
    async def _others(self, intake: Intake) -> None:
        t = self.settings.timeout
        while True:
            check_cancelled()
            with timed(intake, self.name, self.settings.interval):  # the polled lists
                deps = await self._call(
                    lambda: self.apps.list_namespaced_deployment(self.namespace, _request_timeout=t)
                )
                intake.observe(
                    KubeListed(
                        "deployments",
                        {
                            d.metadata.name: deployment_info(
                                d,
                                self._service(
                                    (
                                        d.spec.template.metadata.labels
                                        if d.spec and d.spec.template and d.spec.template.metadata
                                        else None
                                    )
                                    or {}
                                ),
                            )
                            for d in deps.items
                        },
                    )
                )
                nodes = await self._call(lambda: self.core.list_node(_request_timeout=t))
                intake.observe(
                    KubeListed("nodes", {n.metadata.name: node_info(n) for n in nodes.items})
                )
                events = await self._call(
                    lambda: self.core.list_namespaced_event(
                        self.namespace, field_selector="type=Warning", _request_timeout=t
                    )
                )
                self._events(intake, events.items)
            intake.observe(status(self.name, True, self._describe(), namespace=self.namespace))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.interval):
                    await self._wake.wait()

    def _events(self, intake: Intake, items: list[Any]) -> None:
        pods = self._pod_service
        current: dict[str, WorkloadEvent] = {}
        for e in items:
            obj = e.involved_object
            service = pods.get(obj.name) if obj.kind == "Pod" else None
            info = event_info(e, service)
            key = e.metadata.uid or f"{e.metadata.name}/{e.count}"
            current[key] = info
            if key not in self._seen_events:
                intake.observe(info)
        self._seen_events = set(current)
        intake.observe(KubeListed("events", current))

    def poll_soon(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ actions
    async def _act(self, what: str, fn: Callable[[], Any]) -> Any:
        if self.api is None:
            raise KubeError(503, "kubernetes: not available right now")
        ApiException = self._k8s.client.ApiException
        try:
            return await self._call(fn)
        except ApiException as exc:
            if exc.status == 404:
                raise KubeError(404, f"{what} not found in namespace {self.namespace}") from None
            raise KubeError(502, explain(exc, self.host, self.settings.timeout)) from None
        except Exception as exc:
            raise KubeError(502, explain(exc, self.host, self.settings.timeout)) from None
        finally:
            self.poll_soon()

    async def restart_deployment(self, name: str) -> None:
        """What `kubectl rollout restart` does: stamp the pod template, pods roll."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        await self._act(
            f"deployment {name!r}",
            lambda: self.apps.patch_namespaced_deployment(
                name,
                self.namespace,
                body,
                _request_timeout=self.settings.timeout,
                _content_type="application/strategic-merge-patch+json",
            ),
        )

    async def delete_pod(self, name: str) -> None:
        await self._act(
            f"pod {name!r}",
            lambda: self.core.delete_namespaced_pod(
                name, self.namespace, _request_timeout=self.settings.timeout
            ),
        )

    async def scale(self, name: str, replicas: int) -> None:
        await self._act(
            f"deployment {name!r}",
            lambda: self.apps.patch_namespaced_deployment_scale(
                name,
                self.namespace,
                {"spec": {"replicas": replicas}},
                _request_timeout=self.settings.timeout,
                _content_type="application/merge-patch+json",
            ),
        )

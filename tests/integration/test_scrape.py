"""Scraping the services' own metrics: a real prometheus-node-exporter scraped as a
service's metrics (series in history, an alert rule on one fires), include patterns and
the series cap, and broken targets as source state while the monitor runs on.

The monitor runs in-process (as test_docker.py's make_monitor does); its history is read
through its Queries, as the views read it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import yaml
from support.scrape import NODE_EXPORTER, ExpositionPage, NodeExporter
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config, parse_text
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.model import SourceState, SourceStatus
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.scrape import source as scrape_source

pytestmark = pytest.mark.integration

MakeMonitor = Callable[..., Awaitable[Monitor]]


async def until_async(
    probe: Callable[[], Awaitable[Any]], within: float, what: str, interval: float = 0.1
) -> Any:
    """`eventually` for a probe that must be awaited (reads of the history on disk)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


@pytest.fixture
def node_exporter(tmp_path: Path) -> Iterator[NodeExporter]:
    if NODE_EXPORTER is None:
        pytest.fail("prometheus-node-exporter not installed (scripts/setup --test installs it)")
    ne = NodeExporter(tmp_path)
    yield ne
    ne.close()


@pytest.fixture
async def make_monitor(tmp_path: Path) -> AsyncIterator[MakeMonitor]:
    monitors: list[Monitor] = []

    async def make(services: list[dict[str, Any]], *, serve: bool = False, **top: Any) -> Monitor:
        doc = {"storage": {"data_dir": str(tmp_path / "data")}, **top, "services": services}
        path = tmp_path / "services.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        monitor = Monitor(load_config(path, env={}, port=free_port()), serve=serve)
        await monitor.start()
        monitors.append(monitor)
        return monitor

    yield make
    for m in monitors:
        await m.stop()


def service(name: str, health: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "url": health, "interval": "0.5s", "timeout": "0.4s", "metrics": metrics}


async def test_node_exporter_series_is_stored_and_its_rule_fires(
    node_exporter: NodeExporter, make_monitor: MakeMonitor
) -> None:
    """The must-show: node_memory_MemAvailable_bytes and node_load1 from a real node
    exporter land in the history under scrape:node:, and a rule on the first (above 1
    byte, for 1 s: always crossed) opens an incident on the service."""
    health = node_exporter.url.removesuffix("metrics")
    monitor = await make_monitor(
        [
            service(
                "node",
                health,
                {
                    "url": node_exporter.url,
                    "interval": "0.5s",
                    "include": ["node_load1", "node_memory_MemAvailable_bytes"],
                },
            )
        ],
        alerts={
            "rules": [
                {
                    "name": "node_memory_seen",
                    "metric": "scraped",
                    "series": "node_memory_MemAvailable_bytes",
                    "above": 1,
                    "for": "1s",
                    "severity": "medium",
                }
            ]
        },
        serve=True,
    )
    series = "scrape:node:node_memory_MemAvailable_bytes"

    async def stored() -> list[str]:
        await monitor.history.flush()
        return await monitor.queries.history_names("scrape:node:")

    names = await until_async(stored, 10, "scraped series in the history")
    assert set(names) == {series, "scrape:node:node_load1"}  # only what include chose
    now = time.time()
    points = await monitor.queries.history(series, now - 60, now + 1, 0)
    assert points
    assert all(p.avg > 1e6 for p in points)
    status = monitor.store.source("scrape:node")
    assert status is not None
    assert status.state is SourceState.OK
    assert status.reason == "2 series"
    # ... and over HTTP, as Grafana or a script reads it: /api/metrics from history.db.
    assert monitor.server is not None
    async with httpx.AsyncClient(base_url=monitor.server.url, timeout=10) as client:
        r = await client.get("/api/metrics", params={"series": series, "since": "5m", "step": "0"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tier"] == "raw"
    served = body["series"][series]["points"]
    assert len(served) >= len(points)  # and any scraped since
    assert all(p[1] > 1e6 for p in served)

    incident = await eventually(
        lambda: next((i for i in monitor.store.open_incidents() if i.service == "node"), None),
        within=10,
        what="an incident from the scraped-series rule",
    )
    assert any(s.rule == "node_memory_seen" for s in incident.signals)
    assert incident.description.startswith(f"node_memory_seen firing on {series} (scraped")
    alert = next(a for a in monitor.evaluator.firing() if a.rule.name == "node_memory_seen")
    assert alert.subject == series
    assert alert.value is not None
    assert alert.value > 1e6


PAGE = "\n".join(
    [
        "# TYPE app_requests_total counter",
        *(f'app_requests_total{{code="{c}"}} {i}' for i, c in enumerate((200, 201, 404, 500, 503))),
        "# TYPE app_queue_depth gauge",
        "app_queue_depth 7",
        "# TYPE other_metric gauge",
        "other_metric 1",
        "",
    ]
)


async def test_include_patterns_choose_series_and_the_cap_drops_the_rest(
    make_monitor: MakeMonitor,
) -> None:
    """`app_*` and a label glob choose 6 series of 7; max_series 3 keeps 3, and the source
    says how many it dropped; nothing else reaches the history."""
    async with ExpositionPage(PAGE) as page:
        monitor = await make_monitor(
            [
                service(
                    "app",
                    page.url,
                    {
                        "url": page.url,
                        "interval": "0.5s",
                        "include": ['app_requests_total{code="5*"}', "app_queue_*"],
                        "max_series": 2,
                    },
                ),
                service("all", page.url, {"url": page.url, "interval": "0.5s"}),
            ],
            scrape={"max_series": 10},
        )
        status = await eventually(
            lambda: (s := monitor.store.source("scrape:app")) and s.state is SourceState.OK and s,
            within=10,
            what="the first scrape",
        )
        assert status.reason == "2 of 3 series kept: 1 over max_series (2) dropped"
        assert status.detail["dropped"] == 1
        snap = monitor.store.scraped("app")
        assert snap is not None
        assert [s.series for s in snap.samples()] == [
            'scrape:app:app_requests_total{code="500"}',
            'scrape:app:app_requests_total{code="503"}',
        ]
        # "all" includes everything, with the share of scrape.max_series left (10 - 2).
        everything = await eventually(
            lambda: (s := monitor.store.scraped("all")) and s, within=10, what="all scraped"
        )
        assert everything.count == 7
        await monitor.history.flush()
        names = await monitor.queries.history_names("scrape:app:")
        assert names == [
            'scrape:app:app_requests_total{code="500"}',
            'scrape:app:app_requests_total{code="503"}',
        ]


async def test_a_large_page_is_read_whole(make_monitor: MakeMonitor) -> None:
    """A page of 4,000 series (~300 KB) arrives in many reads: every series is kept and
    none is cut in half (a single read returned only what had arrived so far)."""
    page = "# TYPE big_total counter\n" + "".join(
        f'big_total{{route="/r{i}",method="GET",code="200"}} {i}\n' for i in range(4000)
    )
    async with ExpositionPage(page) as target:
        monitor = await make_monitor(
            [service("big", target.url, {"url": target.url, "interval": "0.5s"})]
        )
        snap = await eventually(
            lambda: monitor.store.scraped("big"), within=10, what="the big page scraped"
        )
        assert snap.count == 4000
        assert all(s.counter for s in snap.samples())  # typed counters across every piece
        status = monitor.store.source("scrape:big")
        assert status is not None
        assert status.reason == "4000 series"


async def test_dead_and_broken_targets_are_source_state_and_the_monitor_runs_on(
    make_monitor: MakeMonitor,
) -> None:
    """A target nobody listens on is 'connection refused', garbage is 'not a Prometheus
    text exposition', a 500 is 'HTTP 500 ...'; a good target beside them keeps being
    scraped, and a dead one recovers by itself once it answers."""
    dead_port = free_port()
    async with (
        ExpositionPage("<html><body>not metrics</body></html>\n") as garbage,
        ExpositionPage(PAGE) as good,
    ):
        monitor = await make_monitor(
            [
                service(
                    "dead",
                    good.url,
                    {"url": f"http://127.0.0.1:{dead_port}/metrics", "interval": "0.5s"},
                ),
                service("garbage", good.url, {"url": garbage.url, "interval": "0.5s"}),
                service("good", good.url, {"url": good.url, "interval": "0.5s"}),
            ]
        )

        def reason(name: str) -> str | None:
            s = monitor.store.source(f"scrape:{name}")
            return s.reason if s is not None and s.state is SourceState.UNAVAILABLE else None

        assert await eventually(lambda: reason("dead"), 10, "dead") == "connection refused"
        text = await eventually(lambda: reason("garbage"), 10, "garbage")
        assert text.startswith("not a Prometheus text exposition: ")
        garbage.status = 500
        await eventually(
            lambda: reason("garbage") == "HTTP 500 Internal Server Error", 10, "HTTP 500"
        )
        # Meanwhile the good target is scraped again and again, and checks go on.
        first = monitor.store.scraped("good")
        assert first is not None
        await eventually(
            lambda: (s := monitor.store.scraped("good")) is not None and s.ts > first.ts,
            10,
            "another good scrape",
        )
        assert monitor.self_check() == (True, [])
        assert monitor.store.scraped("dead") is None
        assert monitor.store.scraped("garbage") is None
        # The dead one answers now: it recovers without a restart.
        async with ExpositionPage(PAGE, port=dead_port):
            await eventually(
                lambda: (s := monitor.store.source("scrape:dead")) and s.state is SourceState.OK,
                10,
                "the dead target to recover",
            )
        assert monitor.store.scraped("dead") is not None


def big_page(lines: int = 50_000) -> str:
    """An exposition of ``lines`` series (~2.8 MB at 50,000): about 2 s to parse here."""
    return "# TYPE big_total counter\n" + "".join(
        f'big_total{{route="/r{i}",method="GET",code="200"}} {i}\n' for i in range(lines)
    )


async def test_large_pages_parsing_leave_the_loops_shared_threads_free(
    make_monitor: MakeMonitor,
) -> None:
    """Two services' large pages parsing over and over (kube-state-metrics and cadvisor
    beside each other) do not take the loop's default executor: a DNS lookup of
    localhost (what a health check on a hostname waits for) and any other blocking call
    there answer at once, not after a parse (both 2 threads were taken: 4.66 s)."""
    loop = asyncio.get_running_loop()
    async with ExpositionPage(big_page()) as target:
        monitor = await make_monitor(
            [
                service("ksm", target.url, {"url": target.url, "interval": "0.5s"}),
                service("cadvisor", target.url, {"url": target.url, "interval": "0.5s"}),
            ]
        )
        await eventually(lambda: target.hits >= 2, 10, "both large pages fetched")
        waits: list[float] = []
        until = time.monotonic() + 3  # over one parse of each page
        while time.monotonic() < until:
            start = time.monotonic()
            await loop.getaddrinfo("localhost", target.port)
            await loop.run_in_executor(None, time.monotonic)
            waits.append(time.monotonic() - start)
            await asyncio.sleep(0.05)
        # The pages were parsing meanwhile, and are parsed whole (kept up to the cap).
        for name in ("ksm", "cadvisor"):
            status = await eventually(
                lambda n=name: (s := monitor.store.source(f"scrape:{n}")) and s.last_ok and s,
                20,
                f"{name} parsed",
            )
            assert status.detail["series"] + status.detail["dropped"] == 50_000
        assert max(waits) < 0.5, f"the default executor waited {max(waits):.2f} s"


async def test_a_parse_past_its_deadline_stops_and_frees_its_thread(
    make_monitor: MakeMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page taking ~2 s to parse with a 0.3 s parse timeout: the scrape fails with that
    reason, and the parse stops there, so the next scrape (of a page now small) runs
    at once rather than being skipped behind the old parse still holding the thread."""
    monkeypatch.setattr(scrape_source, "PARSE_TIMEOUT", 0.3)
    monkeypatch.setattr(scrape_source, "PARSE_GRACE", 0.0)  # only the parse's own deadline
    async with ExpositionPage(big_page()) as target:
        monitor = await make_monitor(
            # 1.5 s: the first reason stays long enough to be read on a loaded machine, and
            # a parse that did not stop at its deadline (~2 s) would still hold the thread
            [service("slow", target.url, {"url": target.url, "interval": "1.5s"})]
        )

        def reason() -> str | None:
            s = monitor.store.source("scrape:slow")
            return s.reason if s is not None and s.state is not SourceState.STARTING else None

        assert await eventually(reason, 10, "the first scrape") == "parsing took over 0.3 s"
        target.body = PAGE
        reasons = set()

        def ok() -> bool:
            reasons.add(reason())
            return reason() == "7 series"

        await eventually(ok, 10, "a scrape of the small page")
        assert not any(r and r.startswith("scrape skipped") for r in reasons)
        [source] = [s for s in monitor.sources if isinstance(s, scrape_source.ScrapeSource)]
        assert source.skipped == 0


async def test_a_scrape_due_while_its_last_parse_runs_is_skipped_and_says_so() -> None:
    """A parse still holding the source's thread (one that overran its wait): the next
    scrape does not fetch the page or queue a second parse; the source says why."""
    observed: list[object] = []

    class Collect:
        def observe(self, item: object) -> None:
            observed.append(item)

    async with ExpositionPage(PAGE) as target:
        config = parse_text(
            "services:\n  - name: app\n    url: http://127.0.0.1:1/health\n"
            f"    metrics: {{url: '{target.url}', interval: 1s}}\n"
        )
        source = scrape_source.ScrapeSource(config.services[0])
        release = threading.Event()
        source._parsing = source._executor.submit(release.wait)  # type: ignore[assignment]
        async with aiohttp.ClientSession() as session:
            await source.scrape_once(session, Collect())  # type: ignore[arg-type]
            assert target.hits == 0
            [status] = observed
            assert isinstance(status, SourceStatus)
            assert status.state is SourceState.UNAVAILABLE
            assert status.reason.startswith("scrape skipped: the previous page is still being")
            release.set()
            await eventually(source._parsing.done, 5, "the old parse to end")
            await source.scrape_once(session, Collect())  # type: ignore[arg-type]
            assert target.hits == 1
            assert observed[-1].reason == "7 series"  # type: ignore[attr-defined]
        source._executor.shutdown()


FS_PAGE = (
    "# TYPE fs_avail_bytes gauge\n"
    'fs_avail_bytes{mountpoint="/"} 500\n'
    'fs_avail_bytes{mountpoint="/mnt/usb"} 10\n'
)


async def test_a_scraped_incident_resolves_when_its_series_goes_and_holds_when_its_target_does(
    make_monitor: MakeMonitor,
) -> None:
    """/mnt/usb low on space opens an incident; unmounted (its series gone from a good
    scrape) the incident resolves and the alert is forgotten. Back and firing, then the
    target answering 500s: the snapshot goes stale and the incident stays open."""
    async with ExpositionPage(FS_PAGE) as target, ExpositionPage("ok 1\n") as health:
        monitor = await make_monitor(
            [service("node", health.url, {"url": target.url, "interval": "0.5s"})],
            alerts={
                "rules": [
                    {
                        "name": "usb_low",
                        "metric": "scraped",
                        "series": 'fs_avail_bytes{mountpoint="/mnt/*"}',
                        "below": 100,
                        "for": "0s",
                        "severity": "medium",
                    }
                ]
            },
        )
        usb = 'scrape:node:fs_avail_bytes{mountpoint="/mnt/usb"}'

        def open_incident() -> Any:
            return next((i for i in monitor.store.open_incidents() if i.service == "node"), None)

        await eventually(open_incident, 10, "the /mnt/usb incident")
        target.body = FS_PAGE.replace('fs_avail_bytes{mountpoint="/mnt/usb"} 10\n', "")
        await eventually(lambda: open_incident() is None, 10, "the incident to resolve")
        assert ("usb_low", usb) not in monitor.evaluator.alerts
        # Mounted again and low: it fires again; then the target stops answering well.
        target.body = FS_PAGE
        await eventually(open_incident, 10, "the incident again")
        target.status = 500

        def stale() -> bool:
            snap = monitor.store.scraped("node")
            return snap is not None and not snap.fresh(time.time())

        await eventually(stale, 10, "the snapshot to go stale")
        evaluations = monitor.evaluator.evaluations
        await eventually(
            lambda: monitor.evaluator.evaluations >= evaluations + 3, 10, "three more ticks"
        )
        assert open_incident() is not None
        alert = monitor.evaluator.alerts[("usb_low", usb)]
        assert alert.state.value == "firing"

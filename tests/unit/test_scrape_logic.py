"""Scraped series beyond the wire: config errors, rules over the store's latest scrape,
and the anomaly detector's share. The store is filled through its writer, as the
intake does; clocks are synthetic, so nothing sleeps."""

from __future__ import annotations

import time

import pytest

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.config.yaml_lines import ConfigError
from devmentor_monitor.history.model import scraped_series
from devmentor_monitor.incidents.rules import AlertState, Evaluator, build_rules
from devmentor_monitor.predictions.engine import PredictionEngine
from devmentor_monitor.scrape.exposition import ParseTimeout, parse_exposition
from devmentor_monitor.scrape.model import ScrapedSample, parse_selector
from devmentor_monitor.store import Store

T0 = 1_700_000_000.0

CONFIG = """
services:
  - name: node
    url: http://127.0.0.1:1/health
    metrics: {url: "http://127.0.0.1:9100/metrics", interval: 10s}
alerts:
  rules:
    - name: fs_low
      metric: scraped
      series: 'node_filesystem_avail_bytes{mountpoint="/*"}'
      below: 100
      clear: 200
      for: 1m
"""


def fs(service: str, values: dict[str, float]) -> list[ScrapedSample]:
    out = []
    for mount, v in values.items():
        labels = {"mountpoint": mount}
        out.append(
            ScrapedSample(
                scraped_series(service, "node_filesystem_avail_bytes", labels),
                "node_filesystem_avail_bytes",
                tuple(labels.items()),
                v,
            )
        )
    return out


def test_a_scraped_rule_fires_per_series_holds_while_stale_and_clears_past_clear() -> None:
    config = parse_text(CONFIG)
    store = Store(config)
    ev = Evaluator(build_rules(config), store)
    data = 'scrape:node:node_filesystem_avail_bytes{mountpoint="/data"}'
    store.record_scrape("node", T0, fs("node", {"/": 500, "/data": 50, "tmp": 1}))
    assert ev.evaluate(T0) == []  # /data below 100: pending for 1m; "tmp" not selected
    assert ev.alerts[("fs_low", data)].state is AlertState.PENDING
    assert ("fs_low", 'scrape:node:node_filesystem_avail_bytes{mountpoint="tmp"}') not in (
        ev.alerts
    )
    store.record_scrape("node", T0 + 60, fs("node", {"/": 500, "/data": 40}))
    [fired] = ev.evaluate(T0 + 60)
    assert fired.state is AlertState.FIRING
    assert fired.alert.subject == data
    assert fired.alert.service == "node"  # the incident is the service's
    assert fired.alert.value == 40
    # The target stops answering: no fresh value after 2 intervals, and a firing alert
    # holds rather than resolving on silence.
    assert ev.evaluate(T0 + 60 + 25) == []
    assert ev.alerts[("fs_low", data)].state is AlertState.FIRING
    # Back, above the threshold but under clear (hysteresis): still firing; past it: resolved.
    store.record_scrape("node", T0 + 100, fs("node", {"/data": 150}))
    assert ev.evaluate(T0 + 100) == []
    store.record_scrape("node", T0 + 110, fs("node", {"/data": 250}))
    [resolved] = ev.evaluate(T0 + 110)
    assert resolved.state is AlertState.RESOLVED


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "services:\n  - name: a\n    url: http://h/health\n    metrics:\n"
            "      url: http://h/metrics\n      include: ['up{job=x}']\n",
            "<text>:6: services.a.metrics.include[0]: 'up{job=x}': label matchers are "
            'written label="value", comma-separated',
        ),
        (
            "services:\n  - name: a\n    url: http://h/health\n    metrics:\n"
            "      url: http://h/metrics\n      interval: 5s\n      timeout: 5s\n",
            "<text>:7: services.a.metrics.timeout: must be shorter than the interval (5s), "
            "got '5s'",
        ),
        (
            "scrape:\n  max_series: 100\nservices:\n  - name: a\n    url: http://h/health\n"
            "    metrics: {url: 'http://h/metrics', max_series: 100}\n"
            "  - name: b\n    url: http://h/health\n    metrics: {url: 'http://h/metrics'}\n",
            "<text>:2: scrape.max_series: 100 is too small: the services' own "
            "metrics.max_series take 100 (a 100) and 1 more services scrape too",
        ),
        (
            "services:\n  - name: a\n    url: http://h/health\n"
            "alerts:\n  rules:\n    - {name: r, metric: scraped, series: x, above: 1}\n",
            "<text>:6: alerts.rules.r.metric: no service declares metrics: to scrape",
        ),
        (
            "services:\n  - name: a\n    url: http://h/health\n    metrics: {url: 'http://h/m'}\n"
            "  - name: b\n    url: http://h/health\n"
            "alerts:\n  rules:\n"
            "    - {name: r, metric: scraped, series: x, above: 1, services: [b]}\n",
            "<text>:9: alerts.rules.r.services: 'b' has no metrics: section, so nothing of "
            "it is scraped",
        ),
        (
            "services:\n  - name: a\n    url: http://h/health\n    metrics: {url: 'http://h/m'}\n"
            "alerts:\n  rules:\n    - {name: r, metric: scraped, above: 1}\n",
            "<text>:7: alerts.rules.r: missing required key 'series'",
        ),
        (
            "services:\n  - name: a\n    url: http://h/health\n"
            "alerts:\n  rules:\n    - {name: r, metric: cpu, series: x, above: 1}\n",
            "<text>:6: alerts.rules.r.series: only for metric scraped",
        ),
    ],
)
def test_config_errors_name_line_and_key(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_text(yaml_text)
    assert str(err.value).startswith(message), str(err.value)


def test_scrape_max_series_is_shared_between_services_that_set_no_cap() -> None:
    config = parse_text(
        "scrape: {max_series: 1000}\nservices:\n"
        "  - {name: a, url: 'http://h/health', metrics: {url: 'http://h/m', max_series: 400}}\n"
        "  - {name: b, url: 'http://h/health', metrics: {url: 'http://h/m'}}\n"
        "  - {name: c, url: 'http://h/health', metrics: {url: 'http://h/m'}}\n"
        "  - {name: d, url: 'http://h/health'}\n"
    )
    caps = {s.name: s.metrics.max_series if s.metrics else None for s in config.services}
    assert caps == {"a": 400, "b": 300, "c": 300, "d": None}


def test_selectors_glob_names_and_label_values() -> None:
    page = (
        'node_load1 1\nnode_load5 2\nnode_cpu_seconds_total{cpu="0",mode="idle"} 9\n'
        'node_cpu_seconds_total{cpu="0",mode="user"} 3\nnode_x NaN\ngo_threads 8\n'
    )
    sel = (parse_selector("node_load?"), parse_selector('node_cpu_*{mode="i*"}'))
    parsed = parse_exposition(page, "n", sel, cap=10)
    assert [s.metric for s in parsed.samples] == [
        "node_load1",
        "node_load5",
        "node_cpu_seconds_total",
    ]
    assert parsed.samples[2].labels == (("cpu", "0"), ("mode", "idle"))
    assert parsed.samples[2].counter  # a _total without TYPE: fed to the detector as a rate
    everything = parse_exposition(page, "n", (), cap=10)
    assert everything.kept == 5  # NaN left out


def test_a_family_split_across_pieces_keeps_its_type() -> None:
    """The page is parsed in pieces of 16 lines; each piece that continues a family is
    given its # TYPE line, so the 40th sample is still a counter and the gauge after it
    is not."""
    page = "# HELP hits Hits.\n# TYPE hits counter\n"
    page += "".join(f'hits{{n="{i}"}} {i}\n' for i in range(40))
    page += "# TYPE temp gauge\ntemp 3\n"
    parsed = parse_exposition(page, "x", (), cap=100)
    assert parsed.kept == 41
    assert all(s.counter for s in parsed.samples[:40])
    assert not parsed.samples[40].counter


def test_the_detector_watches_scraped_series_up_to_its_share_and_counters_as_rates() -> None:
    config = parse_text("predictions: {max_scraped: 2}\n" + CONFIG)
    store = Store(config)
    engine = PredictionEngine(store, config)
    for i in range(5):
        ts = T0 + 10 * i
        samples = [
            ScrapedSample("scrape:node:a_total", "a_total", (), 100.0 * i, counter=True),
            ScrapedSample("scrape:node:b", "b", (), 7.0),
            ScrapedSample("scrape:node:c", "c", (), 1.0),
        ]
        store.record_scrape("node", ts, samples)
        engine.step(ts)
    scores = store.anomaly_scores()
    assert {"scrape:node:a_total", "scrape:node:b"} <= set(scores)
    assert "scrape:node:c" not in scores  # over predictions.max_scraped
    assert store.prediction_status["series_dropped"] > 0
    counter = engine._series["scrape:node:a_total"]
    assert counter.last_value == pytest.approx(10.0)  # 100 per 10 s, not the growing total
    assert counter.detector.baseline[2] == 4  # the first scrape only sets the base


def test_a_firing_scraped_alert_resolves_when_its_series_leaves_a_fresh_scrape() -> None:
    """An unmounted filesystem: /mnt/usb's series is gone from a fresh, successful scrape,
    so its firing alert resolves (its incident closes) and the evaluator forgets it; a
    target that stops answering (stale snapshot) still holds its alert firing."""
    config = parse_text(CONFIG.replace("for: 1m", "for: 0s"))
    store = Store(config)
    ev = Evaluator(build_rules(config), store)
    usb = 'scrape:node:node_filesystem_avail_bytes{mountpoint="/mnt/usb"}'
    data = 'scrape:node:node_filesystem_avail_bytes{mountpoint="/data"}'
    store.record_scrape("node", T0, fs("node", {"/": 500, "/mnt/usb": 10, "/data": 20}))
    fired = ev.evaluate(T0)
    assert {(t.alert.subject, t.state) for t in fired} == {
        (usb, AlertState.FIRING),
        (data, AlertState.FIRING),
    }
    # /mnt/usb unmounted: the next scrape (fresh, OK) has no such series.
    store.record_scrape("node", T0 + 10, fs("node", {"/": 500, "/data": 20}))
    [resolved] = ev.evaluate(T0 + 10)
    assert (resolved.alert.subject, resolved.state) == (usb, AlertState.RESOLVED)
    assert ("fs_low", usb) not in ev.alerts
    assert ev.alerts[("fs_low", data)].state is AlertState.FIRING
    # The target stops answering: /data's snapshot goes stale, and its alert holds.
    assert ev.evaluate(T0 + 10 + 25) == []
    assert ev.alerts[("fs_low", data)].state is AlertState.FIRING


def test_churning_label_sets_do_not_grow_the_alert_map() -> None:
    """A series per request id, each new one crossing the threshold and then gone: the
    evaluator tracks the current ones only, not every label set ever seen."""
    config = parse_text(CONFIG.replace("for: 1m", "for: 0s"))
    store = Store(config)
    ev = Evaluator(build_rules(config), store)
    sizes = []
    for i in range(50):
        store.record_scrape("node", T0 + 10 * i, fs("node", {f"/run/{i}": 5, f"/tmp/{i}": 50}))
        ev.evaluate(T0 + 10 * i)
        sizes.append(len(ev.alerts))
    assert max(sizes) <= 4  # the current two, and the two being resolved
    assert len(ev.alerts) == 2
    assert sorted(subject for _, subject in ev.alerts) == [
        'scrape:node:node_filesystem_avail_bytes{mountpoint="/run/49"}',
        'scrape:node:node_filesystem_avail_bytes{mountpoint="/tmp/49"}',
    ]


def test_a_parse_past_its_deadline_stops() -> None:
    """A page that takes seconds to parse, given 0.2 s: the parse gives up soon after the
    deadline (between pieces) instead of running to the end in its thread."""
    page = "# TYPE big_total counter\n" + "".join(
        f'big_total{{route="/r{i}",code="200"}} {i}\n' for i in range(50_000)
    )
    start = time.monotonic()
    with pytest.raises(ParseTimeout):
        parse_exposition(page, "big", (), 100_000, deadline=start + 0.2)
    assert time.monotonic() - start < 1.0  # the whole page takes ~2 s here

"""`devmentor-monitor report` as a user runs it (a real process over a data dir holding a
scripted week, tests/support/report_week.py), its HTML in headless Chromium, and
`GET /api/report` on a running `--serve` over the same files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import headless
from support.browser import Browser
from support.headless import clean_env
from support.processes import REPO
from support.report_week import Week, script, write

from devmentor_monitor.history.model import HOUR

pytestmark = pytest.mark.integration

SLOS = {
    "auth": {"uptime": 99.9, "response_time": "200ms", "error_rate": 0.1},
    "memory": {"uptime": 99.5, "response_time": "100ms", "error_rate": 0.5},
}


def config(path: Path, urls: dict[str, str], **extra: Any) -> Path:
    services = [{"name": n, "url": u, "slo": SLOS[n], **extra} for n, u in urls.items()]
    path.write_text(yaml.safe_dump({"services": services}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def week_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Week, Path]:
    """A data dir holding the week that ended at the last hour boundary."""
    data = tmp_path_factory.mktemp("week")
    week = script(math.floor(time.time() / HOUR) * HOUR)
    asyncio.run(write(week, data))
    return week, data


def report(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "report", *args],
        cwd=REPO,
        env=clean_env(tmp),
        capture_output=True,
        text=True,
        timeout=60,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_report_prints_markdown_from_the_files_read_only(week_dir, tmp_path: Path) -> None:
    week, data = week_dir
    cfg = config(tmp_path / "services.yaml", {n: "http://127.0.0.1:9/health" for n in SLOS})
    before = {p.name: digest(p) for p in (data / "monitor.db", data / "history.db")}
    done = report(tmp_path, "--since", "7d", "-c", str(cfg), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    md = done.stdout
    assert md.startswith("# DevMentor report: 7d, ")
    services = md.split("## Services")[1].split("##")[0]
    auth = next(line for line in services.splitlines() if line.startswith("| auth |"))
    assert "99.55" in auth
    assert "missed" in auth
    assert "- Incidents opened: 5" in md
    assert "- Acknowledged: 4 of 5, mean 4 m 30 s, median 3 m 30 s, longest 10 m" in md
    assert "| ops | open | 3 | 0 | 0 | 3 |" in md
    assert (
        f"| auth | {time.strftime('%Y-%m-%d %H:%M', time.gmtime(week.hour(2, 14)))} | 450 ms" in md
    )
    after = {p.name: digest(p) for p in (data / "monitor.db", data / "history.db")}
    assert after == before  # opened read-only: nothing written


@pytest.mark.parametrize(
    ("since", "reason"),
    [
        ("0s", "must be between 1m and 366d, got '0s'"),
        ("400d", "must be between 1m and 366d, got '400d'"),
        ("soon", "malformed duration 'soon'"),
    ],
)
def test_report_refuses_a_bad_since_with_the_reason(
    week_dir, tmp_path: Path, since: str, reason: str
) -> None:
    _, data = week_dir
    done = report(tmp_path, "--since", since, "--data-dir", str(data))
    assert done.returncode == 2
    assert "argument --since" in done.stderr
    assert reason in done.stderr
    assert done.stdout == ""


def test_report_without_a_database_says_which_file(tmp_path: Path) -> None:
    done = report(tmp_path, "--data-dir", str(tmp_path / "nowhere"))
    assert done.returncode == 1
    assert f"{tmp_path / 'nowhere' / 'monitor.db'}: no such file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "nowhere").exists()  # read-only: nothing created either


async def test_html_report_opens_in_chromium_with_its_charts(week_dir, tmp_path: Path) -> None:
    week, data = week_dir
    cfg = config(tmp_path / "services.yaml", {n: "http://127.0.0.1:9/health" for n in SLOS})
    out = tmp_path / "report.html"
    done = report(
        tmp_path, "--format", "html", "-o", str(out), "-c", str(cfg), "--data-dir", str(data)
    )
    assert done.returncode == 0, done.stderr
    browser = Browser(tmp_path / "chromium")
    try:
        await browser.open(out.as_uri())
        loaded = f"location.href === {json.dumps(out.as_uri())} && document.readyState"
        await browser.until(loaded, "complete", 20, "the report to load")
        # Nothing fetched: no script, stylesheet, font or image from anywhere.
        assert await browser.evaluate("performance.getEntriesByType('resource').length") == 0
        charts = await browser.evaluate(
            """[...document.querySelectorAll('svg.chart')].map(s => {
                 const r = s.getBoundingClientRect();
                 const bars = [...s.querySelectorAll('rect.bar')];
                 return {name: s.dataset.service || 'uptime', bars: bars.length,
                         drawn: bars.filter(b => b.getBoundingClientRect().height > 0
                                                 && b.getBoundingClientRect().width > 0).length,
                         bad: s.querySelectorAll('rect.bar.bad').length,
                         w: r.width, h: r.height};
               })"""
        )
        by = {c["name"]: c for c in charts}
        assert list(by) == ["uptime", "auth", "memory", "legacy"]
        # The period starts at the hour a week before now (the hour may have turned since
        # the week was written): one bar per hour with checks from there.
        start = float(await browser.evaluate("document.querySelector('svg.latency').dataset.start"))
        assert start in (week.start, week.start + HOUR)
        hours = {
            n: len({math.floor(c.ts / HOUR) for c in week.checks[n] if c.ts >= start})
            for n in week.checks
        }
        assert hours["legacy"] == 24
        assert by["uptime"]["bars"] == by["uptime"]["drawn"] == 3  # one per service checked
        assert by["uptime"]["bad"] == 1  # auth missed its SLO
        for name, n in hours.items():
            assert by[name]["bars"] == by[name]["drawn"] == n, name  # one per hour, all drawn
        assert by["auth"]["bad"] == 2  # the 450 ms and 300 ms hours, above 200 ms
        for c in charts:
            assert c["w"] > 300
            assert c["h"] > 50
        png = await browser.screenshot()
    finally:
        await browser.close()
    shot = tmp_path / "report.png"
    shot.write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 720
    assert height > 1500  # the whole page: charts and every table
    assert len(png) > 30_000  # text and bars, not a blank page


def test_api_report_on_a_running_monitor(week_dir, tmp_path: Path, fleet, serve) -> None:
    week, data = week_dir
    mine = tmp_path / "data"
    shutil.copytree(data, mine)
    urls = {n: fleet.urls[n] for n in SLOS}
    cfg = config(tmp_path / "services.yaml", urls, interval="1h", timeout="2s")
    mon = serve("-c", str(cfg), "--data-dir", str(mine))
    resp = mon.get("/api/report", params={"since": "7d"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    since = body["since"]
    assert since in (week.start, week.start + HOUR)  # the hour may turn during the test
    by = {s["name"]: s for s in body["services"]}
    auth = by["auth"]
    # The week's checks, and the one the monitor just made (an hour's interval).
    checks = [c for c in week.checks["auth"] if c.ts >= since]
    assert len(checks) <= auth["checks"] <= len(checks) + 1
    uptime = 100 * sum(c.up for c in checks) / len(checks)
    assert auth["uptime_percent"] == pytest.approx(uptime, abs=0.001)
    assert auth["compliant"] is False
    assert auth["error_budget_remaining"] == pytest.approx(1 - (100 - uptime) / 0.1, abs=0.01)
    assert auth["slo"] == {
        "uptime_percent": 99.9,
        "response_time_ms": 200.0,
        "error_rate_percent": 0.1,
    }
    assert [h["ts"] for h in auth["worst_hours"][:2]] == [week.hour(2, 14), week.hour(4, 2)]
    assert auth["worst_hours"][0]["mean_ms"] == 450.0
    assert by["memory"]["compliant"] is True
    assert by["legacy"]["slo"] is None  # in the history, not in the config
    incidents = body["incidents"]
    assert incidents["count"] == 5
    assert incidents["time_to_acknowledge"] == {
        "count": 4,
        "mean_s": 270.0,
        "median_s": 210.0,
        "max_s": 600.0,
    }
    assert incidents["time_to_resolve"] == {
        "count": 4,
        "mean_s": 3720.0,
        "median_s": 2940.0,
        "max_s": 7200.0,
    }
    assert incidents["top_causes"]["service"][0] == {"name": "auth", "count": 3}
    counts = {(n["channel"], n["kind"], n["state"]): n["count"] for n in body["notifications"]}
    # The week's pending one is due: the running monitor's outbox may have tried it (pd
    # is not configured here, so it fails); it is counted once either way.
    resolved = counts.pop(("pd", "resolved", "pending"), 0) + counts.pop(
        ("pd", "resolved", "failed"), 0
    )
    assert resolved == 1
    assert counts == {
        ("ops", "open", "sent"): 3,
        ("ops", "resolved", "sent"): 2,
        ("ops", "escalation", "failed"): 1,
        ("pd", "open", "sent"): 1,
        ("pd", "open", "failed"): 1,
    }
    for query, reason in (
        ({"since": "0s"}, "'since': must be between 1m and 366d, got '0s'"),
        ({"since": "soon"}, "malformed duration 'soon'"),
        ({"until": "1h"}, "unknown query parameter 'until'"),
    ):
        bad = mon.get("/api/report", params=query)
        assert bad.status_code == 400, query
        assert reason in bad.json()["error"]["message"]


def test_report_never_imports_textual_aiohttp_or_sdks(week_dir, tmp_path: Path) -> None:
    """An offline command: no screen, no HTTP, no Docker/Kubernetes/Redis client."""
    _, data = week_dir
    done, modules = headless.run(
        ["report", "--data-dir", str(data)], tmp_path / "modules.json", clean_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert headless.roots(modules, (*headless.VIEW_ONLY, *headless.SDKS, "aiohttp")) == []

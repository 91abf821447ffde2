"""`--serve` as an operator runs it: a real subprocess against real HTTP services."""

from __future__ import annotations

import signal
import time

import pytest

pytestmark = pytest.mark.integration


def services_by_name(proc) -> dict:
    return {s["name"]: s for s in proc.get("/api/services").json()["services"]}


def test_api_reflects_each_service_within_one_interval_plus_timeout(
    fleet, write_config, fast, serve, wait
):
    fleet.behave("project", down=True)  # answers 503 from the start
    cfg = write_config(fast(fleet.urls))
    proc = serve("-c", str(cfg))
    started = time.monotonic()

    def settled():
        s = services_by_name(proc)
        return (
            s
            if {n: x["status"] for n, x in s.items()}
            == {"auth": "up", "memory": "up", "project": "down"}
            else None
        )

    s = wait(settled, timeout=5, what="auth/memory up and project down")
    assert time.monotonic() - started <= 0.5 + 0.4 + 1.5  # interval + timeout + start-up
    assert s["project"]["last_check"]["status_code"] == 503
    assert "HTTP 503" in s["project"]["last_check"]["error"]
    assert s["auth"]["latency_ms"]["last"] > 0
    assert s["auth"]["slo"] is None


def test_stopped_service_goes_down_after_threshold_and_comes_back(
    fleet, write_config, fast, serve, wait
):
    cfg = write_config(fast(fleet.urls, failure_threshold=3))
    proc = serve("-c", str(cfg))
    wait(lambda: services_by_name(proc)["memory"]["status"] == "up", 5, what="memory up")

    fleet.stop("memory")
    # The first refused check must not flip it: it stays up while failures < threshold.
    first_fail = wait(
        lambda: (s := services_by_name(proc)["memory"])["consecutive_failures"] >= 1 and s,
        5,
        interval=0.02,
        what="first failed check",
    )
    if first_fail["consecutive_failures"] < 3:
        assert first_fail["status"] == "up"
    assert first_fail["last_check"]["error"] == "connection refused"
    down = wait(
        lambda: (s := services_by_name(proc)["memory"])["status"] == "down" and s,
        5,
        what="memory down",
    )
    assert down["consecutive_failures"] >= 3
    assert services_by_name(proc)["auth"]["status"] in ("up", "degraded")  # not down: slow is
    # a real reading on a loaded machine (its SLO latency is tight), not a failed check

    fleet.start("memory")
    wait(lambda: services_by_name(proc)["memory"]["status"] == "up", 5, what="memory up again")
    assert "service status changed" in proc.output()


def test_metrics_pass_promtool(fleet, write_config, fast, serve, wait, tmp_path):
    import subprocess

    proc = serve("-c", str(write_config(fast(fleet.urls))))
    wait(
        lambda: (
            all(
                n in (t := proc.get("/metrics").text)
                for n in ("devmentor_service_up{", "devmentor_host_cpu_ratio ")
            )
            and t
        ),
        8,
        what="service and host metrics",
    )
    body = proc.get("/metrics")
    assert body.headers["content-type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=body.content, capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    text = body.text
    for name in (
        'devmentor_service_up{service="auth"} 1.0',
        "devmentor_host_cpu_ratio ",
        "devmentor_service_latency_seconds_count",
        'devmentor_host_memory_bytes{state="total"}',
    ):
        assert name in text


@pytest.mark.parametrize(
    ("method", "path", "status", "needle"),
    [
        ("GET", "/api/services/nope", 404, "no service named 'nope'"),
        ("GET", "/nowhere", 404, "no such endpoint"),
        ("GET", "/api/metrics?window=abc", 400, "malformed duration"),
        ("GET", "/api/metrics?window=30d", 400, "between 1s and 7d"),
        ("GET", "/api/metrics?series=bogus", 400, "unknown series bogus"),
        ("GET", "/api/services?verbose=1", 400, "unknown query parameter 'verbose'"),
        ("GET", "/api/services/auth?window=-1m", 400, "bad value for 'window'"),
        ("POST", "/api/services", 405, "POST is not allowed"),
        ("DELETE", "/metrics", 405, "DELETE is not allowed"),
    ],
)
def test_bad_requests_get_json_errors(
    fleet, write_config, fast, serve, method, path, status, needle
):
    import httpx

    proc = serve("-c", str(write_config(fast(fleet.urls))))
    r = httpx.request(method, proc.url + path, timeout=5)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["status"] == status
    assert needle in error["message"]
    if status == 405:
        assert r.headers["allow"] == "GET"


def test_service_detail_and_metric_history(fleet, write_config, fast, serve, wait):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    wait(
        lambda: len(proc.get("/api/services/auth").json()["recent_checks"]) >= 3,
        5,
        what="three checks of auth",
    )
    detail = proc.get("/api/services/auth?window=5m").json()
    assert detail["recent_checks"][0]["ok"] is True
    assert len(detail["latency_history_ms"]) >= 3
    wait(lambda: proc.get("/api/metrics").json()["system"] is not None, 8, what="host sample")
    m = proc.get("/api/metrics?window=5m&series=cpu,memory").json()
    assert set(m["series"]) == {"cpu", "memory"}
    assert m["series"]["cpu"]["unit"] == "percent"
    assert m["series"]["memory"]["points"][-1][1] == pytest.approx(
        m["system"]["memory"]["percent"], abs=5
    )


def test_openapi_describes_every_route(fleet, write_config, fast, serve):
    from devmentor_monitor.server.app import ROUTES

    proc = serve("-c", str(write_config(fast(fleet.urls))))
    doc = proc.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}
    # each operation's role and security requirement come from the route table
    for r in ROUTES:
        op = doc["paths"][r.path][r.method.lower()]
        assert op["x-required-role"] == r.role
        assert (op["security"] == []) == (r.role == "public")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shuts_down_cleanly_within_two_seconds(fleet, write_config, fast, serve, sig):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    t0 = time.monotonic()
    proc.signal(sig)
    code = proc.proc.wait(5)
    assert time.monotonic() - t0 < 2.0
    assert code == 0
    out = proc.output()
    assert "monitor stopped" in out
    assert "Traceback" not in out


def test_port_in_use_is_a_clear_error(fleet, write_config, fast, serve, wait):
    cfg = str(write_config(fast(fleet.urls)))
    first = serve("-c", cfg)
    second = serve("-c", cfg, "--port", str(first.port), ready=False)
    code = second.proc.wait(10)
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{first.port}" in second.output()
    assert "Traceback" not in second.output()


def test_binds_loopback_by_default(fleet, write_config, fast, serve):
    import psutil

    proc = serve("-c", str(write_config(fast(fleet.urls))))
    conns = [
        c
        for c in psutil.Process(proc.proc.pid).net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert [c.laddr.ip for c in conns] == ["127.0.0.1"]


def test_health_endpoint_reports_sources(fleet, write_config, fast, serve, wait):
    proc = serve("-c", str(write_config(fast(fleet.urls))))

    def sampled() -> dict | None:  # healthy, and the host source has reported once
        r = proc.get("/health")
        body = r.json() if r.status_code == 200 else {}
        return body if any(s["name"] == "system" for s in body.get("sources", [])) else None

    body = wait(sampled, 8, what="a healthy monitor with a host sample")
    assert body["status"] == "ok"
    states = {s["name"]: s["state"] for s in body["sources"]}
    assert states["redis"] == "not configured"
    assert states["system"] == "ok"

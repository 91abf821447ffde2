"""The committed Grafana dashboard against a real Prometheus that scrapes `--serve --demo`:
every panel's every query returns data, and the exported rules evaluate there cleanly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from support.processes import REPO
from support.prometheus import MISSING, PROMETHEUS, Prometheus

from devmentor_monitor.cli import main
from devmentor_monitor.config.schema import load_config
from devmentor_monitor.exports.grafana import targets

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason=MISSING),
]
DASHBOARD = REPO / "deploy" / "grafana" / "devmentor-monitor.json"
# What Grafana would put in for its variables, with Prometheus scraping every second.
VARIABLES = {"$service": ".*", "$__rate_interval": "10s", "$__range": "1m"}


def concrete(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a Grafana variable the test does not fill: {expr}"
    return expr


def demo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped default config, checking every 2 s (not 10) so rates have samples soon.
    Found by the config lookup itself, from a directory with no services.yaml."""
    monkeypatch.chdir(tmp_path)
    shipped = Path(load_config(None, {"XDG_CONFIG_HOME": str(tmp_path)}).source)
    cfg = yaml.safe_load(shipped.read_text())
    cfg["intervals"] = {**cfg.get("intervals", {}), "health": "2s", "system": "1s"}
    cfg["health"] = {**cfg.get("health", {}), "timeout": "1500ms"}
    for service in cfg["services"]:
        service.pop("timeout", None)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_every_panel_query_returns_data(serve, wait, tmp_path: Path, monkeypatch) -> None:
    config = demo_config(tmp_path, monkeypatch)
    rules = tmp_path / "rules.yml"
    assert main(["rules", "export", "-c", str(config), "-o", str(rules)]) == 0
    proc = serve("--demo", "-c", str(config))
    prom = Prometheus(tmp_path, [f"127.0.0.1:{proc.port}"], rule_files=(rules,))
    try:
        queries = [
            (title, concrete(expr)) for title, expr in targets(json.loads(DASHBOARD.read_text()))
        ]
        assert len(queries) >= 25
        empty = list(queries)  # (panel, query) pairs with no data yet

        def all_have_data() -> bool:
            empty[:] = [(title, expr) for title, expr in empty if not prom.query(expr)]
            return not empty

        started = time.monotonic()
        try:
            wait(all_have_data, 50, interval=1, what="every panel query to return data")
        except AssertionError:
            raise AssertionError(f"panel queries with no data: {empty}") from None
        print(f"every panel had data after {time.monotonic() - started:.1f} s")

        # the `service` variable: label_values(devmentor_service_up, service)
        names = prom.api("label/service/values", **{"match[]": "devmentor_service_up"})
        services = yaml.safe_load(config.read_text())["services"]
        assert set(names) == {s["name"] for s in services}
        # the burn-rate panel divides by 1 - each service's SLO target, as configured
        slo = prom.query("devmentor_service_slo_target_ratio")
        assert {s["metric"]["service"]: float(s["value"][1]) for s in slo} == pytest.approx(
            {s["name"]: s["slo"]["uptime"] / 100 for s in services}
        )

        # the exported rules load and evaluate without errors against the real series
        def evaluated() -> list[dict]:
            groups = prom.api("rules")["groups"]
            rules_ = [r for g in groups for r in g["rules"]]
            return (
                rules_ if rules_ and all(r["lastEvaluation"][:4] != "0001" for r in rules_) else []
            )

        evaluated_rules = wait(evaluated, 15, interval=0.5, what="the rules to be evaluated")
        bad = {r["name"]: r.get("lastError") for r in evaluated_rules if r["health"] != "ok"}
        assert not bad
        assert {r["name"] for r in evaluated_rules if r["type"] == "alerting"} >= {
            "service_down",
            "latency_slo",
            "burn_rate_fast",
            "burn_rate_slow",
            "disk_full_soon",
            "memory_full_soon",
        }
    finally:
        prom.stop()

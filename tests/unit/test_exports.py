"""`dashboard export` and `rules export`: the committed dashboard is what the builder makes,
queries name only declared metrics, and the rules follow the loaded config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from devmentor_monitor.cli import main
from devmentor_monitor.exports import check_metrics, grafana, prom_duration
from devmentor_monitor.exports.grafana import Panel, q

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "devmentor-monitor.json"


def test_committed_dashboard_is_what_the_builder_makes() -> None:
    # regenerate: devmentor-monitor dashboard export -o deploy/grafana/devmentor-monitor.json
    assert DASHBOARD.read_text() == grafana.render()


def test_dashboard_export_writes_the_same_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.json"
    assert main(["dashboard", "export", "-o", str(out)]) == 0
    assert out.read_text() == grafana.render()
    assert main(["dashboard", "export"]) == 0
    assert capsys.readouterr().out == grafana.render()


def test_dashboard_imports_with_a_datasource_variable_and_a_service_filter() -> None:
    model = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["service"]["definition"] == "label_values(devmentor_service_up, service)"
    assert model["uid"]
    assert model["id"] is None
    assert model["schemaVersion"] >= 39
    rows = [p["title"] for p in model["panels"] if p["type"] == "row"]
    assert rows == ["Services", "Host", "Incidents and notifications", "Events and predictions"]
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"])
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        assert all(t["datasource"] == p["datasource"] for t in p["targets"])
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, p["title"]
    service_panels = [p for p in panels if "devmentor_service_" in json.dumps(p["targets"])]
    for p in service_panels:  # the service variable filters every service panel
        assert all('service=~"$service"' in t["expr"] for t in p["targets"]), p["title"]
    titles = {p["title"] for p in panels}
    assert {"Status", "Latency p95 (last hour)", "Uptime", "Error budget burn rate"} <= titles


def test_a_query_naming_an_undeclared_metric_fails_the_build(monkeypatch) -> None:
    bad = Panel("Gone", "stat", q("sum(devmentor_service_upp)"), "renamed away")
    monkeypatch.setattr(grafana, "ROWS", (("Services", (bad,)),))
    with pytest.raises(ValueError, match="devmentor_service_upp"):
        grafana.dashboard()


def test_check_metrics_knows_summary_suffixes_and_only_theirs() -> None:
    check_metrics("rate(devmentor_service_latency_seconds_sum[5m])")
    check_metrics("rate(devmentor_service_latency_seconds_count[5m]) + devmentor_host_cpu_ratio")
    with pytest.raises(ValueError, match="devmentor_host_cpu_ratio_sum"):
        check_metrics("devmentor_host_cpu_ratio_sum")  # a gauge has no _sum
    with pytest.raises(ValueError, match="devmentor_service_latency_seconds_bucket"):
        check_metrics("devmentor_service_latency_seconds_bucket")  # a summary, no buckets


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600, "1h"), (300, "5m"), (5400, "1h30m"), (90, "1m30s"), (0.25, "250ms"), (0, "0s")],
)
def test_prom_duration(seconds: float, text: str) -> None:
    assert prom_duration(seconds) == text


# --------------------------------------------------------------------------- rules

SERVICES = """
services:
  - name: auth
    url: http://127.0.0.1:3002/health
    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.1}
  - name: ai-gateway
    url: http://127.0.0.1:3004/health
  - name: project
    url: http://127.0.0.1:3005/health
    slo: {uptime: 99.5, response_time: 500ms, error_rate: 0.5}
"""


def export(tmp_path: Path, text: str) -> tuple[str, dict[str, dict]]:
    (tmp_path / "services.yaml").write_text(text)
    out = tmp_path / "rules.yml"
    assert main(["rules", "export", "-c", str(tmp_path / "services.yaml"), "-o", str(out)]) == 0
    body = out.read_text()
    rules = {
        r.get("alert") or r["record"]: r for g in yaml.safe_load(body)["groups"] for r in g["rules"]
    }
    return body, rules


def test_rules_take_thresholds_from_the_config(tmp_path: Path) -> None:
    _, rules = export(
        tmp_path,
        SERVICES
        + """
thresholds: {cpu: {warn: 60, alert: 75}}
alerting:
  burn_rate:
    min_checks: 20
    pairs: [{name: quick, factor: 10, long: 2h, short: 10m, severity: critical}]
alerts: {disable: [cert_expiry]}
""",
    )
    assert "cert_expiry" not in rules
    assert "devmentor_host_cpu_ratio > 0.75" in rules["cpu_high"]["expr"]
    assert "devmentor_host_cpu_ratio > 0.6 and" in rules["cpu_high"]["expr"]  # clear at warn
    assert rules["cpu_high"]["for"] == "2m"
    assert rules["cpu_high"]["labels"] == {"severity": "high", "service": "host"}
    # each service's own SLO; a service without one is not in the SLO rules
    latency = rules["latency_slo"]["expr"]
    assert 'devmentor_service_last_latency_seconds{service="auth"}' in latency
    assert ") > 0.2" in latency
    assert ") > 0.5" in latency
    assert "ai-gateway" not in latency
    burn = rules["burn_rate_quick"]
    assert burn["labels"]["severity"] == "critical"
    assert (
        'devmentor:service_check_error_ratio:rate2h{service="auth"} / 0.001 > 10' in (burn["expr"])
    )
    assert (
        'devmentor:service_check_error_ratio:rate10m{service="project"} / 0.005 > 10'
        in (burn["expr"])
    )
    assert ">= 20)" in rules["devmentor:service_check_error_ratio:rate10m"]["expr"]
    assert not any(name.startswith("burn_rate_fast") for name in rules)
    assert "{{ $labels.service }}" in rules["service_down"]["annotations"]["summary"]


def test_configured_rules_replace_the_built_in_ones(tmp_path: Path) -> None:
    body, rules = export(
        tmp_path,
        SERVICES
        + """
alerts:
  rules:
    - {name: slow_core, metric: latency, above: 300ms, services: [auth, project], for: 1m}
    - {name: odd, metric: anomaly_score, above: 0.7}
""",
    )
    assert set(rules) == {"slow_core"}
    assert 'service=~"(auth|project)"' in rules["slow_core"]["expr"]
    assert "> 0.3" in rules["slow_core"]["expr"]
    assert "# Not exported: odd: no exported series carries anomaly_score" in body


def test_rules_export_says_when_it_cannot_write(tmp_path: Path, capsys) -> None:
    (tmp_path / "services.yaml").write_text(SERVICES)
    code = main(
        ["rules", "export", "-c", str(tmp_path / "services.yaml"), "-o", str(tmp_path / "no/r.yml")]
    )
    assert code == 1
    assert "cannot write" in capsys.readouterr().err

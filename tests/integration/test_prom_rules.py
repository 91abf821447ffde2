"""`rules export` writes rules promtool accepts, and promtool's own unit tests
(tests/data/prom_rules/rules_test.yml) fire and resolve every one of them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.prometheus import PROMTOOL

from devmentor_monitor.cli import main
from devmentor_monitor.config.schema import load_config
from devmentor_monitor.incidents.rules import build_rules
from devmentor_monitor.units import parse_duration

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (scripts/setup --test)"),
]
DATA = Path(__file__).resolve().parents[1] / "data" / "prom_rules"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def fired_then_resolved(tests: dict[str, Any]) -> set[str]:
    """Alerts some test case expects firing, and then, later in that case, not."""
    out = set()
    for case in tests["tests"]:
        fired: dict[str, float] = {}
        for t in sorted(case["alert_rule_test"], key=lambda t: parse_duration(t["eval_time"])):
            at = parse_duration(t["eval_time"])
            if t["exp_alerts"]:
                fired.setdefault(t["alertname"], at)
            elif t["alertname"] in fired:
                out.add(t["alertname"])
    return out


def test_exported_rules_pass_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    config = DATA / "services.yaml"
    assert main(["rules", "export", "-c", str(config), "-o", str(tmp_path / "rules.yml")]) == 0
    shutil.copy(DATA / "rules_test.yml", tmp_path)

    check = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr

    # every built-in rule is exported, and the unit tests fire and then resolve each
    alerts = {
        r["alert"]
        for g in yaml.safe_load((tmp_path / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert alerts == {r.name for r in build_rules(load_config(str(config), {}))}
    assert fired_then_resolved(yaml.safe_load((DATA / "rules_test.yml").read_text())) == alerts

    unit = promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "SUCCESS" in unit.stdout

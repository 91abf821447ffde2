"""Files other tools read, made from what the package declares: Prometheus alerting rules
(prom_rules.py, `rules export`) and a Grafana dashboard (grafana.py, `dashboard export`).

This module is what cli.py imports at start-up: the sub-commands' parsers and a dispatcher,
standard library only; the builders are imported when their command runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config

PROG = "devmentor-monitor"
COMMANDS = ("rules", "dashboard")


def add_parsers(subs: Any, common: Callable[..., None]) -> None:
    """Register `rules export` and `dashboard export` on the top-level sub-commands."""
    rules = subs.add_parser(
        "rules",
        help="the alert rules, for Prometheus",
        description="The monitor's alert rules, for other tools.",
    )
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write them as Prometheus alerting rules",
        description="Write the alert rules of the loaded config (its thresholds, SLOs and "
        "burn-rate windows) as Prometheus alerting rules over the exported metrics, for "
        "Prometheus and Alertmanager. Check them with `promtool check rules FILE`.",
    )
    common(export, sub=True)
    _output(export)
    dashboard = subs.add_parser(
        "dashboard",
        help="the Grafana dashboard",
        description="The Grafana dashboard over the exported metrics.",
    )
    actions = dashboard.add_subparsers(dest="dashboard_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write its JSON, to import in Grafana",
        description="Write the Grafana dashboard JSON (Dashboards > New > Import); it asks "
        "for a Prometheus data source that scrapes the monitor.",
    )
    _output(export)


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE", default="-", help="default: stdout")


def run(args: argparse.Namespace, load: Callable[[], Config]) -> int:
    """Run `rules export` (on the config ``load`` reads) or `dashboard export`."""
    if args.command == "dashboard":
        from devmentor_monitor.exports import grafana

        return write_output(grafana.render(), args.output)
    from devmentor_monitor.exports import prom_rules
    from devmentor_monitor.incidents.rules import build_rules

    config = load()
    return write_output(prom_rules.render(config, build_rules(config)), args.output)


def write_output(text: str, output: str) -> int:
    """``text`` to the file ``output`` ("-": stdout). Exit code: 0, or 1 (one line on
    stderr) when the file cannot be written."""
    if output == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"{PROG}: error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


_METRIC = re.compile(r"devmentor_[a-z_]+")
_SUFFIXES = {"summary": ("_sum", "_count"), "histogram": ("_sum", "_count", "_bucket")}


def check_metrics(expr: str) -> None:
    """Every devmentor_* series ``expr`` names is one METRICS declares (or a summary's or
    histogram's _sum/_count/_bucket), else ValueError: a query must not go stale."""
    from devmentor_monitor.metric_specs import METRICS

    for name in _METRIC.findall(expr):
        if name in METRICS:
            continue
        base = next(
            (
                name.removesuffix(s)
                for s in ("_sum", "_count", "_bucket")
                if name.endswith(s) and name.removesuffix(s) in METRICS
            ),
            None,
        )
        if base is None or not name.endswith(_SUFFIXES.get(METRICS[base].kind, ())):
            raise ValueError(f"{name} is not a metric in metric_specs.METRICS: {expr!r}")


def prom_duration(seconds: float) -> str:
    """Exact Prometheus duration: 1h, 1h30m, 90 -> 1m30s, 0.25 -> 250ms."""
    ms = round(seconds * 1000)
    if ms % 1000:
        return f"{ms}ms"
    out, rest = "", ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        whole, rest = divmod(rest, size)
        if whole:
            out += f"{whole}{unit}"
    return out or "0s"

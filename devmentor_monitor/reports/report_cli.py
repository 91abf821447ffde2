"""`devmentor-monitor report --since 7d [--format md|html] [-o FILE]`: the report over the
data dir's files, read-only, with no monitor running (or beside one).

Registered by cli.py at start-up with the standard library only; the computation and
the renderers are imported when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.reports.spans import SPAN_WORDS, parse_span
from devmentor_monitor.storage.files import add_data_dir_option

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config
    from devmentor_monitor.reports.model import Report


def _span(text: str) -> float:
    try:
        return parse_span(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subs: Any, common: Callable[..., None]) -> None:
    """Register `report` on the top-level sub-commands (``common``: -c, --log-level)."""
    p = subs.add_parser(
        "report",
        help="SLOs, incidents, notifications and latency over a period",
        description="A report over the last --since: per service SLO compliance, uptime, "
        "error budget and the worst latency hours (from the stored check history), "
        "incidents with time to acknowledge and to resolve and their top causes, and "
        "notification counts. Reads the data dir's monitor.db and history.db read-only; "
        "the monitor need not run. The same report as JSON: GET /api/report?since=7d.",
    )
    common(p, sub=True)
    p.add_argument(
        "--since",
        type=_span,
        default=7 * 86400.0,
        metavar="DURATION",
        help=f"the period before now: 24h, 7d, 30d ({SPAN_WORDS[0]} to {SPAN_WORDS[1]}; "
        "default 7d)",
    )
    p.add_argument("--format", choices=("md", "html"), default="md", help="default: md")
    p.add_argument("--output", "-o", metavar="FILE", default="-", help="default: stdout")
    add_data_dir_option(p, "monitor.db and history.db")


def run(args: argparse.Namespace, load: Callable[[], Config]) -> int:
    """Compute over the files of the loaded config's data dir and write the report."""
    import time

    from devmentor_monitor.exports import write_output
    from devmentor_monitor.reports import html, markdown

    config = load()
    report = asyncio.run(_build(config, args.since, time.time()))
    render = html.render if args.format == "html" else markdown.render
    return write_output(render(report), args.output)


async def _build(config: Config, span: float, now: float) -> Report:
    from devmentor_monitor.config.schema import data_dir
    from devmentor_monitor.reports.compute import build_report
    from devmentor_monitor.reports.model import ServiceTarget
    from devmentor_monitor.reports.offline import OfflineSource
    from devmentor_monitor.storage.open import database_for

    source = OfflineSource(data_dir(config), config.retention.metrics, db=database_for(config))
    source.open()
    try:
        targets = [ServiceTarget(s.name, s.slo, s.interval) for s in config.services]
        return await build_report(source, targets, span, now)
    finally:
        await source.close()

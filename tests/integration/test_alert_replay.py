"""Issue 14's scripted outages as tests: the scenarios of bench/alert_replay.py
(tests/support/replay.py) against a real `--serve` with 2 s checks, four stub services with
depends_on edges and a real webhook receiver, asserting the issue's targets.

The cascade run gives two scenarios (cascade, then recovery); it runs once per module and
both tests read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from support import replay

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], dict[str, Any]]]:
    """The figures of a scenario. Every run starts at the first call, all at once in
    threads as the bench does (each has its own ports and processes), so the module takes
    about as long as its slowest run rather than the sum (~70 s against ~4.5 min)."""
    pool = ThreadPoolExecutor(max_workers=len(replay.RUNS))
    futures: dict[str, Future[dict[str, dict[str, Any]]]] = {}

    def get(scenario: str) -> dict[str, Any]:
        if not futures:
            for name in replay.RUNS:
                futures[name] = pool.submit(replay.run, name, tmp_path_factory.mktemp(name))
        run = next(r for r, names in replay.RUNS.items() if scenario in names)
        return futures[run].result()[scenario]

    yield get
    pool.shutdown(wait=True)


def check(replayed: Callable[[str], dict[str, Any]], scenario: str) -> None:
    figures = replayed(scenario)
    missed = replay.failures(scenario, figures)
    assert not missed, "\n".join([*missed, f"figures: {figures}"])


@pytest.mark.timeout(150)
def test_quiet_start_pages_nobody(replayed):
    check(replayed, "quiet")


@pytest.mark.timeout(150)
def test_cold_start_pages_once_per_down_root_after_the_threshold(replayed):
    check(replayed, "cold_start")


@pytest.mark.timeout(150)
def test_cascade_is_one_page_naming_the_dependents(replayed):
    check(replayed, "cascade")


@pytest.mark.timeout(150)
def test_recovery_resolves_within_one_interval_and_leaves_nothing_open(replayed):
    check(replayed, "recovery")


@pytest.mark.timeout(150)
def test_flapping_below_the_failure_threshold_pages_at_most_once(replayed):
    check(replayed, "flapping")


@pytest.mark.timeout(150)
def test_flapping_at_failure_threshold_1_pages_at_most_once(replayed):
    check(replayed, "flapping_ft1")


@pytest.mark.timeout(150)
def test_restart_mid_outage_does_not_page_again_and_still_resolves(replayed):
    check(replayed, "restart")


@pytest.mark.timeout(150)
def test_silenced_outage_pages_nobody(replayed):
    check(replayed, "silence")

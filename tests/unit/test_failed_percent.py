"""The failed-check share the prediction step feeds (5 minutes): the same figure as the
window's counts give, whether every check passed (read at once) or some failed."""

from __future__ import annotations

import random

from devmentor_monitor.rings import WindowCounter


def share(counter: WindowCounter, now: float, window: float) -> float | None:
    total, _, failed = counter.totals(now, window)
    return 100.0 * failed / total if total else None


def test_failed_percent_matches_the_counts() -> None:
    rnd = random.Random(11)
    for _ in range(200):
        counter = WindowCounter()
        t = 1_700_000_000.0 + rnd.uniform(0, 60)
        fail_rate = rnd.choice((0.0, 0.0, 0.1, 0.5))
        for _ in range(rnd.randint(1, 60)):
            t += rnd.choice((1.0, 10.0, 45.0, 400.0))
            failed = rnd.random() < fail_rate
            counter.add(t, up=not failed, failed=failed)
            for now in (t, t + 5, t + 70, t + 400):
                assert counter.failed_percent(now, 300.0) == share(counter, now, 300.0)
    fresh = WindowCounter()
    assert fresh.failed_percent(1_700_000_000.0, 300.0) is None
    fresh.add(1_700_000_000.0, up=True, failed=False)
    assert fresh.failed_percent(1_700_000_000.0, 300.0) == 0.0
    fresh.add(1_700_000_001.0, up=False, failed=True)
    assert fresh.failed_percent(1_700_000_001.0, 300.0) == 50.0

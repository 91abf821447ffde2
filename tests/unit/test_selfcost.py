"""The monitor's own poll times keep one minute: mean and worst per source, and which
source overran its interval (what the header and /api/self name)."""

from __future__ import annotations

from devmentor_monitor.selfcost import SelfCost, slow_lines


def test_poll_times_keep_the_last_minute_and_name_the_slow_source() -> None:
    now = [1000.0]
    cost = SelfCost(clock=lambda: now[0])
    cost.polls.record("health", 12.3, 10.0)  # queued behind the others: over its interval
    now[0] += 30
    cost.polls.record("health", 0.2, 10.0)
    cost.polls.record("system", 0.004, 5.0)
    cost.polls.record("system", 0.006, 5.0)
    stats = {s.source: s for s in cost.polls.stats()}
    assert stats["health"].count == 2
    assert stats["health"].max == 12.3
    assert round(stats["health"].mean, 2) == 6.25
    assert stats["health"].slow
    assert not stats["system"].slow
    assert round(stats["system"].mean, 3) == 0.005
    assert slow_lines(cost) == ["health checks slow: 12.3 s > 10 s"]
    now[0] += 31  # the slow poll is over a minute old: forgotten
    assert slow_lines(cost) == []
    stats = {s.source: s for s in cost.polls.stats()}
    assert stats["health"].count == 1
    assert stats["health"].max == 0.2
    now[0] += 61
    assert cost.polls.stats() == []


def test_poll_times_unread_for_an_hour_hold_only_the_last_minute() -> None:
    """Nobody reads them in `ultra` with the self panel closed and no scrape: what is held
    stays one minute's worth (it piled up to 2,000 per source, growing RSS for hours)."""
    now = [0.0]
    cost = SelfCost(clock=lambda: now[0])
    for _ in range(3600):  # an hour of 1 s polls, never read
        now[0] += 1.0
        cost.polls.record("health", 0.01, 10.0)
    assert len(cost.polls._polls["health"]) <= 61  # what is held is the point
    stats = cost.polls.stats()
    assert [(s.source, s.count) for s in stats] == [("health", 61)]


def test_own_usage_is_a_share_of_one_core_and_resident_memory() -> None:
    now = [0.0]
    cost = SelfCost(clock=lambda: now[0])
    now[0] = 2.0
    usage = cost.usage()
    assert usage.rss_bytes is not None
    assert usage.rss_bytes > 1 << 20
    assert usage.cpu_ratio is not None
    assert usage.cpu_ratio >= 0
    now[0] = 2.5  # under a second since: the same figure, another reader's window kept
    assert cost.usage().cpu_ratio == usage.cpu_ratio

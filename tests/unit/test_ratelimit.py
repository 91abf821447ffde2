"""Per-key write buckets (server/ratelimit.py) on a hand-moved clock: the burst, the
refill, Retry-After in whole seconds, keys apart, no limit at 0, memory bounded."""

from __future__ import annotations

import pytest

from devmentor_monitor.server import ratelimit
from devmentor_monitor.server.ratelimit import Rate, RateLimited, WriteLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limits(clock: Clock, per_second: float = 2.0, burst: int = 2) -> WriteLimits:
    return WriteLimits({"write": Rate(per_second, burst, "auth.write")}, clock)


def test_the_burst_then_a_429_with_whole_seconds_to_wait_then_the_refill():
    clock = Clock()
    lim = limits(clock, per_second=0.4, burst=2)
    lim.take("write", "ops")
    lim.take("write", "ops")
    with pytest.raises(RateLimited) as refused:
        lim.take("write", "ops")
    assert refused.value.retry_after == 3  # 1 token at 0.4/s: 2.5 s, rounded up
    assert "key 'ops'" in refused.value.message
    lim.take("write", "other")  # a bucket per key
    clock.now += 2.4
    with pytest.raises(RateLimited) as again:
        lim.take("write", "ops")
    assert again.value.retry_after == 1  # never 0: a client must wait a little
    clock.now += 0.1
    lim.take("write", "ops")


def test_a_refill_never_exceeds_the_burst():
    clock = Clock()
    lim = limits(clock)
    lim.take("write", "ops")
    clock.now += 3600
    for _ in range(2):
        lim.take("write", "ops")
    with pytest.raises(RateLimited):
        lim.take("write", "ops")


def test_a_rate_of_zero_is_no_limit():
    lim = limits(Clock(), per_second=0, burst=1)
    for _ in range(1000):
        lim.take("write", "ops")
    assert len(lim) == 0


def test_buckets_are_bounded_and_the_longest_idle_goes_first(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_BUCKETS", 3)
    clock = Clock()
    lim = limits(clock, burst=1)
    lim.take("write", "a")
    for name in ("b", "c", "d"):
        lim.take("write", name)
    assert len(lim) == 3
    lim.take("write", "a")  # "a" was dropped, so it is back with a full bucket
    with pytest.raises(RateLimited):
        lim.take("write", "d")  # "d" was kept: its bucket is still empty


def test_the_limits_and_read_only_are_read_from_the_file_and_the_flag(tmp_path):
    from devmentor_monitor.cli import build_parser
    from devmentor_monitor.config.schema import ConfigError, load_config

    path = tmp_path / "services.yaml"
    path.write_text("auth:\n  write_rate: 0.5\n  write_burst: 3\nservices: []\n")
    cfg = load_config(path, {})
    assert (cfg.write_rate, cfg.write_burst, cfg.push_rate, cfg.push_burst) == (0.5, 3, 200, 400)
    assert cfg.server.read_only is False
    args = build_parser().parse_args(["--serve", "--read-only"])
    cfg = load_config(path, {}, read_only=args.read_only)
    assert cfg.server.read_only is True
    assert "flag --read-only" in cfg.overrides

    path.write_text("auth:\n  write_rate: -1\nservices: []\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path, {})
    assert f"{path}:2: auth.write_rate" in str(bad.value)

"""The services table's age column in steps (units.coarse_age): `<10s`, tens of seconds,
then whole minutes, hours and days, so a cell reads the same for a whole step."""

from __future__ import annotations

import pytest

from devmentor_monitor.units import coarse_age


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-2.0, "<10s"),  # a check stamped a little ahead of this clock
        (0.0, "<10s"),
        (9.99, "<10s"),
        (10.0, "10s"),
        (19.9, "10s"),
        (20.0, "20s"),
        (59.9, "50s"),
        (60.0, "1m"),
        (119.0, "1m"),
        (120.0, "2m"),
        (3599.0, "59m"),
        (3600.0, "1h"),
        (7199.0, "1h"),
        (86399.0, "23h"),
        (86400.0, "1d"),
        (30 * 86400.0 + 5, "30d"),
    ],
)
def test_steps(seconds: float, shown: str) -> None:
    assert coarse_age(seconds) == shown


def test_an_age_reads_the_same_for_its_whole_step() -> None:
    """Second by second over two hours the text changes only at each step's start."""
    changes = [s for s in range(1, 7200) if coarse_age(s) != coarse_age(s - 1)]
    assert changes == [10, 20, 30, 40, 50, *range(60, 3600, 60), 3600]

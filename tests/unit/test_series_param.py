"""`series=` on /api/metrics: names are comma-separated, but a name's labels hold commas."""

from __future__ import annotations

import pytest

from devmentor_monitor.history.model import custom_series, scraped_series
from devmentor_monitor.server.history_api import split_series


@pytest.mark.parametrize(
    "names",
    [
        ["host:cpu"],
        ["host:cpu", "service:auth:up"],
        [scraped_series("node", "fs_avail", {"mountpoint": "/", "device": "sda1"}), "host:cpu"],
        [custom_series("orders", {"shop": 'eu "west", north}', "tier": "a"}), "host:memory"],
        [custom_series("paths", {"dir": "C:\\", "x": "1"}), "host:cpu"],  # ends in a backslash
    ],
)
def test_a_list_of_names_reads_back_as_written(names: list[str]) -> None:
    assert split_series(",".join(names)) == names


def test_empty_parts_are_dropped() -> None:
    assert split_series("") == []
    assert split_series("host:cpu,,host:memory,") == ["host:cpu", "host:memory"]

"""Snapshots of the overview over frozen data (tui_data.py), small and large terminal.

Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at the SVGs
in __snapshots__/ before accepting them: services with statuses (memory DOWN, with its
reason), host meters, 'no incidents', and at 80x24 nothing cut without an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tui_data import settle

from devmentor_monitor.tui.app import MonitorApp


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_overview(
    snap_compare: Callable[..., bool], app: MonitorApp, size: tuple[int, int]
) -> None:
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_overview_monochrome(
    snap_compare: Callable[..., bool], make_app: Callable[..., MonitorApp]
) -> None:
    """NO_COLOR users read statuses from words and meters from shapes."""
    assert snap_compare(make_app(theme="monochrome"), terminal_size=(80, 24), run_before=settle)

"""The services table shows a check's error as written: DataTable reads a str cell as
markup, so "[warn] slow" lost its "[warn]" and "[/x] failed" stopped the dashboard with a
MarkupError; cells go in as plain Text (widgets.plain_cell)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui_data import T, settle

from devmentor_monitor.model import CheckResult
from devmentor_monitor.tui.app import MonitorApp


async def test_a_check_error_with_brackets_is_shown_as_written(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = make_app()
    intake = app.monitor.intake  # type: ignore[attr-defined]
    for name, error in (("auth", "[warn] slow"), ("project", "[/x] failed")):
        intake.observe(CheckResult(name, T, ok=False, latency=None, error=error))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        lines = screen_text(app).splitlines()
        row = {n: next(ln for ln in lines if ln.startswith(f"│ {n} ")) for n in ("auth", "project")}
        assert "[warn] slow" in row["auth"]  # the services table comes first
        assert "[/x] failed" in row["project"]
        assert app.is_running  # no MarkupError took the dashboard down

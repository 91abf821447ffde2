"""The `p` view, the incident detail's root causes and chart marks, over frozen data.

Predictions are written with the store's own writer (as the engine does on a tick), so the
screens read exactly what they would read live.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.predictions.model import Prediction
from devmentor_monitor.predictions.rootcause import Cause
from devmentor_monitor.tui.app import MonitorApp

Text = Callable[[Any], str]
SIZE = (160, 45)

DISK = Prediction(
    "exhaustion",
    "disk:/var/lib/docker",
    None,
    Severity.HIGH,
    0.97,
    "disk /var/lib/docker full in 1 h 30 m",
    "disk /var/lib/docker full in 1 h 30 m at +13.3 GiB/h (fit over 30 m, confidence "
    "0.97). Why it matters: when it is full writes will fail",
    T - 600,
    5400.0,
)
LATENCY = Prediction(
    "anomaly",
    "latency:ai-gateway",
    "ai-gateway",
    Severity.MEDIUM,
    0.81,
    "ai-gateway latency unusual: 2400 ms (usually 450 ms)",
    "ai-gateway latency is 2400 ms, usually 450 ms ± 60 ms. Why it matters: requests to "
    "ai-gateway are slowing before its latency alert fires",
    T - 120,
    2.4,
)
STATUS = {
    "series": 21,
    "warming_up": 0,
    "warmup_samples": 150,
    "flagged": 1,
    "series_dropped": 0,
    "updated_at": T - 1,
    "scaling_enabled": False,
    "recent_anomalies": [
        {
            "series": "cpu",
            "service": None,
            "label": "host CPU",
            "started_at": T - 900,
            "ended_at": T - 840,
            "peak_score": 0.66,
            "onset_value": 91.0,
            "expert": "time_of_day",
        }
    ],
}


def publish(app: MonitorApp, predictions: list[Prediction], **kw: Any) -> None:
    app.monitor.store.set_predictions(
        predictions,
        scores=kw.get("scores", {}),
        values={},
        marks=kw.get("marks", {}),
        root_causes=kw.get("root_causes", {}),
        status=kw.get("status", STATUS),
    )


async def test_p_lists_predictions_and_explains_the_selected_one(
    app: MonitorApp, screen_text: Text
) -> None:
    publish(app, [DISK, LATENCY])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert app.current_mode == "predictions"
        text = screen_text(app)
        assert "watching 21 series · 1 flagged · capacity advice off" in text
        assert "disk:/var/lib/docker" in text
        assert "latency:ai-gateway" in text
        assert "HIGH" in text
        assert "MED" in text
        assert "writes will fail" in text  # the first (most severe) one's explanation
        # anomalies ended in the last hour, with the expert that saw each
        assert "host CPU (peak 0.66, unusual for the hour)" in text
        table = app.screen.query_one("#pred-list", DataTable)
        table.focus()
        await pilot.press("down")
        await settle(pilot)
        text = screen_text(app)
        assert "usually 450 ms ± 60 ms" in text
        assert "writes will fail" not in text
        # The overview's pane lists them too, most severe first.
        await pilot.press("o")
        await settle(pilot)
        overview = screen_text(app)
    assert "HIGH     disk /var/lib/docker full in 1 h 30 m" in overview
    assert "no predictions yet" not in overview


async def test_p_says_so_when_there_is_nothing(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot)
        text = screen_text(app)
    assert "no predictions yet" in text
    assert "waiting for the engine's first tick" in text


async def test_incident_detail_shows_root_causes(app: MonitorApp, screen_text: Text) -> None:
    inc = Incident(
        "inc-1",
        "ai-gateway",
        "service_down",
        Severity.HIGH,
        "ai-gateway: service down",
        "",
        IncidentState.OPEN,
        T - 60,
        T - 60,
    )
    app.monitor.store.put_incident(inc)
    cause = Cause(
        "memory",
        0.87,
        ("dependency", "deploy.finished"),
        (
            "dependency memory is down (ai-gateway -> memory) and none of its own "
            "dependencies is failing: likely the root of the chain",
        ),
        T - 300,
    )
    publish(app, [], root_causes={"inc-1": [cause]})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await settle(pilot)
        text = screen_text(app)
    assert "Likely causes" in text
    assert "0.87 memory (dependency, deploy.finished)" in text


async def test_metric_charts_mark_flagged_points(app: MonitorApp, screen_text: Text) -> None:
    cpu = app.monitor.store.series("cpu")
    flagged = tuple((t, v, "time_of_day") for t, v in list(cpu)[-5:])
    publish(app, [], marks={"cpu": flagged})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await settle(pilot)
        text = screen_text(app)
    # the legend of the marks on the CPU chart names the expert that flagged them
    assert "anomaly: unusual for the hour" in text

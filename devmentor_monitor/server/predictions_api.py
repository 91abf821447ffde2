"""/api/predictions: current anomalies, forecasts and capacity advice, each explained.

Read-only, from the store (the prediction engine writes there once per tick).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.predictions.model import Prediction
from devmentor_monitor.server.params import query
from devmentor_monitor.server.responses import json_response

if TYPE_CHECKING:
    from devmentor_monitor.predictions.rootcause import Cause
    from devmentor_monitor.store import Store

FORECAST_KINDS = ("exhaustion", "leak", "error_budget")


def prediction_json(p: Prediction) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "subject": p.subject,
        "service": p.service,
        "severity": p.severity.value,
        "score": p.score,
        "title": p.title,
        "explanation": p.explanation,
        "started_at": p.started_at,
        "value": p.value,
        "detail": p.detail,
    }


def cause_json(c: Cause) -> dict[str, Any]:
    return {
        "subject": c.subject,
        "score": c.score,
        "kinds": list(c.kinds),
        "evidence": list(c.evidence),
        "first_seen": c.first_seen,
    }


class PredictionsApi:
    """``enabled``: whether the prediction engine runs (if not, the answer says why)."""

    def __init__(self, store: Store, *, enabled: bool) -> None:
        self.store, self.enabled = store, enabled
        self.query, self.json = query, json_response

    async def list(self, request: web.Request) -> web.Response:
        self.query(request, {})
        store = self.store
        items = store.predictions()
        status: dict[str, Any] = dict(store.prediction_status)
        recent = status.pop("recent_anomalies", [])
        if not self.enabled:
            status["disabled"] = "predictions.enabled is false in the configuration"
        return self.json(
            {
                "ts": time.time(),
                "status": status,
                "anomalies": [prediction_json(p) for p in items if p.kind == "anomaly"],
                "recent_anomalies": recent,
                "forecasts": [prediction_json(p) for p in items if p.kind in FORECAST_KINDS],
                "advice": [prediction_json(p) for p in items if p.kind == "capacity"],
                "scores": {
                    k: {"score": s, "flag": f, "rate": r}
                    for k, (s, f, r) in sorted(store.anomaly_scores().items())
                },
            }
        )

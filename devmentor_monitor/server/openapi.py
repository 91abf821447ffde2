"""The OpenAPI 3.1 document for the embedded server; a test keeps it in step with the routes."""

from __future__ import annotations

from typing import Any

from .. import __version__

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_WINDOW = {"name": "window", "in": "query", "required": False,
           "description": "History window: a duration such as 5m, 1h, 24h (at most 7d).",
           "schema": {"type": "string", "example": "1h"}}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "devmentor-monitor", "version": __version__,
                 "description": "Health, metrics and service state of the DevMentor platform, "
                                "served by the monitor while it runs."},
        "paths": {
            "/health": {"get": {
                "summary": "The monitor's own health",
                "responses": {"200": _json("Monitor healthy", {"type": "object"}),
                              "503": _json("A source stopped or the host is not sampled",
                                           {"type": "object"})}}},
            "/metrics": {"get": {
                "summary": "Prometheus text exposition (devmentor_* metrics)",
                "responses": {"200": {"description": "Prometheus text format 0.0.4",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/api/services": {"get": {
                "summary": "Every watched service with status, latency, uptime and SLO",
                "responses": {"200": _json("Services", {"type": "object", "properties": {
                    "services": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Service"}},
                    "counts": {"type": "object"}}}),
                    "400": _ERROR}}},
            "/api/services/{name}": {"get": {
                "summary": "One service with its recent checks and latency history",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}}, _WINDOW],
                "responses": {"200": _json("Service", {"$ref": "#/components/schemas/Service"}),
                              "400": _ERROR, "404": _ERROR}}},
            "/api/metrics": {"get": {
                "summary": "Current host metrics; with window or series, their history",
                "parameters": [_WINDOW, {
                    "name": "series", "in": "query", "required": False,
                    "description": "Comma-separated series keys (cpu, memory, net_rx, "
                                   "disk:/, ...); default all.",
                    "schema": {"type": "string"}}],
                "responses": {"200": _json("Metrics", {"type": "object"}), "400": _ERROR}}},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _json("OpenAPI document", {"type": "object"})}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "properties": {"status": {"type": "integer"},
                                                 "reason": {"type": "string"},
                                                 "message": {"type": "string"}}}}},
            "Service": {"type": "object", "required": ["name", "status"], "properties": {
                "name": {"type": "string"},
                "url": {"type": "string"},
                "status": {"type": "string", "enum": ["unknown", "up", "degraded", "down"]},
                "latency_ms": {"type": "object"},
                "uptime_percent": {"type": "object"},
                "error_rate_percent_1h": {"type": ["number", "null"]},
                "slo": {"type": ["object", "null"]},
                "last_check": {"type": ["object", "null"]}}},
        }},
    }

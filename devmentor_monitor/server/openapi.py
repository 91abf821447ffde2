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


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _transition(verb: str) -> dict[str, Any]:
    return {"summary": f"{verb} an incident (operator role)", "parameters": [_ID],
            "security": [{"apiKey": []}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"comment": {"type": "string"}}}}}},
            "responses": {"200": _json(f"{verb}d", {"$ref": "#/components/schemas/Incident"}),
                          "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR,
                          "409": _ERROR}}


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
            "/api/alerts": {"get": {
                "summary": "Alert rules and each alert's state (inactive, pending, firing, "
                           "resolved)",
                "responses": {"200": _json("Rules and alerts", {"type": "object"}),
                              "400": _ERROR}}},
            "/api/incidents": {
                "get": {
                    "summary": "Incidents, newest first (open, acknowledged and resolved)",
                    "parameters": [
                        {"name": n, "in": "query", "required": False,
                         "schema": {"type": "string"}, "description": d}
                        for n, d in (("state", "open, acknowledged or resolved"),
                                     ("service", "service name"),
                                     ("severity", "low, medium, high or critical"),
                                     ("since", "Unix time, or a duration ago (1h, 7d)"),
                                     ("limit", "1-1000, default 200"))],
                    "responses": {"200": _json("Incidents", {"type": "object"}),
                                  "400": _ERROR}},
                "post": {
                    "summary": "Open an incident by hand (operator role)",
                    "security": [{"apiKey": []}],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewIncident"}}}},
                    "responses": {"201": _json("Opened, and on disk",
                                               {"$ref": "#/components/schemas/Incident"}),
                                  "400": _ERROR, "401": _ERROR, "403": _ERROR}}},
            "/api/incidents/{id}": {"get": {
                "summary": "One incident with its timeline",
                "parameters": [_ID],
                "responses": {"200": _json("Incident", {"$ref": "#/components/schemas/Incident"}),
                              "404": _ERROR}}},
            "/api/incidents/{id}/acknowledge": {"post": _transition("Acknowledge")},
            "/api/incidents/{id}/resolve": {"post": _transition("Resolve")},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _json("OpenAPI document", {"type": "object"})}}},
        },
        "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
                       "schemas": {
            "NewIncident": {"type": "object", "required": ["service", "description",
                                                           "severity"],
                            "additionalProperties": False, "properties": {
                "service": {"type": "string"}, "description": {"type": "string"},
                "severity": {"type": "string",
                             "enum": ["low", "medium", "high", "critical"]}}},
            "Incident": {"type": "object", "required": ["id", "service", "state"],
                         "properties": {"id": {"type": "string"},
                                        "service": {"type": "string"},
                                        "severity": {"type": "string"},
                                        "state": {"type": "string",
                                                  "enum": ["open", "acknowledged",
                                                           "resolved"]},
                                        "timeline": {"type": "array"}}},
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

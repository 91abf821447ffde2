"""The OpenAPI 3.1 document for the embedded server; a test keeps it in step with the routes.

Parameters and bodies are stated from the declarations the handlers enforce (params.Param,
the models' enums, the configured replica range), so the document cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devmentor_monitor import __version__
from devmentor_monitor.bus import TOPICS
from devmentor_monitor.config.schema import ROLES
from devmentor_monitor.custom.model import LABEL_NAME as CUSTOM_LABEL
from devmentor_monitor.custom.model import MAX_BATCH, MAX_NAME, MAX_VALUE, METRIC_NAME
from devmentor_monitor.events.model import EventSeverity
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.incidents.silence_book import MAX_COMMENT
from devmentor_monitor.incidents.silences import MAX_MATCHERS, MAX_REGEX
from devmentor_monitor.server.audit_api import QUERY as AUDIT_QUERY
from devmentor_monitor.server.history_api import METRICS_QUERY, RANGE_QUERY, SERIES_QUERY
from devmentor_monitor.server.incidents_api import LIST_QUERY, MAX_DESCRIPTION
from devmentor_monitor.server.keyring import NAME
from devmentor_monitor.server.keys_api import MAX_TTL
from devmentor_monitor.server.params import LIMIT, MAX_BODY, WINDOW, Param, choice, since, text
from devmentor_monitor.server.reports_api import QUERY as REPORT_QUERY
from devmentor_monitor.server.routes import PUBLIC, ROUTES, SCOPES
from devmentor_monitor.server.silences_api import DATE_TIME, DURATION, LABEL_NAME
from devmentor_monitor.server.silences_api import LIST_QUERY as SILENCES_QUERY
from devmentor_monitor.server.workloads_api import CONTAINER_ACTIONS, LOGS_QUERY

_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
# /api/events is served by streams.py with these same parsers and enums.
_EVENTS_QUERY = {
    "type": Param(str, text.schema, "type prefix, e.g. deploy."),
    "service": Param(str, text.schema, "service name"),
    "severity": choice(
        (s.value for s in EventSeverity), "at least: info, warning, error, critical"
    ),
    "since": since,
    "until": Param(since.parse, since.schema, "Unix time, or a duration ago (reads from disk)"),
    "limit": Param(LIMIT.parse, LIMIT.schema, "1-1000, default 100"),
}
_TOPIC = f"({'|'.join(TOPICS)})"


_SILENCED_BY = {  # the silence muting it, or null
    "type": ["object", "null"],
    "properties": {"id": {"type": "string"}, "comment": {"type": "string"}},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(params: dict[str, Param]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": p.schema,
            **({"description": p.description} if p.description else {}),
        }
        for name, p in params.items()
    ]


_WINDOW = _query({"window": WINDOW})[0]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _transition(verb: str) -> dict[str, Any]:
    return {
        "summary": f"{verb} an incident (operator role)",
        "parameters": [_ID],
        "security": [{"apiKey": []}],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"comment": {"type": "string", "maxLength": MAX_DESCRIPTION}},
                    }
                }
            },
        },
        "responses": {
            "200": _json(f"{verb}d", {"$ref": "#/components/schemas/Incident"}),
            "400": _ERROR,
            "401": _ERROR,
            "403": _ERROR,
            "404": _ERROR,
            "409": _ERROR,
            "415": _ERROR,
        },
    }


def _action(
    summary: str,
    params: list[dict[str, Any]],
    body: dict[str, Any] | None = None,
    also: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A container or cluster action: operator role, audited; ``also``: more error codes."""
    op: dict[str, Any] = {
        "summary": f"{summary} (operator role, audited)",
        "parameters": params,
        "security": [{"apiKey": []}],
        "responses": {
            "200": _json("Done", {"type": "object"}),
            "400": _ERROR,
            "401": _ERROR,
            "403": _ERROR,
            "404": _ERROR,
            "502": _ERROR,
            "503": _ERROR,
            **dict.fromkeys(also, _ERROR),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"]["415"] = _ERROR
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _kube_list(kind: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"Kubernetes {kind} in the configured namespace, with the source's state",
            "responses": {
                "200": _json(
                    kind.capitalize(),
                    {
                        "type": "object",
                        "properties": {
                            "source": {"$ref": "#/components/schemas/WorkloadSource"},
                            "namespace": {"type": "string"},
                            kind: {"type": "array"},
                        },
                    },
                ),
                "400": _ERROR,
            },
        }
    }


def _workload_paths(replicas: tuple[int, int]) -> dict[str, Any]:
    cid = _path("id", "container id, unambiguous id prefix (6+) or name")
    deployment = _path("name", "deployment name")
    return {
        "/api/containers": {
            "get": {
                "summary": "Containers with state, health, restarts, CPU, memory, I/O, and "
                "recent Docker events",
                "responses": {
                    "200": _json(
                        "Containers",
                        {
                            "type": "object",
                            "properties": {
                                "source": {"$ref": "#/components/schemas/WorkloadSource"},
                                "containers": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Container"},
                                },
                                "events": {"type": "array"},
                            },
                        },
                    ),
                    "400": _ERROR,
                },
            }
        },
        "/api/containers/{id}": {
            "get": {
                "summary": "One container",
                "parameters": [cid],
                "responses": {
                    "200": _json("Container", {"$ref": "#/components/schemas/Container"}),
                    "404": _ERROR,
                },
            }
        },
        "/api/containers/{id}/logs": {
            "get": {
                "summary": "The last lines of a container's output, fetched on demand",
                "parameters": [cid, *_query(LOGS_QUERY)],
                "responses": {
                    "200": _json("Log tail", {"type": "object"}),
                    "400": _ERROR,
                    "404": _ERROR,
                    "502": _ERROR,
                    "503": _ERROR,
                },
            }
        },
        "/api/containers/{id}/{action}": {
            "post": _action(
                "Start, stop or restart a container",
                [
                    cid,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(CONTAINER_ACTIONS)},
                    },
                ],
                also=("405",),
            )
        },
        "/api/kubernetes/pods": _kube_list("pods"),
        "/api/kubernetes/deployments": _kube_list("deployments"),
        "/api/kubernetes/nodes": _kube_list("nodes"),
        "/api/kubernetes/events": _kube_list("events"),
        "/api/kubernetes/deployments/{name}/restart": {
            "post": _action(
                "Rollout restart: patch the pod template's kubectl.kubernetes.io/restartedAt",
                [deployment],
            )
        },
        "/api/kubernetes/deployments/{name}/scale": {
            "post": _action(
                "Scale a deployment within MIN_REPLICAS..MAX_REPLICAS (400 outside)",
                [deployment],
                {
                    "type": "object",
                    "required": ["replicas"],
                    "additionalProperties": False,
                    "properties": {
                        "replicas": {
                            "type": "integer",
                            "minimum": replicas[0],
                            "maximum": replicas[1],
                        }
                    },
                },
            )
        },
        "/api/kubernetes/pods/{name}": {
            "delete": _action(
                "Delete a pod (its controller replaces it)", [_path("name", "pod name")]
            )
        },
    }


def _silence_paths() -> dict[str, Any]:
    sid = _path("id", "silence id (as listed), or a maintenance window's")
    silence = {"$ref": "#/components/schemas/Silence"}
    return {
        "/api/silences": {
            "get": {
                "summary": "Pending and active silences, newest first, then the maintenance "
                "windows open now (expired=true: expired ones too)",
                "parameters": _query(SILENCES_QUERY),
                "responses": {
                    "200": _json(
                        "Silences",
                        {
                            "type": "object",
                            "required": ["silences"],
                            "properties": {"silences": {"type": "array", "items": silence}},
                        },
                    ),
                    "400": _ERROR,
                },
            },
            "post": {
                "summary": "Create a silence (operator role, audited): what all its matchers "
                "match sends no notification until it ends; the creator is the key's name",
                "security": [{"apiKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewSilence"}}
                    },
                },
                "responses": {
                    "201": _json("Created, and on disk", silence),
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                    "415": _ERROR,
                },
            },
        },
        "/api/silences/{id}": {
            "get": {
                "summary": "One silence",
                "parameters": [sid],
                "responses": {"200": _json("Silence", silence), "404": _ERROR},
            },
            "delete": {
                "summary": "Expire a silence now (operator role, audited); 409 if it had "
                "ended or is a maintenance window from the config",
                "parameters": [sid],
                "security": [{"apiKey": []}],
                "responses": {
                    "200": _json("Expired", silence),
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                    "404": _ERROR,
                    "409": _ERROR,
                },
            },
        },
    }


def _silence_schemas() -> dict[str, Any]:
    date_time = {"type": "string", "format": "date-time", "pattern": f"^{DATE_TIME}$"}
    matcher = {
        "type": "object",
        "required": ["name", "value"],
        "additionalProperties": False,
        "description": "Alertmanager API v2: name = value, != (isEqual false), =~ (isRegex, "
        "anchored) or !~. Labels: service, rule, severity (and kind, subject, team).",
        "properties": {
            "name": {"type": "string", "pattern": f"^{LABEL_NAME}$"},
            "value": {"type": "string", "maxLength": MAX_REGEX},
            "isRegex": {"type": "boolean", "default": False},
            "isEqual": {"type": "boolean", "default": True},
        },
    }
    matchers = {"type": "array", "minItems": 1, "maxItems": MAX_MATCHERS, "items": matcher}
    return {
        "Matcher": matcher,
        "NewSilence": {
            "type": "object",
            "required": ["matchers", "comment"],
            "additionalProperties": False,
            "oneOf": [{"required": ["endsAt"]}, {"required": ["duration"]}],
            "properties": {
                "matchers": matchers,
                "startsAt": {**date_time, "description": "default now"},
                "endsAt": date_time,
                "duration": {**DURATION.schema, "description": DURATION.description},
                "comment": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_COMMENT,
                    "pattern": "\\S",
                },
            },
        },
        "Silence": {
            "type": "object",
            "required": [
                "id",
                "status",
                "matchers",
                "startsAt",
                "endsAt",
                "createdBy",
                "comment",
            ],
            "properties": {
                "id": {"type": "string"},
                "status": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "string", "enum": ["pending", "active", "expired"]}
                    },
                },
                "matchers": {"type": "array", "items": matcher},
                "startsAt": {"type": "string", "format": "date-time"},
                "endsAt": {"type": "string", "format": "date-time"},
                "createdBy": {"type": "string"},
                "comment": {"type": "string"},
                "createdAt": {"type": "string", "format": "date-time"},
            },
        },
    }


def _event_paths() -> dict[str, Any]:
    topics = {
        "name": "topics",
        "in": "query",
        "required": False,
        "description": f"Comma-separated: {', '.join(TOPICS)}",
        "schema": {"type": "string", "pattern": f"^{_TOPIC}(,{_TOPIC})*$"},
    }
    return {
        "/api/events": {
            "get": {
                "summary": "Platform events, newest first, with rejection counts and rates",
                "parameters": _query(_EVENTS_QUERY),
                "responses": {"200": _json("Events", {"type": "object"}), "400": _ERROR},
            }
        },
        "/api/events/stream": {
            "get": {
                "summary": "Server-Sent Events: live messages of the chosen topics"
                " (default events)",
                "parameters": [topics],
                "responses": {
                    "200": {
                        "description": "text/event-stream; event names are the "
                        "topics, plus 'dropped' when this client "
                        "fell behind",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "400": _ERROR,
                    "503": _ERROR,
                },
            }
        },
        "/ws": {
            "get": {
                "summary": 'WebSocket: send {"subscribe": [topics]}; receive JSON arrays of '
                "{topic, data}",
                "parameters": [topics],
                "responses": {
                    "101": {"description": "Switching to the WebSocket protocol"},
                    "400": _ERROR,
                    "503": _ERROR,
                },
            }
        },
        "/dashboard": {
            "get": {
                "summary": "A read-only HTML status page, updated live over SSE",
                "responses": {
                    "200": {
                        "description": "HTML",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _push_paths() -> dict[str, Any]:
    """POST /api/metrics (beside GET, documented in openapi_document) and heartbeats."""
    errors = dict.fromkeys(("400", "401", "403", "415", "422"), _ERROR)
    return {
        "post": {
            "summary": "Push custom metric samples (operator role): one, or a list of up to "
            f"{MAX_BATCH}, all taken or none. Exported on /metrics as devmentor_custom_<name> "
            "and kept in history as custom:<name>{labels}. 400: a bad name, label, value or "
            "ts (at most 1 h back, 5 min ahead), more labels than custom_metrics.max_labels, "
            "or one series (name and labels) twice at one ts (no ts: both now); "
            "422: a new series past custom_metrics.max_series or a label past "
            "max_values_per_label.",
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/CustomSample"},
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_BATCH,
                                    "items": {"$ref": "#/components/schemas/CustomSample"},
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    "Taken",
                    {
                        "type": "object",
                        "required": ["accepted", "series"],
                        "properties": {
                            "accepted": {"type": "integer"},
                            "series": {"type": "integer"},
                        },
                    },
                ),
                **errors,
                "503": _ERROR,
            },
        }
    }


_CUSTOM_SAMPLE = {
    "type": "object",
    "required": ["name", "value"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": f"^{METRIC_NAME}$", "maxLength": MAX_NAME},
        "value": {"type": "number"},
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": f"^{CUSTOM_LABEL}$"},
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE},
            "description": "At most custom_metrics.max_labels (10) labels.",
        },
        "ts": {"type": ["number", "null"], "description": "Unix seconds; null or absent: now."},
    },
}
_HEARTBEAT = {
    "post": {
        "summary": "A heartbeat service beat now (operator role): it is up, and down once no "
        "beat comes within its grace. 404: no such service; 409: a service checked at a url.",
        "security": [{"apiKey": []}],
        "parameters": [_path("name", "a service declared with heartbeat: {grace}")],
        "responses": {
            "200": _json(
                "Beat recorded",
                {
                    "type": "object",
                    "required": ["service", "ts", "status"],
                    "properties": {
                        "service": {"type": "string"},
                        "ts": {"type": "number"},
                        "status": {"type": "string"},
                    },
                },
            ),
            **dict.fromkeys(("400", "401", "403", "404", "409", "503"), _ERROR),
        },
    }
}


_KEY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": list(ROLES)},
        "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
        "created": {"type": "number"},
        "expires": {"type": ["number", "null"]},
        "revoked": {"type": ["number", "null"]},
    },
}


def _audit_paths() -> dict[str, Any]:
    entries = {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}
    return {
        "/api/audit": {
            "get": {
                "summary": "The audit trail, newest first (admin role): every write and "
                "action, allowed or refused, with who, from where and the outcome; refusals "
                "of a minute after the first are one row with a count. Rows are hash-chained: "
                "`devmentor-monitor audit verify` checks the chain.",
                "parameters": _query(AUDIT_QUERY),
                "responses": {
                    "200": _json(
                        "Audit entries",
                        {
                            "type": "object",
                            "required": ["entries"],
                            "properties": {"entries": entries},
                        },
                    ),
                    **dict.fromkeys(("400", "401", "403"), _ERROR),
                },
            }
        }
    }


_AUDIT_ENTRY = {
    "type": "object",
    "required": [
        "id",
        "ts",
        "time",
        "actor",
        "action",
        "target",
        "source",
        "outcome",
        "count",
        "hash",
    ],
    "properties": {
        "id": {"type": "integer", "description": "Its place in the hash chain"},
        "ts": {"type": "number", "description": "Unix seconds"},
        "time": {"type": "string", "format": "date-time"},
        "actor": {"type": "string", "description": "The key's name; anonymous without one"},
        "action": {"type": "string", "examples": ["incident.open", "container.restart"]},
        "target": {"type": "string", "description": "What it acted on; * for several"},
        "source": {"type": "string", "description": "Remote address, tui, or monitor"},
        "outcome": {"type": "string", "examples": ["ok", "denied: 401", "failed: timeout"]},
        "count": {"type": "integer", "minimum": 1, "description": "Attempts it stands for"},
        "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
}


def _keys_paths() -> dict[str, Any]:
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/keys": {
            "get": {
                "summary": "Managed API keys (never their secrets) and the configured keys' "
                "names and roles",
                "responses": {"200": _json("Keys", {"type": "object"})},
            },
            "post": {
                "summary": "Create a managed key; its secret is in this answer only",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name", "role"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {
                                        "type": "string",
                                        "pattern": NAME.pattern,
                                    },
                                    "role": {"type": "string", "enum": list(ROLES)},
                                    "expires_in": {
                                        "type": "number",
                                        "minimum": 1,
                                        "maximum": MAX_TTL,
                                    },
                                    "scopes": {
                                        "type": "array",
                                        "items": {"type": "string", "enum": list(SCOPES)},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        "Created: the secret is shown once",
                        {
                            **_KEY,
                            "properties": {**_KEY["properties"], "secret": {"type": "string"}},
                        },
                    ),
                    "400": _ERROR,
                    "409": _ERROR,
                    "415": _ERROR,
                },
            },
        },
        "/login": {
            "get": {
                "summary": "The dashboard's sign-in page",
                "responses": {
                    "200": {
                        "description": "HTML page",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/login": {
            "post": {
                "summary": "Exchange an API key for a dashboard session: a short-lived JWT "
                "in an HttpOnly, SameSite=Strict cookie (reads only)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["key"],
                                "additionalProperties": False,
                                "properties": {"key": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("Signed in; the session cookie is set", {"type": "object"}),
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                    "415": _ERROR,
                    "429": _RATE_LIMITED,
                },
            }
        },
        "/api/logout": {
            "post": {
                "summary": "End the dashboard session of this cookie",
                "responses": {"200": _json("Signed out", {"type": "object"})},
            }
        },
        "/api/keys/{name}": {
            "delete": {
                "summary": "Revoke a managed key (sessions made with it end too)",
                "parameters": [name],
                "responses": {"200": _json("The revoked key", _KEY), "404": _ERROR},
            }
        },
    }


def _secure(doc: dict[str, Any], open_reads: bool) -> dict[str, Any]:
    """Each operation's security requirement and role, from the route table (routes.py):
    public routes need nothing; reads need nothing when they are open (loopback bind or
    auth.anonymous_read); everything else a bearer key, an X-API-Key or a session."""
    key: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"session": []}]
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        op["x-required-role"] = route.role
        if route.role == PUBLIC:
            op["security"] = []
            continue
        op["security"] = [{}, *key] if route.role == "viewer" and open_reads else key
        op["responses"].setdefault("401", _ERROR)
        op["responses"].setdefault("403", _ERROR)
    return doc


def openapi_document(
    services: Sequence[str], replicas: tuple[int, int], open_reads: bool = True
) -> dict[str, Any]:
    """The document for this monitor: its services and replica range (min, max) too."""
    return _with_write_limits(_secure(_document(services, replicas), open_reads))


_RATE_LIMITED = {
    **_ERROR,
    "description": "Over the key's write rate (auth.write_rate, or auth.push_rate for pushed data)",
    "headers": {
        "Retry-After": {
            "description": "Whole seconds until the key may write again (at least 1)",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
_TOO_LARGE = {**_ERROR, "description": f"The body is over {MAX_BODY:,} bytes"}


def _with_write_limits(doc: dict[str, Any]) -> dict[str, Any]:
    """Every write (an operation needing a key) may be refused the same ways: 403 when the
    monitor runs read-only, 429 past the key's rate, 413 past the body limit."""
    for ops in doc["paths"].values():
        for method, op in ops.items():
            if method not in ("post", "put", "patch", "delete") or not op.get("security"):
                continue
            responses = op["responses"]
            responses.setdefault("403", _ERROR)
            responses["429"] = _RATE_LIMITED
            if "requestBody" in op:
                responses["413"] = _TOO_LARGE
    return doc


def _document(services: Sequence[str], replicas: tuple[int, int]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "devmentor-monitor",
            "version": __version__,
            "description": "Health, metrics and service state of the DevMentor platform, "
            "served by the monitor while it runs.",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "The monitor's own health",
                    "responses": {
                        "200": _json("Monitor healthy", {"type": "object"}),
                        "503": _json(
                            "A source stopped or the host is not sampled", {"type": "object"}
                        ),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus text exposition (devmentor_* metrics)",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/api/services": {
                "get": {
                    "summary": "Every watched service with status, latency, uptime and SLO",
                    "responses": {
                        "200": _json(
                            "Services",
                            {
                                "type": "object",
                                "properties": {
                                    "services": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Service"},
                                    },
                                    "counts": {"type": "object"},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/services/{name}": {
                "get": {
                    "summary": "One service with its recent checks and latency history",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _WINDOW,
                    ],
                    "responses": {
                        "200": _json("Service", {"$ref": "#/components/schemas/Service"}),
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/api/services/{name}/history": {
                "get": {
                    "summary": "A service's check history from history.db: per step the "
                    "checks, how many with the service up, how many failed, latency "
                    "min/avg/max; totals over the range; and the recent checks in full",
                    "parameters": [_path("name", "service name"), *_query(RANGE_QUERY)],
                    "responses": {
                        "200": _json("Check history", {"type": "object"}),
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/api/metrics": {
                "get": {
                    "summary": "Current host metrics; with window or series, their live "
                    "history; with since, until or step, any stored series over any range "
                    "from history.db, the tier chosen by the step (the answer names the "
                    "tier and the step it was read at; points are [ts, avg, min, max, count])",
                    "parameters": _query(METRICS_QUERY),
                    "responses": {"200": _json("Metrics", {"type": "object"}), "400": _ERROR},
                },
                **_push_paths(),
            },
            "/api/heartbeat/{name}": _HEARTBEAT,
            "/api/metrics/series": {
                "get": {
                    "summary": "The names of the series stored in history.db, sorted",
                    "parameters": _query(SERIES_QUERY),
                    "responses": {
                        "200": _json(
                            "Series names",
                            {
                                "type": "object",
                                "properties": {
                                    "prefix": {"type": "string"},
                                    "series": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/self": {
                "get": {
                    "summary": "The monitor's own cost: its CPU (share of one core), "
                    "resident memory, and each source's poll times over the last minute "
                    "(mean, max, its interval; slow: a poll took longer than the interval)",
                    "responses": {
                        "200": _json(
                            "Own cost",
                            {
                                "type": "object",
                                "required": ["cpu_ratio", "rss_bytes", "polls", "slow"],
                                "properties": {
                                    "cpu_ratio": {"type": ["number", "null"]},
                                    "rss_bytes": {"type": ["integer", "null"]},
                                    "polls": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": [
                                                "source",
                                                "count",
                                                "mean_s",
                                                "max_s",
                                                "interval_s",
                                                "slow",
                                            ],
                                            "properties": {
                                                "source": {"type": "string"},
                                                "count": {"type": "integer"},
                                                "mean_s": {"type": "number"},
                                                "max_s": {"type": "number"},
                                                "interval_s": {"type": "number"},
                                                "slow": {"type": "boolean"},
                                            },
                                        },
                                    },
                                    "slow": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/fleet": {
                "get": {
                    "summary": "The fleet as this instance sees it: mode (solo: no cluster; "
                    "member; fallback: Redis unreachable, this instance runs every check), "
                    "the live members with their API URL, start time and checks owned, the "
                    "leader and this instance's fencing token while it leads",
                    "responses": {
                        "200": _json(
                            "Fleet",
                            {
                                "type": "object",
                                "required": ["me", "mode", "members", "leader", "token", "reason"],
                                "properties": {
                                    "me": {"type": "string"},
                                    "mode": {"enum": ["solo", "member", "fallback"]},
                                    "members": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "url", "started", "checks"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "url": {"type": "string"},
                                                "started": {"type": "number"},
                                                "checks": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "leader": {"type": ["string", "null"]},
                                    "token": {"type": ["integer", "null"]},
                                    "reason": {"type": "string"},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Alert rules and each alert's state (inactive, pending, firing, "
                    "resolved), the incident holding it and why it is quiet (silenced, "
                    "inhibited by a dependency's incident, flapping)",
                    "responses": {
                        "200": _json(
                            "Rules and alerts",
                            {
                                "type": "object",
                                "required": ["rules", "alerts"],
                                "properties": {
                                    "rules": {"type": "array", "items": {"type": "object"}},
                                    "alerts": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Alert"},
                                    },
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/incidents": {
                "get": {
                    "summary": "Incidents, newest first (open, acknowledged and resolved)",
                    "parameters": _query(LIST_QUERY),
                    "responses": {"200": _json("Incidents", {"type": "object"}), "400": _ERROR},
                },
                "post": {
                    "summary": "Open an incident by hand (operator role)",
                    "security": [{"apiKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewIncident"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            "Opened, and on disk", {"$ref": "#/components/schemas/Incident"}
                        ),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "415": _ERROR,
                    },
                },
            },
            "/api/incidents/{id}": {
                "get": {
                    "summary": "One incident with its timeline, signals, dependents, "
                    "silence, who was notified when, and why it paged (or did not)",
                    "parameters": [_ID],
                    "responses": {
                        "200": _json("Incident", {"$ref": "#/components/schemas/IncidentDetail"}),
                        "404": _ERROR,
                    },
                }
            },
            "/api/incidents/{id}/acknowledge": {"post": _transition("Acknowledge")},
            "/api/incidents/{id}/resolve": {"post": _transition("Resolve")},
            "/api/predictions": {
                "get": {
                    "summary": "Current anomalies (and those ended in the last hour), forecasts "
                    "(disk, memory, leaks, error budgets) and capacity advice, each "
                    "with its explanation; per-series anomaly scores",
                    "responses": {
                        "200": _json(
                            "Predictions",
                            {
                                "type": "object",
                                "properties": {
                                    "status": {"type": "object"},
                                    "anomalies": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Prediction"},
                                    },
                                    "recent_anomalies": {"type": "array"},
                                    "forecasts": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Prediction"},
                                    },
                                    "advice": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Prediction"},
                                    },
                                    "scores": {"type": "object"},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/report": {
                "get": {
                    "summary": "The report `devmentor-monitor report` prints, over a period: "
                    "per service SLO compliance, uptime, error budget and worst latency hours; "
                    "incidents with time to acknowledge and resolve, top causes; "
                    "notification counts",
                    "parameters": _query(REPORT_QUERY),
                    "responses": {
                        "200": _json(
                            "Report",
                            {
                                "type": "object",
                                "required": ["since", "until", "services", "incidents"],
                                "properties": {
                                    "since": {"type": "number"},
                                    "until": {"type": "number"},
                                    "services": {"type": "array"},
                                    "incidents": {"type": "object"},
                                    "notifications": {"type": "array"},
                                },
                            },
                        ),
                        "400": _ERROR,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json("OpenAPI document", {"type": "object"})},
                }
            },
            **_silence_paths(),
            **_workload_paths(replicas),
            **_event_paths(),
            **_keys_paths(),
            **_audit_paths(),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "dm_session"},
            },
            "schemas": {
                **_silence_schemas(),
                "CustomSample": _CUSTOM_SAMPLE,
                "AuditEntry": _AUDIT_ENTRY,
                "NewIncident": {
                    "type": "object",
                    "required": ["service", "description", "severity"],
                    "additionalProperties": False,
                    "properties": {
                        "service": {"type": "string", "enum": list(services)},
                        "description": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_DESCRIPTION,
                            "pattern": "\\S",
                        },
                        "severity": {"type": "string", "enum": [s.value for s in Severity]},
                    },
                },
                "Incident": {
                    "type": "object",
                    "required": ["id", "service", "state"],
                    "properties": {
                        "id": {"type": "string"},
                        "service": {"type": "string"},
                        "severity": {"type": "string", "enum": [s.value for s in Severity]},
                        "state": {"type": "string", "enum": [s.value for s in IncidentState]},
                        "timeline": {"type": "array"},
                        "root_causes": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Cause"},
                        },
                    },
                },
                "IncidentDetail": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Incident"},
                        {
                            "type": "object",
                            "required": [
                                "signals",
                                "dependents",
                                "silenced_by",
                                "flapping",
                                "notifications",
                                "why_paged",
                            ],
                            "properties": {
                                "signals": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Signal"},
                                },
                                "dependents": {"type": "array", "items": {"type": "string"}},
                                "silenced_by": _SILENCED_BY,
                                "flapping": {"type": "boolean"},
                                "closing_note": {"type": "string"},
                                "group_key": {"type": "string"},
                                "page_at": {"type": ["number", "null"]},
                                "paged_at": {"type": ["number", "null"]},
                                "paged_channels": {"type": "array", "items": {"type": "string"}},
                                "notifications": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Notification"},
                                },
                                "why_paged": {"type": "string"},
                            },
                        },
                    ]
                },
                "Signal": {
                    "type": "object",
                    "required": ["kind", "rule", "service", "severity", "state"],
                    "properties": {
                        "kind": {"type": "string"},
                        "rule": {"type": "string"},
                        "subject": {"type": "string"},
                        "service": {"type": "string"},
                        "severity": {"type": "string", "enum": [s.value for s in Severity]},
                        "state": {"type": "string", "enum": ["firing", "cleared"]},
                        "outage": {"type": "boolean"},
                        "first_at": {"type": "number"},
                        "last_at": {"type": "number"},
                        "value": {"type": ["number", "null"]},
                        "threshold": {"type": ["number", "null"]},
                    },
                },
                "Notification": {
                    "type": "object",
                    "required": ["channel", "kind", "state"],
                    "properties": {
                        "channel": {"type": "string"},
                        "kind": {"type": "string"},
                        "state": {"type": "string", "enum": ["pending", "sent", "failed"]},
                        "created_at": {"type": "number"},
                        "sent_at": {"type": ["number", "null"]},
                        "attempts": {"type": "integer"},
                        "last_error": {"type": ["string", "null"]},
                    },
                },
                "Alert": {
                    "type": "object",
                    "required": ["rule", "subject", "state"],
                    "properties": {
                        "rule": {"type": "string"},
                        "subject": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": ["inactive", "pending", "firing", "resolved"],
                        },
                        "since": {"type": "number"},
                        "value": {"type": ["number", "null"]},
                        "threshold": {"type": ["number", "null"]},
                        "service": {"type": "string"},
                        "incident": {"type": ["string", "null"]},
                        "silenced_by": _SILENCED_BY,
                        "inhibited_by": {
                            "type": ["object", "null"],
                            "properties": {
                                "incident": {"type": "string"},
                                "service": {"type": "string"},
                            },
                        },
                        "flapping": {"type": "boolean"},
                    },
                },
                "BurnRate": {
                    "type": "object",
                    "properties": {
                        "pair": {"type": "string"},
                        "factor": {"type": "number"},
                        "long_window_s": {"type": "number"},
                        "short_window_s": {"type": "number"},
                        "long": {"type": ["number", "null"]},
                        "short": {"type": ["number", "null"]},
                        "burning": {"type": "boolean"},
                    },
                },
                "Prediction": {
                    "type": "object",
                    "required": ["kind", "subject", "explanation"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "enum": ["anomaly", "exhaustion", "leak", "error_budget", "capacity"],
                        },
                        "subject": {"type": "string"},
                        "service": {"type": ["string", "null"]},
                        "severity": {"type": "string"},
                        "score": {"type": "number"},
                        "title": {"type": "string"},
                        "explanation": {"type": "string"},
                        "started_at": {"type": "number"},
                        "value": {"type": ["number", "null"]},
                        "detail": {"type": "object"},
                    },
                },
                "Cause": {
                    "type": "object",
                    "properties": {
                        "subject": {"type": "string"},
                        "score": {"type": "number"},
                        "kinds": {"type": "array", "items": {"type": "string"}},
                        "evidence": {"type": "array", "items": {"type": "string"}},
                        "first_seen": {"type": ["number", "null"]},
                    },
                },
                "WorkloadSource": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "available": {"type": "boolean"},
                        "state": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
                "Container": {
                    "type": "object",
                    "required": ["id", "name", "state"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "image": {"type": "string"},
                        "state": {"type": "string"},
                        "health": {"type": ["string", "null"]},
                        "restart_count": {"type": "integer"},
                        "cpu_percent": {"type": ["number", "null"]},
                        "memory_bytes": {"type": ["integer", "null"]},
                        "memory_limit": {"type": ["integer", "null"]},
                        "service": {"type": ["string", "null"]},
                        "uptime_s": {"type": ["number", "null"]},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "integer"},
                                "reason": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["name", "status"],
                    "properties": {
                        "name": {"type": "string"},
                        "url": {"type": ["string", "null"]},
                        "status": {"type": "string", "enum": ["unknown", "up", "degraded", "down"]},
                        "stale": {
                            "type": "boolean",
                            "description": "no check yet since the start: status is the "
                            "last known, from the history",
                        },
                        "stale_at": {
                            "type": ["number", "null"],
                            "description": "when the check a stale status comes from ran",
                        },
                        "heartbeat": {
                            "type": "object",
                            "properties": {
                                "grace_s": {"type": "number"},
                                "last_beat": {"type": ["number", "null"]},
                            },
                        },
                        "latency_ms": {"type": "object"},
                        "uptime_percent": {"type": "object"},
                        "data_seconds": {
                            "type": ["number", "null"],
                            "description": "Seconds from the oldest check held (this run's "
                            "first, or the oldest restored from the history) to when the "
                            "figures were derived; null before the first check.",
                        },
                        "uptime_basis_seconds": {
                            "type": "object",
                            "description": "Per window (1h, 24h, 7d, 30d): the seconds of "
                            "data its uptime rests on, min(window, data_seconds). Below the "
                            "window, the figure covers only this span.",
                            "additionalProperties": {"type": ["number", "null"]},
                        },
                        "uptime_checks": {
                            "type": "object",
                            "description": "Per window: the checks its uptime counts.",
                            "additionalProperties": {"type": "integer"},
                        },
                        "error_rate_percent_1h": {"type": ["number", "null"]},
                        "slo": {
                            "type": ["object", "null"],
                            "description": "Targets, compliance and error budget over its "
                            "window (7d); basis_seconds: the seconds of data they rest on.",
                        },
                        "last_check": {"type": ["object", "null"]},
                        "flapping": {"type": "boolean"},
                        "flap_change_percent": {"type": "number"},
                        "burn_rates": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/BurnRate"},
                        },
                    },
                },
            },
        },
    }

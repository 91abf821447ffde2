"""Every route of the HTTP API in one table: method, path, handler, the role it needs,
and for writes the audit action a refusal is recorded under.

Roles: "public" (no credential: /health), "viewer" (reads: open on a loopback bind or with
auth.anonymous_read, else a key), "operator" (writes and actions), "admin" (key
management, the audit trail). The auth middleware enforces it, the OpenAPI document's
security requirements are generated from it, and the authz matrix test walks it.
"""

from __future__ import annotations

from typing import NamedTuple

PUBLIC = "public"


class Route(NamedTuple):
    method: str
    path: str
    handler: str  # "incidents.acknowledge" = IncidentsApi.acknowledge; "health" = Api.health
    role: str  # public, viewer, operator, admin
    audit: tuple[str, str] | None = None  # (action, target) templates over the path params

    @property
    def scope(self) -> str:
        """What a scoped key names to be let in: the first path segment after /api/
        ("incidents", "metrics", ...), the top one ("ws", "dashboard"), and "prometheus"
        for the exposition at /metrics (all the scrape token may read)."""
        parts = [p for p in self.path.split("/") if p]
        if parts[0] == "api" and len(parts) > 1:
            return parts[1]
        return "prometheus" if parts[0] == "metrics" else parts[0]


ROUTES: list[Route] = [
    Route("GET", "/health", "health", PUBLIC),
    Route("GET", "/metrics", "metrics", "viewer"),
    Route("GET", "/api/services", "services", "viewer"),
    Route("GET", "/api/services/{name}", "service", "viewer"),
    Route("GET", "/api/services/{name}/history", "history.service", "viewer"),
    Route("GET", "/api/metrics", "metrics_api", "viewer"),
    Route("POST", "/api/metrics", "push.push", "operator", ("metrics.push", "custom")),
    Route("POST", "/api/heartbeat/{name}", "push.heartbeat", "operator", ("heartbeat", "{name}")),
    Route("GET", "/api/metrics/series", "history.series", "viewer"),
    Route("GET", "/api/alerts", "alerts", "viewer"),
    Route("GET", "/api/self", "self_cost", "viewer"),
    Route("GET", "/api/fleet", "fleet", "viewer"),
    Route("GET", "/api/incidents", "incidents.list", "viewer"),
    Route("POST", "/api/incidents", "incidents.create", "operator", ("incident.open", "new")),
    Route("GET", "/api/incidents/{id}", "incidents.get", "viewer"),
    Route(
        "POST",
        "/api/incidents/{id}/acknowledge",
        "incidents.acknowledge",
        "operator",
        ("incident.acknowledge", "{id}"),
    ),
    Route(
        "POST",
        "/api/incidents/{id}/resolve",
        "incidents.resolve",
        "operator",
        ("incident.resolve", "{id}"),
    ),
    Route("GET", "/api/silences", "silences.list", "viewer"),
    Route("POST", "/api/silences", "silences.create", "operator", ("silence.create", "new")),
    Route("GET", "/api/silences/{id}", "silences.get", "viewer"),
    Route(
        "DELETE", "/api/silences/{id}", "silences.expire", "operator", ("silence.expire", "{id}")
    ),
    Route("GET", "/api/openapi.json", "openapi", "viewer"),
    Route("GET", "/api/predictions", "predictions.list", "viewer"),
    Route("GET", "/api/report", "reports.get", "viewer"),
    Route("GET", "/api/events", "streams.events", "viewer"),
    Route("GET", "/api/events/stream", "streams.sse", "viewer"),
    Route("GET", "/ws", "streams.ws", "viewer"),
    Route("GET", "/dashboard", "streams.dashboard", "viewer"),
    Route("GET", "/api/containers", "workloads.containers", "viewer"),
    Route("GET", "/api/containers/{id}", "workloads.container", "viewer"),
    Route("GET", "/api/containers/{id}/logs", "workloads.container_logs", "viewer"),
    Route(
        "POST",
        "/api/containers/{id}/{action}",
        "workloads.container_action",
        "operator",
        ("container.{action}", "{id}"),
    ),
    Route("GET", "/api/kubernetes/pods", "workloads.kube_list", "viewer"),
    Route("GET", "/api/kubernetes/deployments", "workloads.kube_list", "viewer"),
    Route("GET", "/api/kubernetes/nodes", "workloads.kube_list", "viewer"),
    Route("GET", "/api/kubernetes/events", "workloads.kube_list", "viewer"),
    Route(
        "POST",
        "/api/kubernetes/deployments/{name}/restart",
        "workloads.kube_restart",
        "operator",
        ("deployment.restart", "{name}"),
    ),
    Route(
        "POST",
        "/api/kubernetes/deployments/{name}/scale",
        "workloads.kube_scale",
        "operator",
        ("deployment.scale", "{name}"),
    ),
    Route(
        "DELETE",
        "/api/kubernetes/pods/{name}",
        "workloads.kube_delete_pod",
        "operator",
        ("pod.delete", "{name}"),
    ),
    Route("GET", "/login", "sessions.page", PUBLIC),
    Route("POST", "/api/login", "sessions.login", PUBLIC),
    Route("POST", "/api/logout", "sessions.logout", PUBLIC),
    Route("GET", "/api/audit", "audit.list", "admin"),
    Route("GET", "/api/keys", "keys.list", "admin"),
    Route("POST", "/api/keys", "keys.create", "admin", ("key.create", "new")),
    Route("DELETE", "/api/keys/{name}", "keys.revoke", "admin", ("key.revoke", "{name}")),
]

# What a scoped key may name: every route group that needs a credential.
SCOPES: tuple[str, ...] = tuple(sorted({r.scope for r in ROUTES if r.role != PUBLIC}))

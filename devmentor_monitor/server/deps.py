"""What the HTTP app is built from, and the typed keys it keeps them under.

The app gets the store (live state), the commands (every write), the queries (history on
disk, the rules) and these few settings: never the runtime. Like prometheus_client's
``registry=``, each part is handed in, so a test can build the app from a bare store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devmentor_monitor.aio import web
from devmentor_monitor.commands import Commands
from devmentor_monitor.config.schema import CustomMetrics, is_loopback
from devmentor_monitor.queries import Queries
from devmentor_monitor.store import Store

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import ApiKey, Config

SelfCheck = Callable[[], tuple[bool, list[str]]]  # → (healthy, problems) for /health


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The configuration values the API reads, and nothing else of the config."""

    host: str = "127.0.0.1"
    port: int = 3006
    metrics_cache: float = 1.0
    api_keys: tuple[ApiKey, ...] = ()
    anonymous_read: bool = False  # reads open off loopback too
    scrape_token: str | None = None  # accepted on /metrics only
    session_secret: str | None = None  # signs dashboard sessions; None: random per process
    session_ttl: float = 900.0
    tls: bool = False  # session cookies are Secure over TLS
    namespace: str = "devmentor"
    replicas: tuple[int, int] = (1, 10)  # scaling limits: min, max
    docker: bool = False  # configured, so a source exists (its state says if it is up)
    kubernetes: bool = False
    predictions: bool = True
    custom_metrics: CustomMetrics = field(default_factory=CustomMetrics)  # POST /api/metrics
    write_rate: tuple[float, int] = (20.0, 40)  # per key: writes a second, burst
    push_rate: tuple[float, int] = (200.0, 400)  # per key: pushes a second, burst

    @property
    def open_reads(self) -> bool:
        """Reads need no key: a loopback bind, or auth.anonymous_read."""
        return self.anonymous_read or is_loopback(self.host)

    @classmethod
    def from_config(cls, config: Config) -> ApiSettings:
        return cls(
            host=config.server.host,
            port=config.server.port,
            metrics_cache=config.server.metrics_cache,
            api_keys=config.api_keys,
            anonymous_read=config.anonymous_read,
            scrape_token=config.scrape_token,
            session_secret=config.session_secret,
            session_ttl=config.session_ttl,
            tls=config.server.tls is not None,
            namespace=config.kubernetes.namespace,
            replicas=(config.scaling.min_replicas, config.scaling.max_replicas),
            docker=config.docker.enabled,
            kubernetes=config.kubernetes.enabled,
            predictions=config.predictions.enabled,
            custom_metrics=config.custom_metrics,
            write_rate=(float(config.write_rate), config.write_burst),
            push_rate=(float(config.push_rate), config.push_burst),
        )


STORE = web.AppKey("store", Store)
COMMANDS = web.AppKey("commands", Commands)
QUERIES = web.AppKey("queries", Queries)
SETTINGS = web.AppKey("settings", ApiSettings)

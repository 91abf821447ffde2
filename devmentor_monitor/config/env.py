"""The environment overlay: the platform's documented variables on top of the file.

MONITORING_PORT, REDIS_URL, DATABASE_URL, EVENT_RETENTION, METRICS_RETENTION, AUTO_DISCOVER,
ALERT_CHANNELS, DEVMENTOR_API_KEYS, DEVMENTOR_SCRAPE_TOKEN, DEVMENTOR_SESSION_SECRET,
DOCKER_HOST, KUBERNETES_SERVICE_HOST,
AUTO_SCALE_ENABLED, MIN_REPLICAS and MAX_REPLICAS; SERVICES_CONFIG (which file) is read by
config.locate. An error names the variable: "environment MONITORING_PORT: ...".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from msgspec.structs import replace

from devmentor_monitor.config.reader import url_problem
from devmentor_monitor.config.yaml_lines import ConfigError
from devmentor_monitor.units import parse_duration

if TYPE_CHECKING:  # config imports this module to apply it
    from devmentor_monitor.config.schema import ApiKey, Config

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigError(f"environment {name}", None, "", f"must be true or false, got {raw!r}")


def _secret(name: str, raw: str) -> str:
    """A token or secret: 16 characters at least (the value itself is never echoed)."""
    value = raw.strip()
    if len(value) < 16:
        raise ConfigError(
            f"environment {name}", None, "", f"must be at least 16 characters, got {len(value)}"
        )
    return value


def env_int(name: str, raw: str, lo: int, hi: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise ConfigError(
            f"environment {name}", None, "", f"must be an integer from {lo} to {hi}, got {raw!r}"
        )
    return value


def _env_duration(name: str, raw: str) -> float:
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(f"environment {name}", None, "", str(exc)) from None
    if seconds <= 0:
        raise ConfigError(
            f"environment {name}", None, "", f"must be a positive duration, got {raw!r}"
        )
    return seconds


def apply_environment(cfg: Config, env: Mapping[str, str]) -> Config:
    """Apply the platform's documented variables on top of the file."""
    applied: list[str] = []

    def has(name: str) -> bool:
        if name in env:
            applied.append(name)
            return True
        return False

    if has("MONITORING_PORT"):
        cfg = replace(
            cfg,
            server=replace(
                cfg.server, port=env_int("MONITORING_PORT", env["MONITORING_PORT"], 1, 65535)
            ),
        )
    if has("REDIS_URL"):
        raw = env["REDIS_URL"].strip()
        problem = url_problem(raw, ("redis", "rediss", "unix")) if raw else None
        if problem:
            raise ConfigError("environment REDIS_URL", None, "", problem)
        cfg = replace(cfg, redis_url=raw or None)
    if has("DATABASE_URL"):
        raw = env["DATABASE_URL"].strip()
        problem = url_problem(raw, ("postgresql", "postgres")) if raw else None
        if problem:
            raise ConfigError("environment DATABASE_URL", None, "", problem)
        cfg = replace(cfg, storage_url=raw or None)
    if has("EVENT_RETENTION"):
        cfg = replace(
            cfg,
            retention=replace(
                cfg.retention, events=_env_duration("EVENT_RETENTION", env["EVENT_RETENTION"])
            ),
        )
    if has("METRICS_RETENTION"):
        cfg = replace(
            cfg,
            retention=replace(
                cfg.retention, metrics=_env_duration("METRICS_RETENTION", env["METRICS_RETENTION"])
            ),
        )
    if has("AUTO_DISCOVER"):
        cfg = replace(cfg, auto_discover=_env_bool("AUTO_DISCOVER", env["AUTO_DISCOVER"]))
    if has("ALERT_CHANNELS"):
        chans = tuple(c.strip() for c in env["ALERT_CHANNELS"].split(",") if c.strip())
        cfg = replace(cfg, alert_channels=chans)
    if has("DEVMENTOR_SCRAPE_TOKEN"):
        token = _secret("DEVMENTOR_SCRAPE_TOKEN", env["DEVMENTOR_SCRAPE_TOKEN"])
        cfg = replace(cfg, scrape_token=token)
    if has("DEVMENTOR_SESSION_SECRET"):
        secret = _secret("DEVMENTOR_SESSION_SECRET", env["DEVMENTOR_SESSION_SECRET"])
        cfg = replace(cfg, session_secret=secret)
    if has("DEVMENTOR_API_KEYS"):
        cfg = replace(cfg, api_keys=cfg.api_keys + _api_keys(env["DEVMENTOR_API_KEYS"]))
    if env.get("DOCKER_HOST", "").strip() and has("DOCKER_HOST"):
        cfg = replace(
            cfg, docker=replace(cfg.docker, enabled=True, host=env["DOCKER_HOST"].strip())
        )
    if (
        env.get("KUBERNETES_SERVICE_HOST")
        and not cfg.kubernetes.enabled
        and has("KUBERNETES_SERVICE_HOST")
    ):
        cfg = replace(cfg, kubernetes=replace(cfg.kubernetes, enabled=True, in_cluster=True))
    scaling = cfg.scaling
    if has("AUTO_SCALE_ENABLED"):
        scaling = replace(
            scaling, enabled=_env_bool("AUTO_SCALE_ENABLED", env["AUTO_SCALE_ENABLED"])
        )
    if has("MIN_REPLICAS"):
        scaling = replace(
            scaling, min_replicas=env_int("MIN_REPLICAS", env["MIN_REPLICAS"], 1, 10_000)
        )
    if has("MAX_REPLICAS"):
        scaling = replace(
            scaling, max_replicas=env_int("MAX_REPLICAS", env["MAX_REPLICAS"], 1, 10_000)
        )
    if scaling.min_replicas > scaling.max_replicas:
        raise ConfigError(
            "environment MIN_REPLICAS/MAX_REPLICAS",
            None,
            "",
            f"MIN_REPLICAS ({scaling.min_replicas}) is above MAX_REPLICAS ({scaling.max_replicas})",
        )
    return replace(
        cfg, scaling=scaling, overrides=cfg.overrides + tuple(f"env {n}" for n in applied)
    )


def _api_keys(raw: str) -> tuple[ApiKey, ...]:
    from devmentor_monitor.config.schema import (
        parse_api_keys_env,  # config imports this module: read at call time
    )

    return parse_api_keys_env(raw)

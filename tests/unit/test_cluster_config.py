"""The `cluster:` settings (issue 20): defaults, checks with file, line and key, and
`cluster.enabled` refused without a Redis to meet in or a shared store."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmentor_monitor.config.schema import ConfigError, load_config, parse_text


def test_defaults_solo() -> None:
    c = parse_text("services: []\n").cluster
    assert (c.enabled, c.id, c.advertise, c.heartbeat, c.lease) == (False, None, None, 2.0, 10.0)


def test_enabled_without_redis_names_the_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("services: []\ncluster:\n  enabled: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert (err.value.key, err.value.line) == ("cluster.enabled", 3)
    assert "needs redis.url (or REDIS_URL)" in str(err.value)
    assert str(path) in str(err.value)


def test_enabled_without_a_shared_store_names_the_key_and_line(tmp_path: Path) -> None:
    """Each instance's own SQLite file would give each its own incidents."""
    path = tmp_path / "services.yaml"
    path.write_text("services: []\ncluster:\n  enabled: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {"REDIS_URL": "redis://127.0.0.1:6379"})
    assert (err.value.key, err.value.line) == ("cluster.enabled", 3)
    assert "needs a shared store: storage.url (or DATABASE_URL) postgresql://" in str(err.value)


def test_urls_from_the_environment_are_enough(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(
        "services: []\ncluster:\n  enabled: true\n  id: web-1\n  heartbeat: 500ms\n  lease: 3s\n"
    )
    env = {"REDIS_URL": "redis://127.0.0.1:6379", "DATABASE_URL": "postgresql://db/monitor"}
    cfg = load_config(path, env)
    assert cfg.cluster.enabled
    assert (cfg.cluster.id, cfg.cluster.heartbeat, cfg.cluster.lease) == ("web-1", 0.5, 3.0)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("cluster:\n  id: 'web 1'\n", "cluster.id", "letters, digits and ._:@- only"),
        ("cluster:\n  heartbeat: 10ms\n", "cluster.heartbeat", "50ms or more"),
        ("cluster:\n  heartbeat: 2s\n  lease: 3s\n", "cluster.lease", "at least twice"),
        ("cluster:\n  advertise: ftp://x\n", "cluster.advertise", "scheme must be http"),
        ("cluster:\n  leader: true\n", "cluster.leader", ""),
    ],
)
def test_bad_values_are_named(text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_text(text)
    assert err.value.key == key
    assert message in err.value.message

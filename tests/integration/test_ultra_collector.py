"""`ultra` holds the cycle collector off during its start-up (cli.hold_collector: the
collections walked the start's long-lived objects for nothing, ~60 ms before the first
values) and runs it again once its runtime is up, or has failed to start: a dashboard left
without a collector would grow for as long as it runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devmentor_monitor.cli import UltraRuntime, hold_collector
from devmentor_monitor.config.schema import Config, load_config
from devmentor_monitor.storage.db import StorageError
from devmentor_monitor.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()  # the test's objects go back to the collector's generations
        if was:
            gc.enable()


def _config(tmp_path: Path, data_dir: Path) -> Config:
    path = tmp_path / "services.yaml"
    doc = {
        "storage": {"data_dir": str(data_dir)},
        "services": [{"name": "auth", "url": "http://127.0.0.1:9/health"}],
    }
    path.write_text(yaml.safe_dump(doc))
    return load_config(path, env={})


async def test_the_collector_runs_again_once_the_runtime_is_up(
    tmp_path: Path, collector: None
) -> None:
    config = _config(tmp_path, tmp_path / "data")
    hold_collector()
    assert not gc.isenabled()
    runtime = UltraRuntime(config, demo=False, serve=False, freeze=True)
    await runtime.start(Store(config))
    try:
        assert gc.isenabled()
    finally:
        await runtime.stop()


async def test_the_collector_runs_again_when_the_runtime_fails_to_start(
    tmp_path: Path, collector: None
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    config = _config(tmp_path, blocker)
    hold_collector()
    runtime = UltraRuntime(config, demo=False, serve=False, freeze=True)
    with pytest.raises(StorageError, match="cannot create its folder"):
        await runtime.start(Store(config))
    assert gc.isenabled()
    await runtime.stop()

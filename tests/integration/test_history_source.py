"""A history file that cannot be written shows as the "history" source (the header,
/health's sources) while the monitor keeps running, and clears once it can be again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.model import SourceState
from devmentor_monitor.runtime import Monitor

pytestmark = pytest.mark.integration


async def test_an_unwritable_history_is_a_source_state_not_a_crash(tmp_path: Path) -> None:
    doc = {"storage": {"data_dir": str(tmp_path / "data")}, "services": []}
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc))
    monitor = Monitor(load_config(path, env={}), serve=False)
    await monitor.start(require_server=False)
    try:
        history = tmp_path / "data" / "history.db"
        assert history.is_file()
        history.unlink()
        history.mkdir()  # not a database: every write fails until it goes

        def unavailable() -> bool:
            s = monitor.store.source("history")
            return s is not None and s.state is SourceState.UNAVAILABLE

        await eventually(unavailable, within=10, what="history: unavailable")
        status = monitor.store.source("history")
        assert status is not None
        assert "cannot write history.db" in status.describe(0)
        assert monitor._tasks  # everything else still runs

        shutil.rmtree(history)

        def recovered() -> bool:
            s = monitor.store.source("history")
            return s is not None and s.state is SourceState.OK

        await eventually(recovered, within=10, what="history: ok again")
        assert history.is_file()
    finally:
        await monitor.stop()

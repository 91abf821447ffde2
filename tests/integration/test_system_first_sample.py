"""Issue 19, real values fast: the host pane's first sample comes at once (not an interval
later), and its CPU figures are measured over a real window, as a busy process shows."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from support.waiting import eventually

from devmentor_monitor.model import SystemSample
from devmentor_monitor.observations import Observation
from devmentor_monitor.system.sampler import SystemSource

pytestmark = pytest.mark.integration


class Samples:
    """An intake that keeps the host samples it is given."""

    def __init__(self) -> None:
        self.samples: list[SystemSample] = []

    def observe(self, obs: Observation) -> None:
        if isinstance(obs, SystemSample):
            self.samples.append(obs)


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[bytes]]:
    """A process that keeps one core busy; killed by its PID."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield proc
    proc.kill()
    proc.wait()


async def test_the_first_host_sample_is_quick_and_its_cpu_is_real(busy) -> None:
    source = SystemSource(interval=30.0, processes_interval=30.0)
    sink = Samples()
    started = time.monotonic()
    task = asyncio.create_task(source.run(sink))
    await eventually(lambda: sink.samples, 5, "the first host sample")
    took = time.monotonic() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    first = sink.samples[0]
    assert took < 3.0  # an interval (30 s) would be far later
    assert len(sink.samples) == 1
    # A read right after the reader was made compared with nothing: 0 % for every process,
    # the busy one too (which keeps the top list from being all idle on a quiet host).
    assert max(p.cpu_percent for p in first.top_cpu) > 5.0, first.top_cpu
    assert first.cpu_percent > 0.0
    assert first.net_rx_rate is not None  # rates too: the prime read is their start

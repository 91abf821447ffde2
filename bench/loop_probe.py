"""Runs the monitor's CLI with a loop-hold probe in it: `python bench/loop_probe.py OUT -- ARGS`.

Once start-up is over (cli.freeze_startup), a task on the loop wakes every TICK_S and
records the loop thread's CPU time since its last turn (time.thread_time: a busy machine
does not stretch it), with the monotonic time it woke; gc.callbacks record each cycle
collection's generation, start, wall and thread-CPU duration. At exit (SIGTERM: the CLI's
own clean stop) both go to OUT as JSON, for a bench to cut to its window (CLOCK_MONOTONIC
is the same clock in every process). The CLI is the tree's on PYTHONPATH, as bench/ab.py
runs its base. Signals: SIGUSR1 times three full collections over what lives now (the
bench's window is over), SIGUSR2 appends what each generation holds, by type, to
OUT.gens. For a look inside (each changes what is measured): PROBE_CALLBACKS=1 (the
plain asyncio loop, each callback over 1 ms of CPU named), PROBE_SURVIVORS=1 (what
each gen-1 collection walks, by type), PROBE_GC_THRESHOLD=a,b,c, PROBE_REFREEZE=S
(collect and freeze again after S s), PROBE_DIAG=path/to/module.py (its install() runs
first: wrap what you want timed).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import signal
import sys
import time
from collections import deque
from typing import Any

TICK_S = 0.001


class Probe:
    """The ticks, collections and the rest, kept in memory until the exit."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []  # (monotonic at wake, CPU s since last)
        self.collections: list[
            tuple[int, float, float, float, int]
        ] = []  # gen, t0, wall, cpu, freed
        self._start = (0.0, 0.0)
        self.slow: list[tuple[float, float, str]] = []
        self.at_end: dict[str, Any] = {}
        self.survivors: dict[str, int] | None = {} if os.environ.get("PROBE_SURVIVORS") else None

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and self.survivors is not None and info["generation"] == 1:
            tally = self.survivors  # what a young collection is about to walk, by type
            for gen in (0, 1):
                for obj in gc.get_objects(generation=gen):
                    name = type(obj).__qualname__
                    tally[name] = tally.get(name, 0) + 1
        if phase == "start":
            self._start = (time.monotonic(), time.thread_time())
        else:
            t0, c0 = self._start
            self.collections.append(
                (
                    info["generation"],
                    t0,
                    time.monotonic() - t0,
                    time.thread_time() - c0,
                    info["collected"],
                )
            )

    async def ticker(self) -> None:
        last = time.thread_time()
        append = self.ticks.append
        while True:
            await asyncio.sleep(TICK_S)
            now = time.thread_time()
            append((time.monotonic(), now - last))
            last = now

    def full_pass(self) -> None:
        """On SIGUSR1 (the bench's window is over): what a full pass costs over the
        objects live now (three, thread CPU), and how many there are."""
        gen2 = len(gc.get_objects(generation=2))
        full = []
        for _ in range(3):
            c0 = time.thread_time()
            gc.collect()
            full.append(time.thread_time() - c0)
        self.at_end = {"gen2": gen2, "frozen": gc.get_freeze_count(), "full_pass_ms": full}

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(
                {
                    "ticks": self.ticks,
                    "collections": self.collections,
                    "slow": self.slow,
                    "survivors": self.survivors,
                    "at_end": self.at_end,
                },
                f,
            )


def _generations(path: str) -> None:
    """On SIGUSR2: what the collector's generations hold, by type (most first), appended
    to ``path`` as one JSON line."""
    counts = {}
    for gen in (0, 1, 2):
        tally: dict[str, int] = {}
        for obj in gc.get_objects(generation=gen):
            name = type(obj).__qualname__
            tally[name] = tally.get(name, 0) + 1
        top = sorted(tally.items(), key=lambda kv: -kv[1])[:25]
        big = sorted(
            (
                (len(o), type(o).__qualname__)
                for o in gc.get_objects(generation=gen)
                if isinstance(o, (list, dict, tuple, set, deque))
            ),
            reverse=True,
        )[:8]
        counts[f"gen{gen}"] = {"total": sum(tally.values()), "top": top, "big": big}
    counts["frozen"] = gc.get_freeze_count()
    counts["at"] = time.monotonic()
    with open(path, "a") as f:
        f.write(json.dumps(counts) + "\n")


def _refreeze_after(delay: float) -> None:
    def again() -> None:
        gc.collect()
        gc.freeze()

    asyncio.get_running_loop().call_later(delay, again)


def _time_callbacks(probe: Probe) -> None:
    """Each asyncio callback that takes over 1 ms of thread CPU, named (its task's
    coroutine, or the callback): (monotonic at end, CPU s, name)."""
    run = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        c0 = time.thread_time()
        run(handle)
        cpu = time.thread_time() - c0
        if cpu > 0.001:
            cb = handle._callback
            owner = getattr(cb, "__self__", None)
            if isinstance(owner, asyncio.Task):
                coro = owner.get_coro()
                name = getattr(coro, "__qualname__", repr(coro))
            else:
                name = getattr(cb, "__qualname__", repr(cb))
            probe.slow.append((time.monotonic(), cpu, name))

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


def main() -> int:
    out, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: loop_probe.py OUT -- ARGS"
    from devmentor_monitor import cli

    probe = Probe()
    tasks: list[asyncio.Task[None]] = []
    frozen = cli.freeze_startup

    def freeze_then_probe() -> None:
        frozen()
        if os.environ.get("PROBE_GC_THRESHOLD"):  # trying thresholds without an edit
            gc.set_threshold(*map(int, os.environ["PROBE_GC_THRESHOLD"].split(",")))
        if os.environ.get("PROBE_REFREEZE"):  # collect and freeze again after N s
            _refreeze_after(float(os.environ["PROBE_REFREEZE"]))
        gc.callbacks.append(probe.on_gc)
        loop = asyncio.get_running_loop()
        tasks.append(loop.create_task(probe.ticker()))
        loop.add_signal_handler(signal.SIGUSR2, _generations, out + ".gens")
        loop.add_signal_handler(signal.SIGUSR1, probe.full_pass)

    cli.freeze_startup = freeze_then_probe
    if os.environ.get("PROBE_DIAG"):  # a scratch module that wraps functions to time them
        sys.path.insert(0, os.path.dirname(os.environ["PROBE_DIAG"]))
        __import__(os.path.basename(os.environ["PROBE_DIAG"])[:-3]).install()
    if os.environ.get("PROBE_CALLBACKS"):  # plain asyncio, each callback over 1 ms named
        cli.run_fast = asyncio.run
        _time_callbacks(probe)
    atexit.register(probe.dump, out)
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())

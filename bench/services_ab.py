"""`/api/services` at 1,000 services under `--serve`, two trees side by side: scrape
times and what holds each one's event loop.

    .venv/bin/python bench/services_ab.py --base /work/main [--scrapes 1200] [--rounds 1]

One stub (`devmentor-monitor demo --count 1000`) serves every service; two `--serve -c`
processes of the same 1,000-service file (10 s checks, as bench/tui_fleet.py) run at once,
one per tree (PYTHONPATH, as bench/ab.py), each inside bench/loop_probe.py. Once both
have checked every service and WARMUP_S more passed, the scrapes alternate between them
over one keep-alive connection each, SCRAPE_GAP_S apart, so both see the same machine.
Per tree: scrape p50/p99/max, the process's CPU over the window, and from the probe the
loop's holds (thread CPU between two turns of a 1 ms ticker): how many over 1/2/4/8/16
ms, the share of the window's wall time spent in holds over 2 and 4 ms of CPU, the loop
busy %, the cycle collections by generation (count, median and max ms), the loop's CPU
during a scrape, and of the scrapes over SLOW_MS how many had the loop busy for half of
it (the rest waited for a core); after the window, three full collections timed over
what lives then. A noisy machine moves the wall p99; the CPU figures move much less:
``--fifo`` runs the servers and the client SCHED_FIFO (root). ``--env-base`` and
``--env-ours`` (K=V, repeatable) set a variable for one side only: loop_probe.py reads
PROBE_CALLBACKS (each callback over 1 ms, named), PROBE_GC_THRESHOLD, PROBE_REFREEZE.
Figures: bench/tui_fleet.py's docstring.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _common import cli, emit, free_port, host_info
from tui_fleet import _config, _get, _wait_checked, _wait_port

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
COUNT = 1000
WARMUP_S = 10.0
SCRAPE_GAP_S = 0.01
EDGES_MS = (1, 2, 4, 8, 16)
SLOW_MS = 5.0
FIFO_PRIORITY = 10


def _fifo() -> None:
    """SCHED_FIFO (needs root): the servers and this client run before the machine's
    other work, so what is left of a slow scrape is the code's."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))


def _start(
    tree: Path, cfg: Path, out: Path, state: Path, extra_env: dict[str, str], fifo: bool
) -> Any:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "XDG_STATE_HOME": str(state), **extra_env}
    state.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(BENCH / "loop_probe.py"), str(out), "--"]
    cmd += ["--serve", "-c", str(cfg), "--port", str(port)]
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        preexec_fn=_fifo if fifo else None,
    )
    return proc, port, log


def _ms(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "count": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))], 2),
        "max_ms": round(times[-1], 2),
    }


def _slow(probe: dict[str, Any], spans: list[tuple[float, float]]) -> dict[str, Any]:
    """The loop's CPU during each scrape (its ticks' CPU from the scrape's start to 1 ms
    after its end: the scrape's own work and whatever ran meanwhile), and the scrapes
    over SLOW_MS: a slow scrape with a busy loop waited for work; one with an idle loop
    waited for the machine (the server or the client not on a core)."""
    ticks = probe["ticks"]
    at = [t for t, _ in ticks]
    cpus, slow = [], []
    for start, took in spans:
        i, j = bisect.bisect_left(at, start), bisect.bisect_right(at, start + took + 0.001)
        cpu = sum(c for _, c in ticks[i:j]) * 1000
        cpus.append(cpu)
        if took * 1000 > SLOW_MS:
            slow.append((took * 1000, cpu))
    cpus.sort()
    return {
        "loop_cpu_p50_ms": round(statistics.median(cpus), 2),
        "loop_cpu_p90_ms": round(cpus[int(0.9 * (len(cpus) - 1))], 2),
        "over_ms": SLOW_MS,
        "count": len(slow),
        "loop_busy_over_half": sum(1 for took, cpu in slow if cpu > took / 2),
        "loop_cpu_median_ms": round(statistics.median(c for _, c in slow), 2) if slow else None,
    }


def _holds(probe: dict[str, Any], t0: float, t1: float) -> dict[str, Any]:
    gaps = [cpu * 1000 for at, cpu in probe["ticks"] if t0 <= at <= t1]
    wall_ms = (t1 - t0) * 1000
    out: dict[str, Any] = {
        "ticks": len(gaps),
        "busy_pct": round(100 * sum(gaps) / wall_ms, 1),
        "max_ms": round(max(gaps), 2) if gaps else None,
    }
    out["over_ms"] = {str(e): sum(1 for g in gaps if g > e) for e in EDGES_MS}
    for e in (2, 4):
        out[f"in_holds_over_{e}ms_pct"] = round(100 * sum(g for g in gaps if g > e) / wall_ms, 2)
    gcs: dict[str, Any] = {}
    for gen in (0, 1, 2):
        cpu = sorted(
            c * 1000 for g, at, _, c, *_ in probe["collections"] if g == gen and t0 <= at <= t1
        )
        gcs[f"gen{gen}"] = (
            {
                "count": len(cpu),
                "cpu_median_ms": round(statistics.median(cpu), 2),
                "cpu_max_ms": round(cpu[-1], 2),
                "cpu_total_ms": round(sum(cpu), 1),
            }
            if cpu
            else {"count": 0}
        )
    out["collections"] = gcs
    slow: dict[str, list[float]] = {}
    for at, cpu, name in probe.get("slow", []):
        if t0 <= at <= t1:
            slow.setdefault(name, []).append(cpu * 1000)
    if slow:  # PROBE_CALLBACKS=1: per callback over 1 ms, by name
        out["slow_callbacks"] = {
            name: {
                "count": len(v),
                "median_ms": round(statistics.median(v), 2),
                "max_ms": round(max(v), 2),
                "total_ms": round(sum(v), 1),
            }
            for name, v in sorted(slow.items(), key=lambda kv: -sum(kv[1]))
        }
    return out


def _round(args: argparse.Namespace, tmp: Path, cfg: Path, n: int) -> dict[str, Any]:
    sides = {"base": (Path(args.base), args.env_base), "ours": (ROOT, args.env_ours)}
    procs: dict[str, Any] = {}
    try:
        for name, (tree, env) in sides.items():
            out = tmp / f"{name}-{n}.json"
            env_d = dict(kv.split("=", 1) for kv in env)
            state = tmp / f"state-{name}-{n}"
            procs[name] = (*_start(tree, cfg, out, state, env_d, args.fifo), out)
        for _, port, _, _ in procs.values():
            _wait_port(port, 30)
        checked = {name: _wait_checked(port) for name, (_, port, _, _) in procs.items()}
        time.sleep(args.warmup)
        conns = {
            name: http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for name, (_, port, _, _) in procs.items()
        }
        order = list(procs) if n % 2 == 0 else list(reversed(procs))
        times: dict[str, list[float]] = {name: [] for name in procs}
        spans: dict[str, list[tuple[float, float]]] = {name: [] for name in procs}
        ps = {name: psutil.Process(p.pid) for name, (p, _, _, _) in procs.items()}
        cpu0 = {name: sum(p.cpu_times()[:2]) for name, p in ps.items()}
        t0 = time.monotonic()
        size = {}
        for _ in range(args.scrapes):
            for name in order:
                took, body = _get(conns[name], "/api/services")
                times[name].append(took * 1000)
                spans[name].append((time.monotonic() - took, took))
                size[name] = len(body)
                time.sleep(SCRAPE_GAP_S)
        t1 = time.monotonic()
        cpu = {name: sum(p.cpu_times()[:2]) - cpu0[name] for name, p in ps.items()}
        rss = {name: round(p.memory_info().rss / 2**20, 1) for name, p in ps.items()}
        for c in conns.values():
            c.close()
        for p, _, _, _ in procs.values():
            p.send_signal(signal.SIGUSR1)  # the probe times full passes over what lives
        time.sleep(1.0)
    finally:
        for p, _, _, _ in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _, log, _ in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            log.close()
    result: dict[str, Any] = {"window_s": round(t1 - t0, 1), "order": order}
    for name, (_, _, _, out) in procs.items():
        probe = json.loads(out.read_text())
        result[name] = {
            "all_checked_s": checked[name],
            "body_kib": round(size[name] / 1024, 1),
            "scrapes": _ms(times[name]),
            "cpu_pct": round(100 * cpu[name] / (t1 - t0), 1),
            "rss_mib": rss[name],
            "loop": _holds(probe, t0, t1),
            "slow_scrapes": _slow(probe, spans[name]),
            "at_end": {  # a full pass over what lives at the end (median of 3, CPU)
                "gen2_objects": probe["at_end"]["gen2"],
                "frozen": probe["at_end"]["frozen"],
                "full_pass_ms": round(statistics.median(probe["at_end"]["full_pass_ms"]) * 1000, 2),
            },
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other tree (its root)")
    parser.add_argument("--scrapes", type=int, default=1200, help="per side")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--warmup", type=float, default=WARMUP_S, help="seconds after all are checked"
    )
    parser.add_argument("--fifo", action="store_true", help="servers and client SCHED_FIFO")
    parser.add_argument("--env-base", action="append", default=[])
    parser.add_argument("--env-ours", action="append", default=[])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-services-ab-"))
    stub_port = free_port()
    stub = subprocess.Popen(
        [*cli(), "demo", "--count", str(COUNT), "--port", str(stub_port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result: dict[str, Any] = {
        "host": host_info(),
        "base": args.base,
        "ours": str(ROOT),
        "fifo": args.fifo,
    }
    try:
        _wait_port(stub_port)
        cfg = _config(tmp, COUNT, stub_port)
        if args.fifo:  # after the stub started: it stays at normal priority
            _fifo()
        result["rounds"] = [_round(args, tmp, cfg, n) for n in range(args.rounds)]
    finally:
        stub.send_signal(signal.SIGTERM)
        try:
            stub.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stub.kill()
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

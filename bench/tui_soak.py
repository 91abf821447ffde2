"""Flat memory: `ultra --demo` left running, its RSS sampled, the growth rate of the second half.

`devmentor-monitor ultra --demo --port <free>` runs in its own detached tmux server at
160x50 (tui_load.TmuxSession, XDG_STATE_HOME in a temp dir) for `--minutes` (default 30).
The pane's main python process's RSS is sampled every SAMPLE_S seconds. Reported: RSS at
start, mid and end; over the second half, the least-squares slope in MiB/h and end minus
mid. Target (issue 19): the second-half slope under 1 MiB/h, printed with met or missed.

Measured 2026-11-29, 30 min, main (8152613) and the memory work side by side on a loaded
host: second-half slope 3.50 -> 2.22 MiB/h (end minus mid 0.77 -> 0.68 MiB; the latter
run without bytecode, so ~2 MiB higher throughout). Still missed: what is left grows in
the anonymous maps (pymalloc's arenas; the malloc heap was flat, 13.31 -> 13.31 MiB),
while Python-level allocations stay flat (tracemalloc: bounded caches filling, rich's
cell widths, Textual's render caches). glibc's arenas are not it: M_ARENA_MAX 1 or 2
(mallopt, or MALLOC_ARENA_MAX at exec) and malloc_trim(0) moved RSS by 0.2-0.3 MiB.

Measured 2026-11-29 later, what grows, by mapping: `ultra --demo` 43 minutes with
/proc/<pid>/smaps read each minute, one of them with a thread logging sqlite3_db_status
per connection and pymalloc's arenas (sys._debugmallocstats). Second half (21-43 min),
two runs of main (0ea9867): RSS 1.52 / 0.65 MiB/h, of which pymalloc's arenas (anonymous
maps) 1.26 / 0.27, one thread's malloc arena 0.29 / 0.38, [heap] 0.02 / 0.00. That arena
is history.db's writer's page cache: it grew ~6 KiB a minute (62 KiB at start, 170 at 18
minutes) toward its 256 KiB cap; monitor.db's held 131,552 bytes all hour (SQLite's
default cap, 2,000 KiB, was not reached; its tables grow all day). tracemalloc, 10 -> 20
minutes: +0.2 MiB of Python objects, first the prediction engine's 30-minute trend windows
(a deque of tuples, ~100 B a point; 20 windows) and the host rings (rings.LIVE_SPAN: 16
B a point, in [heap], whose freed blocks are reused). Since then every connection's cache
is 128 KiB (storage/db.CACHE_KIB) and TrendWindow's arrays are allocated whole at the
start. Side by side, main and the branch started together in tmux 160x50 (second half):
41 min untouched: main 2.68, branch 2.61 MiB/h (history's thread arena 0.38 -> 0.12, [heap]
0.33 -> 0.18, pymalloc's arenas 1.93 -> 2.31); 42 min: 2.33 -> 1.10 (0.41 -> 0.15, 0.83 ->
0.30, 1.02 -> 0.65). This bench on the branch, --minutes 40: 2.93 MiB/h, missed (end minus
mid 0.84 MiB; the disturbed run 2.16). What is left is pymalloc's arenas: their RSS rises
as pools are first touched while the count of arenas stays (26 from ~15 minutes), and
Python-level allocations grow ~0.2 MiB in 10 minutes, mostly Textual's and rich's caches.
An HTTP request to ultra's port loads aiohttp (~10 MiB, then a settling): a soak must not
be touched there; the first pair above was (both sides alike, at ~16 min).

`--tracemalloc`: finds what grows. The same command runs under a small driver (this file,
`--traced-child`) that starts tracemalloc (TRACE_FRAMES frames) TRACE_AFTER_S into the run
(tracing start-up's imports makes it take ~10x longer, and only later allocations can
grow), then dumps a snapshot (after gc.collect) at `--first-snapshot` minutes (default 3;
several: "6,14") and at the end. The bench compares each earlier one with the last: the
top 15 lines by 'lineno' and the top 5 by 'traceback'. Bounded caches (rich's cell-width
LRU, Textual's render caches) fill over the first ~15 minutes, so a late first snapshot
shows what keeps growing. RSS under tracemalloc is inflated by its own bookkeeping, so in
that mode the slope is informative only and no target is judged.

Prints one JSON object; exit 1 if the target is missed or the run fails (including `ultra`
not exiting 0 on `q`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import _sigterm_to_exit, cli, emit, host_info

WIDTH, HEIGHT = 160, 50
SAMPLE_S = 10.0
MIB = 1024 * 1024
TARGET_MIB_PER_H = 1.0
TRACE_FRAMES = 10
TOP_LINENO = 15
TOP_TRACEBACK = 5
UP_DEADLINE_S = 30.0
TRACE_AFTER_S = 30.0


def slope_mib_per_h(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of (seconds, bytes) samples, in MiB per hour."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples)
    if den == 0:
        return None
    num = sum((t - mt) * (r - mr) for t, r in samples)
    return round(num / den * 3600 / MIB, 3)


def breakdown(proc: Any) -> dict[str, float]:
    """RSS by kind of mapping, MiB: the malloc heap, anonymous maps (Python's arenas,
    other threads' malloc arenas, stacks) and files (libraries' pages touched so far)."""
    out = {"heap": 0.0, "anon": 0.0, "files": 0.0}
    for m in proc.memory_maps(grouped=True):
        kind = {"[heap]": "heap", "[anon]": "anon"}.get(m.path, "files")
        out[kind] += m.rss / MIB
    return {k: round(v, 2) for k, v in out.items()}


def traced_child(argv: list[str]) -> int:
    """Run the monitor's CLI under tracemalloc; dump snapshots at the given minutes.

    argv: <snapshot-prefix> <minutes,minutes,...> -- <devmentor-monitor arguments>
    """
    import gc
    import tracemalloc

    prefix, at = argv[0], [float(m) for m in argv[1].split(",")]
    args = argv[argv.index("--") + 1 :]

    def dumper() -> None:
        t0 = time.monotonic()
        time.sleep(TRACE_AFTER_S)  # start-up untraced: growth is what is allocated later
        tracemalloc.start(TRACE_FRAMES)
        for i, minutes in enumerate(at):
            time.sleep(max(0.0, t0 + minutes * 60 - time.monotonic()))
            gc.collect()
            tracemalloc.take_snapshot().dump(f"{prefix}{i}")

    threading.Thread(target=dumper, daemon=True).start()
    from devmentor_monitor.cli import main

    return main(args)


def compare(first: Path, second: Path) -> dict[str, Any]:
    """Top growth between two dumped snapshots, by line and by traceback."""
    import tracemalloc

    a = tracemalloc.Snapshot.load(str(first))
    b = tracemalloc.Snapshot.load(str(second))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    a, b = a.filter_traces(ignore), b.filter_traces(ignore)
    by_line = b.compare_to(a, "lineno")
    by_tb = b.compare_to(a, "traceback")
    return {
        "traced_mib_first": round(sum(s.size for s in a.statistics("filename")) / MIB, 2),
        "traced_mib_second": round(sum(s.size for s in b.statistics("filename")) / MIB, 2),
        "top_lineno": [str(s) for s in by_line[:TOP_LINENO]],
        "top_traceback": [
            {
                "growth": f"{s.size_diff / 1024:+.1f} KiB, {s.count_diff:+d} blocks",
                "traceback": s.traceback.format(),
            }
            for s in by_tb[:TOP_TRACEBACK]
        ],
    }


def soak(args: argparse.Namespace) -> dict[str, Any]:
    from tui_load import PORT, TmuxSession, precompile, quit_session

    duration = args.minutes * 60
    result: dict[str, Any] = {
        "host": host_info(),
        "terminal": f"tmux {WIDTH}x{HEIGHT}",
        "minutes": args.minutes,
        "sample_s": SAMPLE_S,
        "tracemalloc": args.tracemalloc,
        # Modules compiled at start leave ~2 MiB more in the heap (tui_load.py): not ours.
        "bytecode_precompiled": precompile(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    session = TmuxSession("soak", tmp)
    cmd = [*cli(), "ultra", "--demo", "--port", PORT]
    snap = tmp / "snap"
    if args.tracemalloc:
        minutes = [*args.first_snapshot, args.minutes - 0.2]
        at = ",".join(f"{m:g}" for m in minutes)
        here = str(Path(__file__).resolve())
        cmd = [sys.executable, here, "--traced-child", str(snap), at, "--", *cmd[len(cli()) :]]
    samples: list[tuple[float, int]] = []
    maps: dict[str, dict[str, float]] = {}
    try:
        session.start(cmd)
        t_end = time.monotonic() + UP_DEADLINE_S
        while "incidents:" not in session.capture().split("\n", 1)[0]:
            if session.exit_code() is not None or time.monotonic() > t_end:
                raise RuntimeError(f"ultra did not start; screen:\n{session.capture()[-1500:]}")
            time.sleep(0.2)
        proc = session.main_process()
        result["pid"] = proc.pid
        t0 = time.monotonic()
        while True:
            elapsed = time.monotonic() - t0
            if session.exit_code() is not None or not proc.is_running():
                raise RuntimeError(f"ultra exited early after {elapsed:.0f} s")
            samples.append((elapsed, proc.memory_info().rss))
            for name, at in (("start", 0), ("mid", duration / 2), ("end", duration)):
                if name not in maps and elapsed >= at:
                    maps[name] = breakdown(proc)
            if elapsed >= duration:
                break
            time.sleep(max(0.0, min(SAMPLE_S, t0 + duration - time.monotonic())))
        if args.tracemalloc:
            files = [Path(f"{snap}{i}") for i in range(len(minutes))]
            while not files[-1].exists() and time.monotonic() - t0 < duration + 60:
                time.sleep(1)
            result["growth"] = {
                f"{a:g}-{minutes[-1]:g} min": compare(files[i], files[-1])
                for i, a in enumerate(minutes[:-1])
            }
        code, quit_s = quit_session(session)
        result["exit_code"], result["quit_s"] = code, quit_s
    finally:
        session.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    mid_t = duration / 2
    second = [(t, r) for t, r in samples if t >= mid_t]
    mid = second[0][1] if second else samples[-1][1]
    result["rss_mib"] = {
        "start": round(samples[0][1] / MIB, 2),
        "mid": round(mid / MIB, 2),
        "end": round(samples[-1][1] / MIB, 2),
        "max": round(max(r for _, r in samples) / MIB, 2),
    }
    result["rss_by_mapping_mib"] = maps
    result["samples"] = len(samples)
    slope = slope_mib_per_h(second)
    result["second_half"] = {
        "slope_mib_per_h": slope,
        "end_minus_mid_mib": round((samples[-1][1] - mid) / MIB, 2),
    }
    result["targets"] = {"second_half_slope_mib_per_h_max": TARGET_MIB_PER_H}
    met = slope is not None and slope < TARGET_MIB_PER_H
    result["meets_targets"] = {"second_half_slope_mib_per_h": None if args.tracemalloc else met}
    # Under tracemalloc the quit can outlast quit_session's 10 s: only plain runs judge it.
    result["ok"] = args.tracemalloc or (result.get("exit_code") == 0 and met)
    return result


def main() -> int:
    if sys.argv[1:2] == ["--traced-child"]:
        return traced_child(sys.argv[2:])
    _sigterm_to_exit()
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    p.add_argument("--tracemalloc", action="store_true", help="report top growth too")
    p.add_argument(
        "--first-snapshot",
        type=lambda v: [float(m) for m in v.split(",")],
        default=[3.0],
        help="minute(s) of the earlier snapshot(s), comma-separated; each is compared with "
        "the last, taken at the end (default 3)",
    )
    args = p.parse_args()
    try:
        result = soak(args)
    except Exception as exc:
        emit({"error": f"{type(exc).__name__}: {exc}", "ok": False})
        return 1
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Platform events ingested end to end: published → parsed → in the store → visible to views.

One redis-server (pub/sub output buffer unlimited, so a slow reader is measured, not cut
off). For each parser (pure Python, hiredis), side by side in the same run and in the
same order each round:

* bare: a plain redis-py asyncio subscriber (with that parser) that only counts messages;
  the reference the issue measured (~35,000/s pure Python, ~82,000/s hiredis);
* ours: `devmentor-monitor --serve` subscribed with `events.parser` set, counting what
  reached its store (`received` in /api/events, read by polling).

The publisher is `redis-benchmark` (C, pipelined) sending N copies of a ~200-byte event.
Rate = messages / (time of the last arrival - time of the first), per reader.
With --tui, `ultra` also runs in a tmux pane during one more ours-round and the header
clock is read every second: "redraws" counts the distinct clock values seen (a TUI that
still redraws once per tick shows one new value per second).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Children, cli, emit, free_port, get, host_info, wait_http

N = 200_000
ROUNDS = 2
PAYLOAD = json.dumps(
    {
        "type": "deploy.finished",
        "service": "auth-service",
        "severity": "info",
        "message": "rolled out v2.14.3 to 3 of 3 pods in eu-west-1 after canary passed",
        "ts": 1763790000.123,
        "data": {"version": "2.14.3", "by": "ci"},
    },
    separators=(",", ":"),
)
TARGETS = {"python": 30_000, "hiredis": 75_000}
WATCH_S = 8

BARE = r"""
import asyncio, sys, time
import redis.asyncio as aioredis
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser
port, n, parser = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
async def main():
    cls = _AsyncHiredisParser if parser == "hiredis" else _AsyncRESP2Parser
    r = aioredis.Redis(connection_pool=aioredis.ConnectionPool(port=port, parser_class=cls))
    ps = r.pubsub()
    await ps.subscribe("devmentor:events")
    await ps.get_message(timeout=1)
    print("ready", flush=True)
    got, first = 0, None
    while got < n:
        m = await ps.get_message(ignore_subscribe_messages=True, timeout=5)
        if m is None:
            break
        if first is None:
            first = time.monotonic()
        got += 1
    last = time.monotonic()
    print(got, first, last, flush=True)
asyncio.run(main())
"""


def publish(port: int, n: int) -> float:
    """Send n copies with redis-benchmark; returns its wall time."""
    t0 = time.monotonic()
    subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-n",
            str(n),
            "-P",
            "100",
            "-c",
            "2",
            "-q",
            "publish",
            "devmentor:events",
            PAYLOAD,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.monotonic() - t0


def bare_round(port: int, parser: str, n: int) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE, str(port), str(n), parser], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("bare subscriber did not start")
        publish(port, n)
        got, first, last = proc.stdout.readline().split()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {"received": int(got), "per_s": round(int(got) / (float(last) - float(first)))}


def received(url: str) -> int:
    return int(json.loads(get(url + "/api/events?limit=1"))["received"])


def ours_round(url: str, port: int, n: int) -> dict[str, Any]:
    start = received(url)
    samples: list[tuple[float, int]] = []
    pub = subprocess.Popen(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-n",
            str(n),
            "-P",
            "100",
            "-c",
            "2",
            "-q",
            "publish",
            "devmentor:events",
            PAYLOAD,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            got = received(url) - start
            samples.append((time.monotonic(), got))
            if got >= n:
                break
            if pub.poll() is not None and len(samples) > 50 and samples[-50][1] == got:
                break  # nothing for 5 s after the publisher finished
            time.sleep(0.1)
    finally:
        pub.wait(60)
    first = next((t for t, c in samples if c > 0), None)
    last_t, last_c = samples[-1]
    # the first sample with any count was taken up to 0.1 s after the first arrival
    rate = round(last_c / (last_t - first)) if first and last_t > first else None
    return {"received": last_c, "per_s": rate}


def start_monitor(
    kids: Children, tmp: Path, redis_port: int, parser: str, extra: list[str] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    cfg = tmp / f"services-{parser}.yaml"
    cfg.write_text(f"events:\n  parser: {parser}\n  memory: 10000\nservices: []\n")
    port = free_port()
    env_cmd = [
        "env",
        f"REDIS_URL=redis://127.0.0.1:{redis_port}",
        f"XDG_STATE_HOME={tmp / ('state-' + parser)}",
    ]
    proc = kids.start(
        f"ours-{parser}",
        [*env_cmd, *cli(), "--serve", "-c", str(cfg), "--port", str(port), *(extra or [])],
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/api/events", proc, kids)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health = json.loads(get(url + "/health"))
        redis = next((s for s in health["sources"] if s["name"] == "redis"), {"state": None})
        if redis["state"] == "ok":
            if parser not in redis["reason"]:
                raise RuntimeError(f"wanted the {parser} parser: {redis['reason']}")
            return url, proc
        time.sleep(0.1)
    raise RuntimeError(f"subscriber not connected: {kids.log_tail(proc)}")


def tui_round(tmp: Path, redis_port: int, n: int) -> dict[str, Any]:
    """ultra in tmux while n events arrive: distinct header clock values, one per second."""
    if shutil.which("tmux") is None:
        return {"error": "tmux not installed"}
    sock = f"bench-events-{os.getpid()}"
    cfg = tmp / "services-tui.yaml"
    cfg.write_text("services: []\n")
    port = free_port()
    cmd = (
        f"env REDIS_URL=redis://127.0.0.1:{redis_port} XDG_STATE_HOME={tmp / 'state-tui'} "
        f"{' '.join(cli())} ultra -c {cfg} --port {port}"
    )
    tmux = ["tmux", "-f", "/dev/null", "-L", sock]
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "50", cmd], check=True)
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True
            ).stdout

        deadline = time.monotonic() + 20
        while "redis: ok" not in screen() and time.monotonic() < deadline:
            time.sleep(0.2)
        pub = subprocess.Popen(
            [
                "redis-benchmark",
                "-p",
                str(redis_port),
                "-n",
                str(n),
                "-P",
                "100",
                "-c",
                "2",
                "-q",
                "publish",
                "devmentor:events",
                PAYLOAD,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        clocks: list[str] = []
        counts: list[int] = []
        t0 = time.monotonic()
        # Watch while the flood is being ingested (the monitor drains Redis's buffer after
        # the publisher is done), at least WATCH_S seconds.
        while time.monotonic() - t0 < 120:
            m = re.search(r"(\d\d:\d\d:\d\d)\s*$", screen().split("\n", 1)[0])
            clocks.append(m[1] if m else "")
            counts.append(received(url))
            if time.monotonic() - t0 >= WATCH_S and counts[-1] >= n:
                break
            time.sleep(max(0.0, t0 + len(clocks) - time.monotonic()))
        pub.wait(60)
        seconds = len(clocks)
        return {
            "seconds_watched": seconds,
            "events_received_while_watched": counts[-1],
            "received_per_second": [b - a for a, b in itertools.pairwise(counts)],
            "distinct_clock_values": len(set(clocks)),
            "redrawing_once_per_tick": seconds > 1 and len(set(clocks)) >= seconds - 1,
        }
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=N)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--tui", action="store_true", help="also check the TUI keeps redrawing")
    args = ap.parse_args()
    result: dict[str, Any] = {
        "host": host_info(),
        "messages": args.n,
        "payload_bytes": len(PAYLOAD),
        "targets_per_s": TARGETS,
    }
    if shutil.which("redis-server") is None or shutil.which("redis-benchmark") is None:
        result["error"] = "redis-server / redis-benchmark not installed"
        emit(result)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    redis_port = free_port()
    with Children() as kids:
        kids.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
                "--client-output-buffer-limit",
                "pubsub 0 0 0",
            ],
        )
        time.sleep(0.5)
        try:
            import hiredis  # noqa: F401

            parsers = ["python", "hiredis"]
        except ImportError:
            parsers = ["python"]
            result["hiredis"] = "not installed: pip install 'devmentor-monitor[fast]'"
        for parser in parsers:
            url, proc = start_monitor(kids, tmp, redis_port, parser)
            rounds = []
            for _ in range(args.rounds):
                rounds.append(
                    {
                        "bare_redis_py": bare_round(redis_port, parser, args.n),
                        "ours": ours_round(url, redis_port, args.n),
                    }
                )
            best = {k: max(r[k]["per_s"] or 0 for r in rounds) for k in rounds[0]}
            result[parser] = {
                "rounds": rounds,
                "best_per_s": best,
                "ours_vs_bare": round(best["ours"] / best["bare_redis_py"], 2),
                "meets_target": best["ours"] >= TARGETS[parser],
            }
            proc.terminate()
            proc.wait(10)
        if args.tui:
            result["tui"] = tui_round(tmp, redis_port, args.n)
    shutil.rmtree(tmp, ignore_errors=True)
    emit(result)
    return 0 if all(result[p]["meets_target"] for p in parsers) else 1


if __name__ == "__main__":
    sys.exit(main())

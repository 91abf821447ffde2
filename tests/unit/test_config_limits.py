"""Hostile and careless services files (issue 12, finding 7): YAML alias bombs, recursive
aliases and oversized files are refused quickly with file:line; a timeout must be shorter
than its interval; every problem in a file is reported in one run (up to a cap)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devmentor_monitor.config.schema import ConfigError, load_config

PROG = "devmentor-monitor"
LAUGHS = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
]
BOMB = "\n".join(LAUGHS) + "\n"  # 9^9 = 387 million strings once expanded, in ~370 bytes


def write(tmp_path: Path, text: str, name: str = "services.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> list[tuple[int | None, str, str]]:
    """(line, key, message) of every problem reported for the file."""
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return [(e.line, e.key, e.message) for e in info.value.errors]


def limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


def test_alias_bomb_is_refused_in_bounded_time_and_memory(tmp_path):
    assert len(BOMB) < 400
    write(tmp_path, BOMB, "bomb.yaml")
    env = {k: v for k, v in os.environ.items() if k != "SERVICES_CONFIG"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "config", "check", "bomb.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=limited_memory,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{PROG}: config error: bomb.yaml:")
    assert "aliases expand to over 10,000 values" in lines[0]


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: &a [*a]\n", 1, "a[0]"),
        (
            "services: &s\n  - name: x\n    url: http://h/\n    depends_on: *s\n",
            2,
            "services[0].depends_on",
        ),
    ],
    ids=["flow", "block"],
)
def test_recursive_alias_is_a_config_error_with_its_line(tmp_path, text, line, key):
    (got,) = errors(write(tmp_path, text))
    assert got[:2] == (line, key)
    assert "recursive alias" in got[2]


def test_recursive_alias_via_the_cli_exits_2_not_internal_error(tmp_path):
    write(tmp_path, "a: &a [*a]\n", "loop.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "config", "check", "loop.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"{PROG}: config error: loop.yaml:1: a[0]: recursive alias")
    assert "internal error" not in done.stderr


def test_deep_nesting_and_oversized_files_are_refused(tmp_path):
    deep = "a: " + "[" * 500 + "]" * 500 + "\n"
    (got,) = errors(write(tmp_path, deep))
    assert got[0] == 1
    assert "nested deeper than 64 levels" in got[2]
    big = write(tmp_path, "# padding\n" * 110_000, "big.yaml")  # 1.1 MB of comments
    assert errors(big) == [(None, "", "too large: over 1,048,576 bytes")]


SVC = "services:\n  - name: auth\n    url: http://127.0.0.1:1/health\n"


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (
            SVC + "    interval: 2s\n    timeout: 3s\n",
            5,
            "services.auth.timeout",
            "must be shorter than the interval (2s), got '3s'",
        ),
        (
            SVC + "    interval: 2s\n    timeout: 2s\n",
            5,
            "services.auth.timeout",
            "must be shorter than the interval (2s), got '2s'",
        ),
        (
            SVC + "    timeout: 15s\n",
            4,
            "services.auth.timeout",
            "must be shorter than the interval (10s, from intervals.health), got '15s'",
        ),
        (
            "intervals:\n  health: 2s\nhealth:\n  timeout: 5s\n" + SVC,
            4,
            "health.timeout",
            "must be shorter than intervals.health (2s), got '5s'",
        ),
    ],
    ids=["above", "equal", "default-interval", "defaults"],
)
def test_timeout_must_be_shorter_than_the_interval(tmp_path, text, line, key, message):
    assert errors(write(tmp_path, text)) == [(line, key, message)]


def test_an_inherited_timeout_is_cut_below_a_short_interval(tmp_path):
    cfg = load_config(write(tmp_path, SVC + "    interval: 1s\n"), env={})
    svc = cfg.service("auth")
    assert svc is not None
    assert svc.interval == 1.0
    assert svc.timeout < svc.interval


MANY = """\
server:
  port: 70000
bogus: 1
services:
  - name: auth
    url: http://127.0.0.1:1/health
    timeout: 15s
  - name: memory
    url: ftp://x/
    depends_on: [auth]
  - name: project
    url: http://127.0.0.1:2/health
    interval: 0s
  - name: fine
    url: http://127.0.0.1:3/health
    depends_on: [memory, project]
thresholds:
  cpu: {warn: 90, alert: 80}
"""


def test_every_error_in_a_file_is_reported_at_once(tmp_path):
    got = errors(write(tmp_path, MANY))
    assert [(line, key) for line, key, _ in got] == [
        (2, "server.port"),
        (3, "bogus"),
        (7, "services.auth.timeout"),
        (9, "services.memory.url"),
        (13, "services.project.interval"),
        (18, "thresholds.cpu"),
    ]  # in file order; `fine` is not blamed for depending on services with errors


def test_the_cli_prints_each_error_on_its_own_line_in_the_usual_format(tmp_path):
    write(tmp_path, MANY, "bad.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "config", "check", "bad.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 6, done.stderr
    assert lines[4] == (
        f"{PROG}: config error: bad.yaml:13: services.project.interval: "
        "must be a positive duration, got '0s'"
    )
    assert done.stdout == ""


def test_errors_are_capped(tmp_path):
    text = "services:\n" + "".join(
        f"  - name: s{i}\n    url: http://h/\n    interval: 0s\n" for i in range(30)
    )
    path = write(tmp_path, text)
    got = errors(path)
    assert len(got) == 20
    assert got[-1][1] == "services.s19.interval"
    done = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 21
    assert lines[-1].endswith("stopped after 20 errors; fix these and run again")


def test_a_loaded_config_keeps_no_yaml_nodes_behind(tmp_path):
    """The parser's nodes are dropped once the config is built: a 1,000-service file
    loaded (and its config discarded) three times leaves no memory held (the scalar
    nodes were kept: 2.4 MiB after one load of it, 4.4 MiB more after three)."""
    import gc
    import tracemalloc

    lines = ["services:"]
    for i in range(1000):
        lines += [f"  - name: svc-{i:04d}", f"    url: http://127.0.0.1:9/svc/{i}/health"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    load_config(path, env={})  # module-level caches filled before measuring
    tracemalloc.start()
    try:
        for _ in range(3):
            load_config(path, env={})
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 256 * 1024, f"{held / 2**20:.1f} MiB held after the configs were dropped"

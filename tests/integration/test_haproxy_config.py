"""deploy/haproxy/haproxy.cfg, the README's two-instance setup: HAProxy itself accepts the
file (`haproxy -c`), it balances the way tests/support/haproxy.py does for the fleet
tests, and run for real (its ports moved to free ones) in front of two real `--serve`
instances it sends requests to both, and after one is killed with SIGKILL every request
still answers, from the survivor."""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import haproxy as support_haproxy
from support.processes import stop_process
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
EXE = shutil.which("haproxy") or "/usr/sbin/haproxy"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(EXE).exists(), reason="haproxy not installed (scripts/setup)"),
]


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)


def directives(text: str) -> list[str]:
    """The file's directive lines, comments and blank lines dropped, spaces collapsed."""
    lines = (re.sub(r"#.*", "", line).split() for line in text.splitlines())
    return [" ".join(words) for words in lines if words]


def section(text: str, header: str) -> list[str]:
    """The directives of one section (`defaults`, `backend instances`, ...)."""
    out: list[str] | None = None
    for line in directives(text):
        if re.match(r"(global|defaults|frontend|backend|listen)\b", line):
            if out is not None:
                break
            if line == header:
                out = []
        elif out is not None:
            out.append(line)
    assert out is not None, f"no section {header!r}"
    return out


def test_haproxy_accepts_the_shipped_file() -> None:
    done = check(SHIPPED)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def test_the_check_refuses_a_broken_file(tmp_path: Path) -> None:
    """`haproxy -c` is not vacuous: a misspelt keyword in the file is refused."""
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(SHIPPED.read_text().replace("balance roundrobin", "balanse roundrobin"))
    done = check(broken)
    assert done.returncode != 0
    assert "balanse" in done.stdout + done.stderr


def test_it_balances_as_the_fleet_tests_do() -> None:
    """Round robin over instances checked on GET /health, expecting 200, with the support
    helper's timeouts: the fleet tests run what the README documents."""
    shipped = SHIPPED.read_text()
    backend = section(shipped, "backend instances")
    ours = [d for d in section(support_haproxy.CONFIG, "backend instances") if "{" not in d]
    assert ours == [
        "balance roundrobin",
        "option httpchk GET /health",
        "http-check expect status 200",
    ]
    assert [d for d in backend if not d.startswith(("server ", "default-server "))] == ours
    assert set(section(support_haproxy.CONFIG, "defaults")) <= set(section(shipped, "defaults"))
    servers = [d.split()[2] for d in backend if d.startswith("server ")]
    assert servers == ["127.0.0.1:3006", "127.0.0.1:3007"]  # the README's two instances
    assert "default-server check inter 2s fall 2 rise 2" in backend
    # loopback, like the instances it fronts (their reads are open to loopback clients)
    assert section(shipped, "frontend monitor")[0] == "bind 127.0.0.1:8080"


@contextlib.contextmanager
def shipped_haproxy(workdir: Path, backends: list[int]) -> Iterator[tuple[str, Path]]:
    """The shipped file, run for real (`-db`, in the foreground) with its three ports moved
    to free ones; yields its URL and log, and stops it by PID."""
    port = free_port()
    text = SHIPPED.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    for fixed, backend in zip((3006, 3007), backends, strict=True):
        text = text.replace(f"127.0.0.1:{fixed}", f"127.0.0.1:{backend}")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg, log = workdir / "haproxy.cfg", workdir / "haproxy.log"
    cfg.write_text(text)
    with log.open("wb") as out:
        proc = subprocess.Popen([EXE, "-f", str(cfg), "-db"], stdout=out, stderr=subprocess.STDOUT)
    try:

        def listening() -> bool:
            assert proc.poll() is None, f"haproxy exited: {log.read_text()}"
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True

        wait_until(listening, 10, what="haproxy to listen")
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop_process(proc, grace=5)


def test_two_instances_behind_it_and_one_killed(write_config, serve, wait, tmp_path) -> None:
    """Both instances answer through HAProxy, in turn; `kill -9` one and every request
    still gets its answer from the other (HAProxy retries it there), and the dead one leaves
    the rotation after two failed health checks."""
    down = f"http://127.0.0.1:{free_port()}/health"  # nothing listens: a down service
    procs = {}
    for name in ("alpha", "beta"):  # each instance watches a service named after it
        cfg = write_config([{"name": name, "url": down, "interval": "10s"}], name=f"{name}.yaml")
        procs[name] = serve("-c", str(cfg), "--data-dir", str(tmp_path / f"data-{name}"))
    backends = [procs["alpha"].port, procs["beta"].port]
    with shipped_haproxy(tmp_path / "haproxy", backends) as (url, log):

        def served_by() -> str:
            answer = httpx.get(url + "/api/services", timeout=10)
            assert answer.status_code == 200, answer.text
            (service,) = answer.json()["services"]
            return str(service["name"])

        # Round robin: consecutive requests alternate between the two instances.
        first = wait(served_by, 10, what="an answer through HAProxy")
        turns = [first] + [served_by() for _ in range(5)]
        assert set(turns) == {"alpha", "beta"}
        assert all(a != b for a, b in itertools.pairwise(turns)), turns
        procs["alpha"].signal(signal.SIGKILL)
        procs["alpha"].proc.wait(timeout=10)
        # No request lost, before HAProxy's checks notice (retried on the other: redispatch)
        assert [served_by() for _ in range(6)] == ["beta"] * 6
        # nor after: alpha is out of the rotation after two failed checks (~4 s).
        wait(
            lambda: re.search(r"Server instances/a is DOWN", log.read_text()),
            15,
            what="HAProxy to take alpha out",
        )
        assert [served_by() for _ in range(4)] == ["beta"] * 4

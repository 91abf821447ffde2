"""The container image as an operator builds and runs it: scripts/image and the Containerfile
with podman, then the image's default command, health check and volume.

No registry is reachable here, so the base is a Debian bookworm rootfs made with mmdebstrap
(python3, python3-venv) and `podman import`ed. The tarball is cached under .cache/ by the
command that makes it, and so are the dependency wheels (scripts/wheelhouse.py --cache).
Podman's config is tests/support/podman.py's, in a private storage that the test empties.
The container's port is published on a free loopback port through slirp4netns (user-mode
networking: no bridge, no host firewall rules); the recipe's default network is none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.podman import Podman
from support.processes import REPO
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MMDEBSTRAP = (
    "mmdebstrap",
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
    "bookworm",
)
BASE = "localhost/debian-python:local"
IMAGE = f"localhost/devmentor-monitor:test-{uuid.uuid4().hex[:8]}"
WHEEL_CACHE = REPO / ".cache" / "image-wheels"  # dependency wheels: ~8 s instead of ~30 s
OPERATOR = "container-operator-key-0123"  # a test key; the image has none of its own
SCRAPE = "container-scrape-token-0123"  # the scrape token: /metrics only


def base_rootfs() -> Path:
    """The Debian rootfs tarball, made once per mmdebstrap command (~30 s) and kept."""
    key = hashlib.sha256(" ".join(MMDEBSTRAP).encode()).hexdigest()[:16]
    tar = REPO / ".cache" / "container-base" / f"rootfs-{key}.tar"
    if tar.exists():
        return tar
    tar.parent.mkdir(parents=True, exist_ok=True)
    part = tar.with_name(f".{tar.stem}.{os.getpid()}.tar")  # .tar: mmdebstrap's format
    done = subprocess.run(
        [*MMDEBSTRAP, str(part)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        pytest.fail(f"mmdebstrap failed: {done.stderr[-1500:]}")
    part.rename(tar)
    return tar


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """Podman with the Debian base imported and the image built by scripts/image; all
    containers, volumes and images of its private storage are removed afterwards."""
    for tool in ("podman", "runc", "slirp4netns", "mmdebstrap"):
        if shutil.which(tool) is None:
            pytest.skip(f"cannot build the image: {tool} is not installed (scripts/setup --test)")
    podman = Podman(tmp_path_factory.mktemp("podman-image"))
    try:
        podman.podman("import", str(base_rootfs()), BASE, timeout=180)
        built = subprocess.run(
            ["scripts/image", "--base", BASE, "--tag", IMAGE],
            cwd=REPO,
            env={**podman.env, "PYTHON": sys.executable, "WHEEL_CACHE": str(WHEEL_CACHE)},
            capture_output=True,
            text=True,
            timeout=480,
            check=False,
        )
        assert built.returncode == 0, f"scripts/image failed:\n{built.stderr[-3000:]}"
        yield podman
    finally:
        for args in (
            ("rm", "-a", "-f", "-t", "0"),
            ("volume", "rm", "-a", "-f"),
            ("rmi", "-a", "-f"),
        ):
            try:
                podman.podman(*args, timeout=120)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"teardown: {exc}", file=sys.stderr)
        podman.unmount()
        shutil.rmtree(podman.root, ignore_errors=True)


def run(podman: Podman, name: str, port: int, volume: str, *extra: str) -> None:
    """The image's default command, as the Containerfile says to run it: API keys from the
    environment (it binds 0.0.0.0). Podman drives HEALTHCHECK with systemd timers, which
    this machine lacks: the test runs the check itself (`podman healthcheck run`)."""
    podman.podman(
        "run", "-d", "--init", "--name", name,
        "--network=slirp4netns", "-p", f"127.0.0.1:{port}:3006",
        "-v", f"{volume}:/data",
        "-e", f"DEVMENTOR_API_KEYS=ops:operator:{OPERATOR}",
        "-e", f"DEVMENTOR_SCRAPE_TOKEN={SCRAPE}",
        "--health-interval=disable",
        *extra, IMAGE,
    )  # fmt: skip


def healthy(podman: Podman, name: str, url: str) -> None:
    """Wait until /health answers 200 through the published port; on failure, show its log."""
    try:
        wait_until(
            lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200,
            timeout=60,
            interval=0.2,
            what=f"{name} answering /health",
        )
    except AssertionError as exc:
        logs = subprocess.run(
            ["podman", "logs", name], env=podman.env, capture_output=True, text=True, check=False
        )
        raise AssertionError(f"{exc}\n{(logs.stdout + logs.stderr)[-2000:]}") from None


def incident_ids(url: str) -> set[str]:
    r = httpx.get(
        f"{url}/api/incidents", headers={"Authorization": f"Bearer {OPERATOR}"}, timeout=5
    )
    r.raise_for_status()
    return {i["id"] for i in r.json()["incidents"]}


def test_image_is_non_root_serves_on_3006_with_a_health_check_and_a_data_volume(
    engine: Podman,
) -> None:
    image = json.loads(engine.podman("image", "inspect", IMAGE))[0]
    config = image["Config"]
    assert config["User"] not in ("", "root", "0")
    assert "3006/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert "--serve" in config["Cmd"]
    assert any("/health" in part for part in image["Healthcheck"]["Test"])  # --format docker


def test_default_command_refuses_0_0_0_0_without_api_keys(engine: Podman) -> None:
    done = subprocess.run(
        ["podman", "run", "--rm", "--network=none", "--health-interval=disable", IMAGE],
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no API keys" in done.stderr


def test_container_answers_health_serves_metrics_and_keeps_incidents_across_restarts(
    engine: Podman,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    volume = f"data-{uuid.uuid4().hex[:8]}"
    run(engine, "monitor-a", port, volume)
    healthy(engine, "monitor-a", url)

    engine.podman("healthcheck", "run", "monitor-a")  # the image's HEALTHCHECK; fails if not
    health = engine.podman("inspect", "--format", "{{.State.Health.Status}}", "monitor-a")
    assert health.strip() == "healthy"
    assert engine.podman("exec", "monitor-a", "id", "-u").strip() == "10001"
    # Off loopback reads need a credential too: none is a 401; the scrape token reads
    # /metrics (and nothing else).
    assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401
    scrape = {"Authorization": f"Bearer {SCRAPE}"}
    assert httpx.get(f"{url}/api/incidents", headers=scrape, timeout=5).status_code == 403
    metrics = httpx.get(f"{url}/metrics", headers=scrape, timeout=5)
    assert metrics.status_code == 200
    assert "devmentor_build_info{" in metrics.text
    assert "devmentor_host_cpu_ratio " in metrics.text  # psutil inside the container

    # Writes stay closed on the published port; the operator key from the environment opens one.
    body = {"service": "auth", "description": "kept in /data", "severity": "high"}
    assert httpx.post(f"{url}/api/incidents", json=body, timeout=5).status_code == 401
    opened = httpx.post(
        f"{url}/api/incidents",
        json=body,
        headers={"Authorization": f"Bearer {OPERATOR}"},
        timeout=5,
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()["id"]
    before = incident_ids(url)
    assert incident in before
    assert "monitor.db" in engine.podman("exec", "monitor-a", "ls", "/data").split()

    engine.podman("restart", "-t", "10", "monitor-a", timeout=60)
    healthy(engine, "monitor-a", url)
    assert before <= incident_ids(url)

    # A new container on the same volume: the incidents were in the volume, not the container.
    engine.podman("rm", "-f", "-t", "10", "monitor-a", timeout=60)
    run(engine, "monitor-b", port, volume)
    healthy(engine, "monitor-b", url)
    assert before <= incident_ids(url)
    detail = httpx.get(
        f"{url}/api/incidents/{incident}",
        headers={"Authorization": f"Bearer {OPERATOR}"},
        timeout=5,
    ).json()
    assert (detail["state"], detail["description"]) == ("open", "kept in /data")


def test_a_services_file_mounted_at_etc_is_the_one_it_reads(engine: Podman, tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text("services:\n  - name: web\n    url: http://127.0.0.1:9/health\n")
    config.chmod(0o644)  # the image's user is not the file's owner
    done = subprocess.run(
        [
            "podman", "run", "--rm", "--network=none", "--health-interval=disable",
            "-v", f"{config}:/etc/devmentor-monitor/services.yaml:ro",
            IMAGE, "config", "check",
        ],
        env=engine.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "/etc/devmentor-monitor/services.yaml: OK, 1 services" in done.stdout

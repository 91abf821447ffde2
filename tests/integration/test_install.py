"""Installed as an operator installs it, and run from `/`, far from the checkout: the wheel
built with the oldest setuptools pyproject.toml admits, into a fresh venv; and `pipx install`.
Nothing may come from the source tree: the default config and the themes are packaged."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import ServeProc
from support.tmux import Pane
from support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
ROOT = Path("/")
# A fresh venv installs every dependency (about 50 s here, several minutes on a loaded
# machine): the module's first test pays for it, under a timeout that allows for that.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# What a checkout holds that is not the project (and could hide a file missing from the
# wheel: a stale build/ once put deleted modules into it).
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", ".cache", "*.egg-info", "__pycache__", ".*_cache"
)


def setuptools_floor() -> str:
    """The lowest setuptools the build-system admits, e.g. '77.0.3'."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (spec,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=([\d.]+)", spec)
    assert match, f"build-system requires {spec!r}: a plain >= floor is what this test checks"
    return match.group(1)


def sh(*cmd: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: int = 300):
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"{proc.args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project without the checkout's leftovers."""
    dest = tmp_path_factory.mktemp("src") / "devmentor-monitor"
    shutil.copytree(REPO, dest, ignore=SKIP)
    return dest


@pytest.fixture(scope="module")
def pipx_job(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str], subprocess.Popen[str]] | None]:
    """`pipx install` of its own copy of the project, started at once so it runs beside the
    venv install below (two installs one after the other cost ~110 s of the suite)."""
    if shutil.which("pipx") is None:
        yield None
        return
    home = tmp_path_factory.mktemp("pipx")
    copy = home / "devmentor-monitor"
    shutil.copytree(REPO, copy, ignore=SKIP)
    env = {**os.environ, "PIPX_HOME": str(home / "home"), "PIPX_BIN_DIR": str(home / "bin")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(
        ["pipx", "install", "--python", sys.executable, str(copy)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield home, env, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory,
    source: Path,
    pipx_job: tuple[Path, dict[str, str], subprocess.Popen[str]] | None,
) -> Path:
    """A fresh venv holding the wheel built with the setuptools floor; its bin/ dir."""
    tmp = tmp_path_factory.mktemp("install")
    venv = tmp / "venv"
    ok(sh(sys.executable, "-m", "venv", venv))
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    ok(sh(*pip, "install", f"setuptools=={setuptools_floor()}"))
    ok(sh(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source))
    (wheel,) = (tmp / "dist").glob("devmentor_monitor-*.whl")
    ok(sh(*pip, "install", wheel, timeout=600))
    return venv / "bin"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An operator's environment: no SERVICES_CONFIG, their own empty config and state dirs."""
    drop = ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV")
    full = {k: v for k, v in os.environ.items() if k not in drop}
    full.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
    return full


def test_wheel_holds_the_package_alone(installed: Path, source: Path) -> None:
    site = next((installed.parent / "lib").glob("python3*/site-packages"))
    pkg = site / "devmentor_monitor"
    assert (pkg / "defaults" / "services.yaml").is_file()
    themes = sorted(p.stem for p in (pkg / "defaults" / "themes").glob("*.yaml"))
    assert themes == ["dark", "high-contrast", "light", "monochrome"]
    assert not (site / "tests").exists()
    assert not (site / "bench").exists()
    record = next(site.glob("devmentor_monitor-*.dist-info/RECORD")).read_text()
    modules = {line.split(",")[0] for line in record.splitlines()}
    project = {str(p.relative_to(source)) for p in (source / "devmentor_monitor").rglob("*.py")}
    assert {m for m in modules if m.endswith(".py")} == project  # no module left out or stale
    assert "License-Expression: MIT" in next(site.glob("devmentor_monitor-*/METADATA")).read_text()


def test_config_check_names_the_packaged_file_then_inits_one(
    installed: Path, env: dict[str, str], tmp_path: Path
) -> None:
    prog = installed / "devmentor-monitor"
    out = ok(sh(prog, "config", "check", env=env))
    first, second = out.splitlines()[:2]
    assert re.fullmatch(
        r"/.*/site-packages/devmentor_monitor/defaults/services\.yaml: OK, 5 services", first
    ), first
    assert second.startswith("found by: the packaged default")

    written = tmp_path / "config" / "devmentor-monitor" / "services.yaml"
    assert ok(sh(prog, "init", env=env)).strip() == f"wrote {written}"
    assert ok(sh(prog, "config", "check", env=env)).startswith(f"{written}: OK, 5 services\n")
    again = sh(prog, "init", env=env)
    assert again.returncode == 2
    assert "exists; pass --force" in again.stderr


def test_status_demo_from_root(installed: Path, env: dict[str, str]) -> None:
    out = ok(sh(installed / "devmentor-monitor", "status", "--demo", env=env, timeout=120))
    for name in ("auth", "memory", "ai-gateway", "project"):
        assert re.search(rf"\b{name}\s*│\s*UP\b", out), out
    assert "5 up, 0 down of 5 services" in out


def test_serve_demo_from_root_answers_health(
    installed: Path, env: dict[str, str], tmp_path: Path
) -> None:
    proc = ServeProc(
        ["--demo"],
        tmp_path / "serve.log",
        env,
        program=[str(installed / "devmentor-monitor")],
        cwd=ROOT,
    )
    try:
        proc.wait_ready(timeout=30)
        health = proc.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] in ("ok", "degraded")
        assert "devmentor_service_up" in proc.get("/metrics").text
    finally:
        proc.close()
    assert proc.proc.returncode == 0, proc.output()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup --test)")
def test_ultra_from_root_draws_with_the_packaged_themes(
    installed: Path, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    pane = Pane(
        f"cd / && exec {installed / 'devmentor-monitor'} ultra --demo --theme light",
        env,
        tmp_path / "tmux.sock",
    )
    try:
        wait_until(lambda: "ai-gateway" in pane.capture(), 30, what="the services pane")
        assert "no themes found" not in pane.capture()
        pane.press("q")
        wait_until(lambda: pane.capture() == "", 15, what="ultra to quit on q")
    finally:
        pane.kill()


@pytest.fixture(scope="module")
def pipx_bin(
    pipx_job: tuple[Path, dict[str, str], subprocess.Popen[str]] | None,
) -> Iterator[Path]:
    if pipx_job is None:
        pytest.skip("needs pipx (scripts/setup --test installs it)")
    home, env, proc = pipx_job
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"pipx install exited {proc.returncode}:\n{out[-3000:]}"
    yield home / "bin"
    sh("pipx", "uninstall", "devmentor-monitor", env=env)


def test_pipx_install_runs_from_anywhere(pipx_bin: Path, env: dict[str, str]) -> None:
    prog = pipx_bin / "devmentor-monitor"
    assert ok(sh(prog, "--version", env=env)).startswith("devmentor-monitor ")
    out = ok(sh(prog, "config", "check", env=env))
    assert "/devmentor_monitor/defaults/services.yaml: OK, 5 services" in out
    assert str(REPO) not in out

"""Which services file wins, user themes beside the packaged ones, and `init`: what an
operator sees when the monitor runs from somewhere other than the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devmentor_monitor.config.locate import LOOKUP_ORDER, locate_config, packaged_config
from devmentor_monitor.config.schema import load_config

ONE = "services:\n  - name: {name}\n    url: http://127.0.0.1:9/health\n"


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "SERVICES_CONFIG"}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """A services file at every step of the lookup order, each naming its own service."""
    xdg = tmp_path / "xdg"
    paths = {
        "flag": tmp_path / "flag.yaml",
        "env": tmp_path / "env.yaml",
        "cwd": tmp_path / "work" / "services.yaml",
        "xdg": xdg / "devmentor-monitor" / "services.yaml",
    }
    for name, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ONE.format(name=name), encoding="utf-8")
    return paths


def test_lookup_order_first_present_wins(places: dict[str, Path]) -> None:
    cwd = places["cwd"].parent
    env = {"SERVICES_CONFIG": str(places["env"]), "XDG_CONFIG_HOME": str(places["xdg"].parents[1])}
    steps = [
        (str(places["flag"]), env, "flag"),
        (None, env, "env"),
        (None, {"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"]}, "cwd"),
    ]
    for explicit, e, want in steps:
        found = locate_config(explicit, e, cwd)
        assert found.path == places[want], want
    places["cwd"].unlink()
    found = locate_config(None, {"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"]}, cwd)
    assert (found.path, found.found_by) == (places["xdg"], LOOKUP_ORDER[3])
    found = locate_config(None, {"XDG_CONFIG_HOME": str(cwd / "none")}, cwd)
    assert (found.path, found.found_by) == (packaged_config(), "the packaged default")


def test_named_file_is_used_even_when_missing_so_the_error_names_it(tmp_path: Path) -> None:
    found = locate_config(None, {"SERVICES_CONFIG": str(tmp_path / "gone.yaml")}, tmp_path)
    assert found.path == tmp_path / "gone.yaml"


def test_config_check_says_which_file_won(places: dict[str, Path]) -> None:
    cwd = places["cwd"].parent
    xdg = str(places["xdg"].parents[1])
    proc = run(cwd, "config", "check", XDG_CONFIG_HOME=xdg)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first == f"{places['cwd']}: OK, 1 services"
    assert second.startswith("found by: ./services.yaml (lookup order: --config, ")
    places["cwd"].unlink()
    proc = run(cwd, "config", "check", XDG_CONFIG_HOME=xdg)
    assert proc.stdout.startswith(f"{places['xdg']}: OK, 1 services\n"), proc.stderr
    assert "found by: $XDG_CONFIG_HOME/devmentor-monitor/services.yaml" in proc.stdout


def test_init_writes_a_starter_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    proc = run(tmp_path, "init", XDG_CONFIG_HOME=str(xdg))
    target = xdg / "devmentor-monitor" / "services.yaml"
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {target}"  # found from anywhere: no hint needed
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Written by `devmentor-monitor init`")
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) > 5  # commented
    names = [s.name for s in load_config(target, env={}).services]
    assert names == [s.name for s in load_config(packaged_config(), env={}).services]

    target.write_text("# mine\n" + ONE.format(name="mine"), encoding="utf-8")
    proc = run(tmp_path, "init", XDG_CONFIG_HOME=str(xdg))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"devmentor-monitor: error: {target} exists; pass --force to overwrite it"
    )
    assert target.read_text(encoding="utf-8").startswith("# mine")  # untouched
    assert run(tmp_path, "init", "--force", XDG_CONFIG_HOME=str(xdg)).returncode == 0
    assert target.read_text(encoding="utf-8") == text


def test_init_elsewhere_says_how_to_use_it(tmp_path: Path) -> None:
    proc = run(tmp_path, "init", "--path", "mine.yaml", XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mine.yaml").is_file()
    assert "pass --config mine.yaml" in proc.stdout

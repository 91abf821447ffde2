"""A service URL's password and token never reach a reader: the API, `status`, `config check`
(issue 12, finding 4). The service is a real HTTP server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PASSWORD, TOKEN = "pw5ecret", "abc123"
SECRETS = (PASSWORD, TOKEN, "hook-t0ken")


def secret_url(plain: str) -> str:
    """http://127.0.0.1:PORT/health → http://user:pw5ecret@127.0.0.1:PORT/health?token=..."""
    return plain.replace("http://", f"http://user:{PASSWORD}@") + f"?token={TOKEN}&probe=1"


def shown(plain: str) -> str:
    """How the URL must appear: user, host, port, path and the harmless parameter kept."""
    return plain.replace("http://", "http://user:***@") + "?token=***&probe=1"


@pytest.fixture
def config(fleet, write_config, fast) -> tuple[Path, str]:
    plain = fleet.urls["auth"]
    services = fast({"auth": secret_url(plain)})
    services[0]["recovery"] = {"webhook": "https://hooks.example.test/T0/B0/hook-t0ken"}
    return write_config(services), plain


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICES_CONFIG", "REDIS_URL")}
    env["XDG_STATE_HOME"] = str(cwd / "state")
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean(text: str, plain: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert shown(plain) in text


def test_api_services_hide_password_and_token(config, serve, wait):
    path, plain = config
    proc = serve("-c", str(path))
    wait(
        lambda: proc.get("/api/services/auth").json()["status"] == "up",
        10,
        what="auth checked up (the credentials did not get in the way)",
    )
    listing = proc.get("/api/services")
    one = proc.get("/api/services/auth")
    assert listing.json()["services"][0]["url"] == shown(plain)
    assert one.json()["url"] == shown(plain)
    assert_clean(listing.text, plain)
    assert_clean(one.text, plain)


@pytest.mark.parametrize("args", [("status", "--json"), ("status",)], ids=["json", "text"])
def test_status_hides_password_and_token(config, tmp_path, args):
    path, plain = config
    done = cli(*args, "-c", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
    if "--json" in args:
        assert_clean(done.stdout, plain)


def test_config_check_hides_password_token_and_webhook_path(config, tmp_path):
    path, plain = config
    done = cli("config", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_clean(done.stdout, plain)
    assert '"webhook": "https://hooks.example.test/***"' in done.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://u:p@h:1/x?token=t&a=1", "http://u:***@h:1/x?token=***&a=1"),
        ("https://tok@h/x", "https://***@h/x"),
        (
            "http://h/x?access_token=1&X-Amz-Signature=2&api_key=3&sig=4&page=5",
            "http://h/x?access_token=***&X-Amz-Signature=***&api_key=***&sig=***&page=5",
        ),
        ("http://h/x?client_secret=1#id_token=2", "http://h/x?client_secret=***#id_token=***"),
        ("redis://:s3cret@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("http://h:bad/x?token=1", "http://h:bad/x?token=***"),
    ],
)
def test_mask_url(url, expected):
    from devmentor_monitor.logs import mask, mask_url

    assert mask_url(url) == expected
    assert mask(f"failed: {url}.") == f"failed: {expected}."

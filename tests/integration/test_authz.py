"""Who may do what, walked from the route table (server/routes.py): every route x every
kind of credential x a loopback and a non-loopback bind, against real served monitors;
then the managed-key lifecycle through the API and the `keys` CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devmentor_monitor.server.routes import PUBLIC, ROUTES

pytestmark = pytest.mark.integration

KEYS = {
    "viewer": "viewer-key-0123456789abcdef",
    "operator": "operator-key-0123456789abcdef",
    "admin": "admin-key-0123456789abcdef",
}
SCRAPE = "scrape-token-0123456789abcdef"
PARAMS = {"id": "nope", "name": "nope", "action": "restart"}
CREDENTIALS = ("none", "wrong", "viewer", "operator", "admin", "expired", "revoked", "scrape")
RANK = {"viewer": 0, "operator": 1, "admin": 2}


def expected(role: str, cred: str, open_reads: bool, scope: str) -> str:
    """'ok' (any answer but 401/403), '401' or '403'."""
    if role == PUBLIC:
        return "ok"
    if cred in ("wrong", "expired", "revoked"):
        return "401"  # a credential we do not accept is refused, even where reads are open
    if cred == "none":
        return "ok" if role == "viewer" and open_reads else "401"
    if cred == "scrape":  # viewer, limited to /metrics
        return "403" if role != "viewer" or scope != "metrics" else "ok"
    return "ok" if RANK[cred] >= RANK[role] else "403"


def _config(write_config, fast, fleet) -> Path:
    keys = [{"name": f"{role}-key", "key": key, "role": role} for role, key in KEYS.items()]
    return write_config(fast(fleet.urls), auth={"keys": keys, "scrape_token": SCRAPE})


def _managed(proc) -> dict[str, str]:
    """An expired and a revoked managed key, made through the API with the admin key."""
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    made = {}
    for name, ttl in (("soon-expired", 1), ("revoked-one", None)):
        body = {"name": name, "role": "admin", **({"expires_in": ttl} if ttl else {})}
        r = httpx.post(f"{proc.url}/api/keys", json=body, headers=admin, timeout=10)
        assert r.status_code == 201, r.text
        made[name] = r.json()["secret"]
    r = httpx.delete(f"{proc.url}/api/keys/revoked-one", headers=admin, timeout=10)
    assert r.status_code == 200, r.text
    return {"expired": made["soon-expired"], "revoked": made["revoked-one"]}


def _status(client: httpx.Client, route, headers: dict[str, str]) -> int:
    path = route.path.format(**PARAMS)
    with client.stream(
        route.method,
        path,
        headers=headers,
        content=b"{}" if route.method == "POST" else None,
    ) as r:  # streams (SSE, WS) answer with headers first: the status is all we read
        return r.status_code


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_every_route_gives_each_credential_what_its_role_allows(
    bind, fleet, write_config, fast, serve, wait
):
    cfg = _config(write_config, fast, fleet)
    proc = serve("-c", str(cfg), "--host", bind)
    secrets = {**KEYS, **_managed(proc), "wrong": "not-a-key-0123456789abcdef", "scrape": SCRAPE}
    # the 1-second key has expired once the API refuses it
    wait(
        lambda: (
            proc.get(
                "/api/services", headers={"Authorization": f"Bearer {secrets['expired']}"}
            ).status_code
            == 401
        ),
        10,
        what="the 1-second key to expire",
    )
    open_reads = bind == "127.0.0.1"
    wrong = []
    with httpx.Client(base_url=proc.url, timeout=10) as client:
        for route in ROUTES:
            for cred in CREDENTIALS:
                headers = {} if cred == "none" else {"Authorization": f"Bearer {secrets[cred]}"}
                status = _status(client, route, headers)
                want = expected(route.role, cred, open_reads, route.scope)
                got = str(status) if status in (401, 403) else "ok"
                if got != want:
                    wrong.append(f"{route.method} {route.path} [{cred}]: {status}, want {want}")
    assert not wrong, "\n".join(wrong)
    # The table is the whole API: an undeclared path is a 404, never an open handler.
    assert proc.get("/api/undeclared").status_code == 404


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_key_lifecycle_create_use_revoke_refused_and_no_secret_on_disk(
    fleet, write_config, fast, serve, wait, tmp_path
):
    cfg = _config(write_config, fast, fleet)
    data = tmp_path / "data"
    proc = serve("-c", str(cfg), "--host", "0.0.0.0", "--data-dir", str(data))
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    # API: create (the secret once), use, list without secrets, revoke, refused.
    r = httpx.post(
        f"{proc.url}/api/keys",
        json={"name": "grafana", "role": "viewer", "scopes": ["metrics", "services"]},
        headers=admin,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert proc.get("/api/services", headers=bearer).status_code == 200
    assert proc.get("/metrics", headers=bearer).status_code == 200
    assert proc.get("/api/incidents", headers=bearer).status_code == 403  # not in its scopes
    listed = proc.get("/api/keys", headers=admin).json()
    assert [k["name"] for k in listed["keys"]] == ["grafana"]
    assert secret not in proc.get("/api/keys", headers=admin).text
    assert (
        httpx.post(
            f"{proc.url}/api/keys", json={"name": "grafana", "role": "admin"}, headers=admin
        ).status_code
        == 409
    )
    assert httpx.post(f"{proc.url}/api/keys", json={"name": "x"}, headers=admin).status_code == 400
    # an operator cannot manage keys
    assert (
        proc.get("/api/keys", headers={"Authorization": f"Bearer {KEYS['operator']}"}).status_code
        == 403
    )
    assert httpx.delete(f"{proc.url}/api/keys/grafana", headers=admin).status_code == 200
    refused = proc.get("/api/services", headers=bearer)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    # The CLI on the same data dir, beside the running monitor: create, seen, revoke, gone.
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    made = _cli(
        "keys",
        "-c",
        str(cfg),
        "--data-dir",
        str(data),
        "create",
        "ci",
        "--role",
        "operator",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    cli_secret = made.stdout.strip()
    assert cli_secret.startswith("dmk_")
    cli_bearer = {"Authorization": f"Bearer {cli_secret}"}
    wait(
        lambda: proc.get("/api/incidents", headers=cli_bearer).status_code == 200,
        10,
        what="the monitor to take the key the CLI made",
    )
    listed = _cli("keys", "-c", str(cfg), "--data-dir", str(data), "list", env=env)
    assert "ci" in listed.stdout
    assert cli_secret not in listed.stdout
    gone = _cli("keys", "-c", str(cfg), "--data-dir", str(data), "revoke", "ci", env=env)
    assert gone.returncode == 0, gone.stderr
    wait(
        lambda: proc.get("/api/incidents", headers=cli_bearer).status_code == 401,
        10,
        what="the monitor to refuse the key the CLI revoked",
    )
    # Only hashes on disk: neither secret is anywhere in the database files.
    for path in data.glob("monitor.db*"):
        blob = path.read_bytes()
        assert secret.encode() not in blob, path
        assert cli_secret.encode() not in blob, path

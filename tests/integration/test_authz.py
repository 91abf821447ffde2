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
    if cred == "scrape":  # viewer, limited to the exposition at /metrics
        return "403" if role != "viewer" or scope != "prometheus" else "ok"
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
        json={"name": "grafana", "role": "viewer", "scopes": ["prometheus", "services"]},
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


def test_refusals_name_the_key_stay_bounded_and_odd_keys_are_a_401(
    fleet, write_config, fast, serve
):
    """A refused write by a known key is audited under its name; a URL cannot mint new
    audit actions; a key that is not valid text is refused (401), never a 500."""
    cfg = _config(write_config, fast, fleet)
    proc = serve("-c", str(cfg), "--host", "0.0.0.0")
    viewer = {"Authorization": f"Bearer {KEYS['viewer']}"}
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    assert httpx.delete(f"{proc.url}/api/keys/someone", headers=viewer).status_code == 403
    for i in range(30):  # 30 distinct junk "actions": no new audit action names
        r = httpx.post(f"{proc.url}/api/containers/c/{'A' * 300}{i}", content=b"{}")
        assert r.status_code == 401
    rows = proc.get("/api/audit?limit=1000", headers=admin).json()["entries"]
    assert any(
        r["actor"] == "viewer-key" and r["action"] == "key.revoke" and r["outcome"] == "denied: 403"
        for r in rows
    ), rows
    assert {r["action"] for r in rows if r["action"].startswith("container.")} == {"container.*"}
    # the scrape token reads the exposition and nothing else
    scrape = {"Authorization": f"Bearer {SCRAPE}"}
    assert proc.get("/metrics", headers=scrape).status_code == 200
    assert proc.get("/api/metrics", headers=scrape).status_code == 403
    assert httpx.post(f"{proc.url}/api/login", json={"key": SCRAPE}).status_code == 403
    # a lone surrogate (a JSON escape) or a raw non-UTF-8 byte in a key: 401, no traceback
    odd = httpx.post(
        f"{proc.url}/api/login",
        content=b'{"key": "\\ud800abcdefghijklmnopq"}',
        headers={"Content-Type": "application/json"},
    )
    assert odd.status_code == 401, odd.text
    raw = httpx.get(
        f"{proc.url}/api/incidents", headers={"Authorization": b"Bearer ab\xff\xfecd-0123456789"}
    )
    assert raw.status_code == 401, raw.text
    # reserved and malformed names are refused for managed keys
    for name in ("anonymous", "scrape", "a/b", ""):
        made = httpx.post(
            f"{proc.url}/api/keys", json={"name": name, "role": "viewer"}, headers=admin
        )
        assert made.status_code == 400, (name, made.text)
    assert "Traceback" not in proc.output()

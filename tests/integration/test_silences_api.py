"""Silences through a real `--serve`: created, listed and expired over the API and with the
`silence` CLI against the same process; written only with an operator key; refused with
the reason when malformed; audited; on disk before the 201 (kept across kill -9)."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest
from support import headless

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration

OPERATOR = "op-key-0123456789abcdef"
VIEWER = "view-key-0123456789abcdef"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR},dash:viewer:{VIEWER}"}
AUTH = {"Authorization": f"Bearer {OPERATOR}"}
AUTH_SERVICE = {"name": "service", "value": "auth", "isRegex": False, "isEqual": True}


def audit_rows(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, outcome) of the silence rows, oldest first."""
    db = tmp_path / "state" / "devmentor-monitor" / "monitor.db"
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT actor, action, target, outcome FROM audit "
            "WHERE action LIKE 'silence.%' ORDER BY ts, rowid"
        ).fetchall()


def cli(tmp_path: Path, *args: str, key: str | None = OPERATOR, **env: str):
    """The real `devmentor-monitor silence ...` in a fresh interpreter; (result, modules)."""
    extra = {**env, **({"DEVMENTOR_API_KEY": key} if key else {})}
    base = headless.clean_env(tmp_path, **extra)
    if not key:
        base.pop("DEVMENTOR_API_KEY", None)
    return headless.run(["silence", *args], tmp_path / "modules.json", base, timeout=30)


def test_silence_lifecycle_over_the_api_and_the_cli(fleet, write_config, fast, serve, tmp_path):
    cfg = str(write_config(fast(fleet.urls)))
    proc = serve("-c", cfg, env=KEYS)
    api = proc.url + "/api/silences"
    assert httpx.get(api, timeout=5).json() == {"silences": []}

    # API: create → list → read → expire.
    r = httpx.post(
        api,
        headers=AUTH,
        timeout=5,
        json={"matchers": [AUTH_SERVICE], "duration": "2h", "comment": "auth deploy"},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    sid = made["id"]
    assert r.headers["location"] == f"/api/silences/{sid}"
    assert made["status"] == {"state": "active"}
    assert made["createdBy"] == "ops"  # from the key, never from the body
    assert made["matchers"] == [AUTH_SERVICE]
    assert made["endsAt"].endswith("Z")
    listed = httpx.get(api, timeout=5).json()["silences"]
    assert [s["id"] for s in listed] == [sid]
    assert httpx.get(f"{api}/{sid}", timeout=5).json()["comment"] == "auth deploy"

    r = httpx.delete(f"{api}/{sid}", headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["state"] == "expired"
    assert httpx.get(api, timeout=5).json()["silences"] == []
    assert [s["id"] for s in httpx.get(api + "?expired=true", timeout=5).json()["silences"]] == [
        sid
    ]
    again = httpx.delete(f"{api}/{sid}", headers=AUTH, timeout=5)
    assert again.status_code == 409
    assert "already expired" in again.json()["error"]["message"]
    missing = httpx.delete(f"{api}/nope", headers=AUTH, timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "status": 404,
        "reason": "Not Found",
        "message": "no silence 'nope'",
    }
    assert httpx.get(f"{api}/nope", timeout=5).status_code == 404

    # The CLI against the same process: --url, the key from $DEVMENTOR_API_KEY.
    done, modules = cli(
        tmp_path,
        "add",
        "--url",
        proc.url,
        "--match",
        "service=memory",
        "--match-re",
        "rule=burn_rate_.*",
        "--for",
        "30m",
        "--comment",
        "memory migration",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert headless.roots(modules, (*headless.VIEW_ONLY, *headless.SDKS, "aiohttp")) == []
    cli_made = json.loads(done.stdout)
    assert cli_made["createdBy"] == "ops"
    assert [m["isRegex"] for m in cli_made["matchers"]] == [False, True]
    # The default URL: the configured port (MONITORING_PORT here) on loopback.
    done, _ = cli(tmp_path, "list", "-c", cfg, MONITORING_PORT=str(proc.port))
    assert done.returncode == 0, done.stderr
    assert cli_made["id"] in done.stdout
    assert "memory migration" in done.stdout
    assert "service='memory' rule=~'burn_rate_.*'" in done.stdout
    done, _ = cli(tmp_path, "expire", "--url", proc.url, sid)
    assert done.returncode == 1
    assert "409 Conflict: silence" in done.stderr
    assert "already expired" in done.stderr
    # A refusal is one line and exit 1, with the server's reason.
    done, _ = cli(
        tmp_path,
        "add",
        "--url",
        proc.url,
        "--match",
        "service=auth",
        "--for",
        "1h",
        "--comment",
        "x",
        key=None,
    )
    assert done.returncode == 1
    assert "401 Unauthorized" in done.stderr
    assert "DEVMENTOR_API_KEY" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done, _ = cli(
        tmp_path,
        "add",
        "--url",
        proc.url,
        "--match-re",
        "service=(",
        "--for",
        "1h",
        "--comment",
        "x",
    )
    assert done.returncode == 1
    assert "400 Bad Request: matchers[0]: bad regex '('" in done.stderr
    done, _ = cli(
        tmp_path, "add", "--url", proc.url, "--match", "service", "--for", "1h", "--comment", "x"
    )
    assert done.returncode == 2
    assert "--match wants LABEL=VALUE" in done.stderr

    # Audited: every write, with who did it.
    rows = audit_rows(tmp_path)
    assert rows[0][:3] == ("ops", "silence.create", sid)
    assert rows[0][3].startswith("ok: service='auth' until ")
    assert ("ops", "silence.expire", sid, "ok") in rows
    assert ("ops", "silence.create", cli_made["id"]) in [r[:3] for r in rows]
    assert ("anonymous", "silence.create", "new", "denied: 401") in rows

    # On disk before the 201: a kill -9 right after loses nothing.
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(5)
    back = serve("-c", cfg, env=KEYS)
    kept = {s["id"]: s for s in back.get("/api/silences?expired=true").json()["silences"]}
    assert kept[cli_made["id"]]["status"]["state"] == "active"
    assert kept[sid]["status"]["state"] == "expired"
    done, _ = cli(tmp_path, "expire", "--url", back.url, cli_made["id"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"expired {cli_made['id']}"
    assert back.get("/api/silences").json()["silences"] == []


BAD_BODIES = [
    (
        {
            "matchers": [{"name": "service", "value": "(", "isRegex": True}],
            "duration": "1h",
            "comment": "x",
        },
        "matchers[0]: bad regex '(': missing ), unterminated subpattern",
    ),
    ({"matchers": [], "duration": "1h", "comment": "x"}, "matchers must be a non-empty list"),
    (
        {"matchers": [AUTH_SERVICE], "duration": "2 hours", "comment": "x"},
        "duration: malformed duration '2 hours'",
    ),
    ({"matchers": [AUTH_SERVICE], "duration": "400d", "comment": "x"}, "between 1s and 366d"),
    ({"matchers": [AUTH_SERVICE], "comment": "x"}, "give either endsAt"),
    (
        {
            "matchers": [AUTH_SERVICE],
            "duration": "1h",
            "endsAt": "2030-01-01T00:00:00Z",
            "comment": "x",
        },
        "give either endsAt",
    ),
    (
        {"matchers": [AUTH_SERVICE], "endsAt": "2020-01-01T00:00:00Z", "comment": "x"},
        "endsAt 2020-01-01T00:00:00Z is not in the future",
    ),
    (
        {"matchers": [AUTH_SERVICE], "endsAt": "2030-01-01 00:00", "comment": "x"},
        "endsAt must be an ISO 8601 date-time with an offset",
    ),
    (
        {
            "matchers": [{"name": "service", "value": ".*", "isRegex": True}],
            "duration": "1h",
            "comment": "x",
        },
        "at least one matcher must not match an empty or missing label",
    ),
    (
        {"matchers": [{"name": "ser vice", "value": "a"}], "duration": "1h", "comment": "x"},
        "matchers[0]: name must be a label name",
    ),
    (
        {"matchers": [{**AUTH_SERVICE, "op": "="}], "duration": "1h", "comment": "x"},
        "matchers[0]: unknown field(s) op",
    ),
    ({"matchers": [AUTH_SERVICE], "duration": "1h", "comment": "  "}, "comment must be"),
    (
        {"matchers": [AUTH_SERVICE], "duration": "1h", "comment": "x", "createdBy": "eve"},
        "unknown field(s) createdBy",
    ),
]


def test_writes_need_an_operator_key_and_bad_bodies_say_why(fleet, write_config, fast, serve):
    proc = serve("-c", str(write_config(fast(fleet.urls))), env=KEYS)
    api = proc.url + "/api/silences"
    body = {"matchers": [AUTH_SERVICE], "duration": "1h", "comment": "x"}
    for key, status in ((None, 401), ("wrong-key-0123456789abcdef", 401), (VIEWER, 403)):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx.post(api, json=body, headers=headers, timeout=5)
        assert r.status_code == status, r.text
        assert r.json()["error"]["status"] == status
        if status == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert httpx.delete(f"{api}/any", headers=headers, timeout=5).status_code == status
    assert httpx.get(api, timeout=5).json() == {"silences": []}  # nothing was made
    for bad, needle in BAD_BODIES:
        r = httpx.post(api, json=bad, headers=AUTH, timeout=5)
        assert r.status_code == 400, (bad, r.text)
        error = r.json()["error"]
        assert error["reason"] == "Bad Request"
        assert needle in error["message"], (bad, error["message"])
    r = httpx.post(api, content=b"matchers=x", headers=AUTH, timeout=5)
    assert r.status_code == 415
    assert httpx.get(api + "?expired=maybe", timeout=5).status_code == 400
    assert httpx.get(api, timeout=5).json() == {"silences": []}
    assert "Traceback" not in proc.output()


def test_cli_says_in_one_line_when_the_monitor_is_not_running(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done, modules = cli(tmp_path, "list", "--url", url)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"devmentor-monitor: cannot reach the monitor at {url}: connection refused "
        "(is `devmentor-monitor --serve` or `ultra` running? see --url)"
    )
    assert headless.roots(modules, headless.VIEW_ONLY) == []
    done, _ = cli(tmp_path)
    assert done.returncode == 2
    assert "silence needs an action" in done.stderr

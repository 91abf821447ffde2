"""HTTPS on the exporter's port, as an operator sets it up: certificates from a test CA
made by the real openssl, a real `--serve` process, real TLS clients.

Mutual TLS, a reload on SIGHUP (the same process then serves the new certificate, and a
bad file keeps the old one), and the refusal to serve plain HTTP off loopback when
`server.require_tls` is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.certs import certificate_authority, signed
from support.processes import REPO

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration

KEY = "k" * 24  # an admin key: off loopback the monitor wants one before anything else


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A server CA with two server certificates (A, B), a client CA with a client
    certificate, and a client certificate from a CA the server does not trust."""
    d = tmp_path_factory.mktemp("pki")
    ca = certificate_authority(d, "ca", "devmentor test CA")
    a = signed(d, ca, "a", "monitor-a", serial=1001)
    b = signed(d, ca, "b", "monitor-b", serial=1002)
    client_ca = certificate_authority(d, "client-ca", "devmentor client CA")
    client = signed(d, client_ca, "client", "scraper", client=True)
    other_ca = certificate_authority(d, "other-ca", "someone else's CA")
    stranger = signed(d, other_ca, "stranger", "stranger", client=True)
    return {
        "ca": ca[0],
        "a.pem": a[0],
        "a.key": a[1],
        "b.pem": b[0],
        "b.key": b[1],
        "client-ca": client_ca[0],
        "client.pem": client[0],
        "client.key": client[1],
        "stranger.pem": stranger[0],
        "stranger.key": stranger[1],
    }


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def https(proc, path: str = "/health", **kw) -> httpx.Response:
    return httpx.get(f"https://127.0.0.1:{proc.port}{path}", timeout=5, **kw)


def served_certificate(port: int, ca: Path) -> bytes:
    """The certificate a new connection is shown (DER), verified against ``ca``."""
    ctx = client_context(ca)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def peer_of(r: httpx.Response) -> bytes:
    """The certificate on the connection that carried ``r``."""
    return r.extensions["network_stream"].get_extra_info("ssl_object").getpeercert(True)


def der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


def started(serve, *args: str):
    """A `--serve` process; ready once /health answers over HTTPS (the fixture's own
    readiness check speaks plain HTTP)."""
    return serve(*args, ready=False)


def wait_https(proc, wait, **kw) -> httpx.Response:
    def answered() -> httpx.Response | None:
        if proc.proc.poll() is not None:
            raise AssertionError(f"--serve exited {proc.proc.returncode}:\n{proc.output()}")
        r = https(proc, **kw)
        return r if r.status_code == 200 else None

    return wait(answered, 15, what="/health over HTTPS")


def test_https_with_a_test_ca_and_plain_http_refused(pki, write_config, serve, wait) -> None:
    cfg = write_config([])
    proc = started(
        serve, "-c", str(cfg), "--tls-cert", str(pki["a.pem"]), "--tls-key", str(pki["a.key"])
    )
    r = wait_https(proc, wait, verify=client_context(pki["ca"]))
    assert r.json()["status"] == "ok"
    assert served_certificate(proc.port, pki["ca"]) == der(pki["a.pem"])
    assert f"listen=https://127.0.0.1:{proc.port}" in proc.output()
    # the exporter source says where it listens, scheme included
    exporter = next(s for s in r.json()["sources"] if s["name"] == "exporter")
    assert exporter["reason"] == f"https://127.0.0.1:{proc.port}", exporter

    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{proc.port}/health", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        https(proc, verify=client_context(pki["client-ca"]))  # a CA that did not sign it
    assert https(proc, verify=client_context(pki["ca"])).status_code == 200  # still serving


def test_mutual_tls_refuses_a_client_without_a_certificate_from_its_ca(
    pki, write_config, serve, wait
) -> None:
    tls = {"cert": str(pki["a.pem"]), "key": str(pki["a.key"]), "client_ca": str(pki["client-ca"])}
    proc = started(serve, "-c", str(write_config([], server={"tls": tls})))
    with_cert = client_context(pki["ca"], pki["client.pem"], pki["client.key"])
    assert wait_https(proc, wait, verify=with_cert).json()["status"] == "ok"

    with pytest.raises(httpx.TransportError):
        https(proc, verify=client_context(pki["ca"]))  # no certificate
    stranger = client_context(pki["ca"], pki["stranger.pem"], pki["stranger.key"])
    with pytest.raises(httpx.TransportError):
        https(proc, verify=stranger)  # a certificate, but not from the client CA
    assert https(proc, "/api/services", verify=with_cert).status_code == 200


def test_sighup_serves_the_new_certificate_and_a_bad_file_keeps_it(
    pki, tmp_path, write_config, serve, wait
) -> None:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki["a.pem"], cert)
    shutil.copy(pki["a.key"], key)
    cfg = write_config([], server={"tls": {"cert": str(cert), "key": str(key)}})
    proc = started(serve, "-c", str(cfg))
    wait_https(proc, wait, verify=client_context(pki["ca"]))
    pid = proc.proc.pid
    assert served_certificate(proc.port, pki["ca"]) == der(pki["a.pem"])
    # A keep-alive connection opened before the reload keeps working after it.
    kept = httpx.Client(verify=client_context(pki["ca"]), timeout=5)
    assert peer_of(kept.get(f"https://127.0.0.1:{proc.port}/health")) == der(pki["a.pem"])

    for src, dst in ((pki["b.key"], key), (pki["b.pem"], cert)):  # whole files, as a deploy would
        shutil.copy(src, dst.with_suffix(".new"))
        os.replace(dst.with_suffix(".new"), dst)
    os.kill(pid, signal.SIGHUP)
    wait(
        lambda: served_certificate(proc.port, pki["ca"]) == der(pki["b.pem"]),
        10,
        what="a new connection to see certificate B",
    )
    assert proc.proc.poll() is None
    assert proc.proc.pid == pid
    assert "TLS certificate reloaded" in proc.output()
    r = kept.get(f"https://127.0.0.1:{proc.port}/health")
    assert r.status_code == 200
    assert peer_of(r) == der(pki["a.pem"])  # the same connection, its session unchanged
    kept.close()

    # A key that does not match: the reload fails, names the file, and B stays served.
    shutil.copy(pki["a.key"], key)
    os.kill(pid, signal.SIGHUP)
    line = wait(
        lambda: next((x for x in proc.output().splitlines() if "TLS reload failed" in x), None),
        10,
        what="the failed reload in the log",
    )
    assert "key=server.tls.key" in line, line
    assert f"file={key}" in line, line
    assert "does not match the certificate" in line, line
    assert served_certificate(proc.port, pki["ca"]) == der(pki["b.pem"])
    assert https(proc, verify=client_context(pki["ca"])).json()["status"] == "ok"
    assert proc.proc.poll() is None


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICES_CONFIG", "MONITORING_PORT")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "--serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=REPO,
    )


def test_require_tls_refuses_plain_http_off_loopback_and_without_it_warns(
    tmp_path, write_config, serve, wait
) -> None:
    keys = [{"name": "ops", "key": KEY, "role": "admin"}]
    strict = write_config(
        [], "strict.yaml", server={"host": "0.0.0.0", "require_tls": True}, auth={"keys": keys}
    )
    port = str(free_port())
    done = run_cli(tmp_path, "-c", str(strict), "--port", port)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refusing to serve plain HTTP on 0.0.0.0" in lines[0]
    assert "server.require_tls" in lines[0]

    relaxed = write_config([], "relaxed.yaml", server={"host": "0.0.0.0"}, auth={"keys": keys})
    proc = serve("-c", str(relaxed), ready=False)

    def warned() -> str | None:
        if proc.proc.poll() is not None:
            raise AssertionError(f"--serve exited {proc.proc.returncode}:\n{proc.output()}")
        return next((x for x in proc.output().splitlines() if "plain HTTP off loopback" in x), None)

    line = wait(warned, 15, what="the plain-HTTP warning")
    assert "level=warning" in line, line
    assert "host=0.0.0.0" in line, line
    assert httpx.get(f"http://127.0.0.1:{proc.port}/health", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("tls", "key", "why"),
    [
        ({"cert": "missing.pem", "key": "a.key"}, "server.tls.cert", "missing.pem: file not found"),
        ({"cert": "a.pem", "key": "b.key"}, "server.tls.key", "b.key: does not match"),
        ({"cert": "a.key", "key": "a.key"}, "server.tls.cert", "a.key: no PEM certificate"),
        (
            {"cert": "a.pem", "key": "a.key", "client_ca": "nowhere.pem"},
            "server.tls.client_ca",
            "nowhere.pem: file not found",
        ),
    ],
)
def test_bad_tls_files_stop_the_start_naming_key_and_file(
    pki, tmp_path, write_config, tls, key, why
) -> None:
    paths = {k: str(pki["ca"].parent / v) for k, v in tls.items()}
    cfg = write_config([], server={"tls": paths})
    done = run_cli(tmp_path, "-c", str(cfg), "--port", str(free_port()))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert f"config error: {cfg}: {key}: " in done.stderr, done.stderr
    assert why in done.stderr, done.stderr


def test_a_tls_flag_alone_is_a_usage_error(tmp_path, write_config) -> None:
    done = run_cli(tmp_path, "-c", str(write_config([])), "--tls-cert", "x.pem")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--tls-cert needs --tls-key (or server.tls in the config)")

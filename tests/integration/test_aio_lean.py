"""aiohttp through devmentor_monitor.aio: lean at import, and TLS still verifies.

Each check runs in a fresh interpreter, since this test process imported aiohttp the
usual way long ago. The TLS server's self-signed certificate is trusted only through
SSL_CERT_FILE, i.e. only through the system CA store that aio.py loads lazily.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.certs import self_signed

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import asyncio, json, mimetypes, os, ssl, sys
    import devmentor_monitor.aio as aio
    import aiohttp.connector as connector
    from aiohttp import web
    from devmentor_monitor.config.schema import ServiceConfig
    from devmentor_monitor.health.checker import HealthChecker

    report = {
        "ca_at_import": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
        "libstdcxx_mapped": "libstdc++" in open("/proc/self/maps").read(),
        "env_leaked": "FROZENLIST_NO_EXTENSIONS" in os.environ,
        "ssl_class_patched": "set_default_verify_paths" in ssl.SSLContext.__dict__,
        "mimetypes_knownfiles": bool(mimetypes.knownfiles),
        "other_context_ca": ssl.create_default_context().cert_store_stats()["x509_ca"],
    }

    async def main():
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        app = web.Application()
        app.router.add_get("/health", lambda r: web.json_response({"status": "ok"}))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        port = runner.addresses[0][1]
        checker = HealthChecker(2)
        svc = ServiceConfig(name="api", url=f"https://127.0.0.1:{port}/health",
                            interval=1.0, timeout=5.0)
        result = await checker.check(svc)
        report["check_ok"], report["check_error"] = result.ok, result.error
        report["ca_after_check"] = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]
        await checker.close()
        await runner.cleanup()

    asyncio.run(main())
    print(json.dumps(report))
""")


@pytest.fixture
def cert_pair(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def probe(cert: Path, key: Path, ca_file: Path) -> dict:
    env = {**os.environ, "SSL_CERT_FILE": str(ca_file)}
    env.pop("SSL_CERT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(cert), str(key)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_skips_ca_store_libstdcxx_and_mime_table_and_leaves_no_trace(cert_pair):
    cert, key = cert_pair
    report = probe(cert, key, ca_file=cert)
    assert report["ca_at_import"] == 0
    assert report["libstdcxx_mapped"] is False
    assert report["env_leaked"] is False
    assert report["ssl_class_patched"] is False
    assert report["mimetypes_knownfiles"] is True  # restored for everyone else
    assert report["other_context_ca"] >= 1  # contexts made after the import load as usual


def test_tls_check_verifies_against_the_system_store_loaded_on_first_use(cert_pair, tmp_path):
    cert, key = cert_pair
    trusted = probe(cert, key, ca_file=cert)
    assert trusted["check_ok"], trusted["check_error"]
    assert trusted["ca_after_check"] >= 1
    other, _ = self_signed(tmp_path, "other", cn="other", days=1)  # does not hold ours
    untrusted = probe(cert, key, ca_file=other)
    assert not untrusted["check_ok"]
    assert untrusted["check_error"].startswith("TLS:")


def test_no_module_imports_aiohttp_except_through_aio():
    offenders = []
    for path in (REPO / "devmentor_monitor").rglob("*.py"):
        if path.name == "aio.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            if any(n == "aiohttp" or n.startswith("aiohttp.") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []

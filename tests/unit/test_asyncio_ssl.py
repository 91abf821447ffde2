"""A process that imports devmentor_monitor has asyncio without ssl (~4 MiB of RSS: issue
19's 48 MiB for `ultra --demo`), and TLS over asyncio still works once anything needs it:
a context made by the caller (which imports ssl), and `ssl=True` (asyncio makes the
context, importing ssl itself). Each runs in a fresh interpreter: this one imported ssl
long ago. The peer is the real `openssl s_server`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.certs import self_signed
from support.processes import REPO, stop_process
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

HEAD = """
import sys
import devmentor_monitor  # first, as in the console script: it imports asyncio
import asyncio
print("ssl at import:", "ssl" in sys.modules, flush=True)
PORT = int(sys.argv[1])

async def get(tls, **kw):
    opening = asyncio.open_connection("127.0.0.1", PORT, ssl=tls, **kw)
    reader, writer = await asyncio.wait_for(opening, 10)
    writer.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
    first = await reader.readline()
    writer.close()
    return first.decode().strip()
"""

WITH_CONTEXT = """
import ssl
ctx = ssl.create_default_context(cafile=sys.argv[2])
print("answer:", asyncio.run(get(ctx)))
print("asyncio has ssl:", asyncio.sslproto.ssl is ssl and asyncio.base_events.ssl is ssl)
"""

# asyncio makes the default context: SSL_CERT_FILE (the test's) is what it trusts
WITH_TRUE = """
print("answer:", asyncio.run(get(True, server_hostname="127.0.0.1")))
import ssl
print("asyncio has ssl:", asyncio.sslproto.ssl is ssl and asyncio.base_events.ssl is ssl)
"""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = self_signed(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            str(port),
            "-cert",
            str(cert),
            "-key",
            str(key),
            "-www",
            "-quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
            15,
            what="openssl s_server listening",
        )
        yield port, cert
    finally:
        stop_process(proc)


def _run(body: str, port: int, cert: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "SSL_CERT_FILE": str(cert)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HEAD + body), str(port), str(cert)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_a_context_made_after_the_import_serves_tls(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    assert _run(WITH_CONTEXT, port, cert) == [
        "ssl at import: False",
        "answer: HTTP/1.0 200 ok",
        "asyncio has ssl: True",
    ]


def test_ssl_true_makes_asyncios_default_context(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    assert _run(WITH_TRUE, port, cert) == [
        "ssl at import: False",
        "answer: HTTP/1.0 200 ok",
        "asyncio has ssl: True",
    ]

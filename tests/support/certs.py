"""Self-signed certificates made by the real openssl, for TLS servers on loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(
    folder: Path, name: str = "cert", cn: str = "127.0.0.1", days: int = 30
) -> tuple[Path, Path]:
    """(certificate, key) for ``cn``, valid for ``days`` and for the IP 127.0.0.1."""
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            str(days),
            "-subj",
            f"/CN={cn}",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key

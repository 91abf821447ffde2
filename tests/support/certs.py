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


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def certificate_authority(
    folder: Path, name: str = "ca", cn: str = "devmentor test CA"
) -> tuple[Path, Path]:
    """(certificate, key) of a CA that signs with `signed`."""
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def signed(
    folder: Path,
    ca: tuple[Path, Path],
    name: str,
    cn: str,
    *,
    client: bool = False,
    serial: int = 1,
) -> tuple[Path, Path]:
    """(certificate, key) for ``cn`` signed by ``ca``: a server certificate for the IP
    127.0.0.1, or with ``client`` one for TLS client authentication."""
    key, cert, csr = folder / f"{name}.key", folder / f"{name}.pem", folder / f"{name}.csr"
    ext = folder / f"{name}.ext"
    usage = "clientAuth" if client else "serverAuth"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage={usage}\n" + ("" if client else "subjectAltName=IP:127.0.0.1\n")
    )
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-set_serial", str(serial), "-days", "30", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key

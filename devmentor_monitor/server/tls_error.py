"""The exporter's TLS error, apart from server/tls.py so that naming it (the command line,
the runtime) does not import ssl: see asyncio_ssl.py."""

from __future__ import annotations


class TlsError(Exception):
    """A TLS file that cannot be used; names the setting and the file."""

    def __init__(self, key: str, path: str, message: str) -> None:
        self.key, self.path, self.message = key, path, message
        super().__init__(f"{key}: {path}: {message}")

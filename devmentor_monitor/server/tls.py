"""HTTPS for the exporter: the server's SSLContext from `server.tls`, reloaded on SIGHUP.

asyncio (and uvloop) bind the context given to `create_server` to the listener for
good, so a reload cannot hand it a new one. Instead that first context (the front) has
an SNI callback, which OpenSSL runs for every ClientHello, with or without a server
name, and which moves each new handshake onto the current context. A reload builds a
whole new context before it swaps: a bad file leaves the old certificate serving, and
a replaced client CA stops being trusted at once (loading into the live context would
only add to its trust store). Connections already open keep their session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from devmentor_monitor.config.schema import TlsSettings
from devmentor_monitor.server.tls_error import TlsError as TlsError

log = logging.getLogger("devmentor_monitor.server")

MIN_VERSION = ssl.TLSVersion.TLSv1_2


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """A server context from the files `tls` names (TLS 1.2 at least; client certificates
    required when client_ca is set). Raises TlsError naming the setting and the file."""
    files = {"server.tls.cert": tls.cert, "server.tls.key": tls.key}
    if tls.client_ca:
        files["server.tls.client_ca"] = tls.client_ca
    for key, path in files.items():
        _readable(key, path)
    _certificates(files["server.tls.cert"], "server.tls.cert")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_VERSION
    encrypted: list[bool] = []

    def no_password() -> bytes:  # never prompt on the terminal for one
        encrypted.append(True)
        return b""

    try:
        ctx.load_cert_chain(tls.cert, tls.key, password=no_password)
    except ssl.SSLError as exc:
        if encrypted:
            why = "is encrypted; give an unencrypted key (openssl pkey -in KEY -out NEW)"
        elif "KEY_VALUES_MISMATCH" in str(exc):
            why = f"does not match the certificate in {tls.cert} (server.tls.cert)"
        else:
            why = "not a PEM private key" + (f" ({exc.reason})" if exc.reason else "")
        raise TlsError("server.tls.key", tls.key, why) from None
    if tls.client_ca:
        _certificates(tls.client_ca, "server.tls.client_ca")
        ctx.load_verify_locations(cafile=tls.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _readable(key: str, path: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise TlsError(key, path, "file not found") from None
    except IsADirectoryError:
        raise TlsError(key, path, "is a directory, not a file") from None
    except OSError as exc:
        raise TlsError(key, path, f"cannot read: {exc.strerror or exc}") from None


def _certificates(path: str, key: str) -> None:
    """Raise TlsError unless the file holds at least one PEM certificate."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError:
        raise TlsError(key, path, "no PEM certificate in it") from None


def fingerprint(path: str) -> str:
    """SHA-256 of the file's first certificate, as `openssl x509 -fingerprint -sha256`
    prints it: says in the log which certificate is being served."""
    text = Path(path).read_text(encoding="ascii", errors="replace")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.find(begin)
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        return "?"
    der = ssl.PEM_cert_to_DER_cert(text[start : stop + len(end)])
    import hashlib  # here: `ultra` imports this module at start, and needs no hashlib

    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _build(tls: TlsSettings) -> tuple[ssl.SSLContext, str]:
    """The context and its certificate's fingerprint (file reads: run in a thread)."""
    ctx = server_context(tls)
    try:
        return ctx, fingerprint(tls.cert)
    except (OSError, ValueError):  # replaced again since it was loaded
        return ctx, "?"


class ReloadableTls:
    """The listener's context (`front`) and the one new handshakes use (`current`)."""

    def __init__(self, tls: TlsSettings, ctx: ssl.SSLContext) -> None:
        self.tls = tls
        self.current = self.front = ctx
        self.front.sni_callback = self._pick
        self._lock = asyncio.Lock()

    @classmethod
    async def load(cls, tls: TlsSettings) -> ReloadableTls:
        """Raises TlsError naming the setting and the file."""
        ctx, sha256 = await asyncio.to_thread(_build, tls)
        _loaded("TLS certificate loaded", tls, sha256)
        return cls(tls, ctx)

    def _pick(self, conn: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
        if conn.context is not self.current:
            conn.context = self.current

    async def reload(self) -> bool:
        """Read the files again (in a thread) and serve the new certificate to new
        connections; on a bad file, log which and why, and keep the old one."""
        async with self._lock:
            try:
                ctx, sha256 = await asyncio.to_thread(_build, self.tls)
            except TlsError as exc:
                log.error(
                    "TLS reload failed; still serving the previous certificate",
                    extra={"fields": {"key": exc.key, "file": exc.path, "error": exc.message}},
                )
                return False
            self.current = ctx
        _loaded("TLS certificate reloaded", self.tls, sha256)
        return True


def _loaded(what: str, tls: TlsSettings, sha256: str) -> None:
    fields = {"cert": tls.cert, "sha256": sha256, "client_ca": tls.client_ca or "none"}
    log.info(what, extra={"fields": fields})

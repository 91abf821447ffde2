"""aiohttp, imported without the parts the monitor never uses at start-up.

Every module of ours imports aiohttp from here (the "Only aio imports aiohttp" contract in
pyproject.toml checks, as does tests/integration/test_aio_lean.py). A plain
``import aiohttp`` costs the TUI, measured in one process (tmux 160x50, `ultra --demo`):

* two SSL client contexts, each loading the system CA store (~1.5 MiB RSS, ~0.1 s):
  here they are built empty and load the store the first time one is used for TLS;
  `tls_ready()` does that in a thread, so the event loop never waits for it;
* frozenlist's C++ extension, which maps libstdc++ (~1 MiB RSS): the pure-Python
  FrozenList serves aiohttp's few signal and middleware lists as well;
* the system mime.types table read for static files (~0.4 MiB), which we never serve.

A process that imported aiohttp before this module (tests do) simply keeps the usual
behaviour: nothing here changes an aiohttp that is already loaded.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import ssl
import sys
import threading
from typing import Any

_real_default_paths = ssl.SSLContext.set_default_verify_paths
_lock = threading.Lock()


class LazyCAContext(ssl.SSLContext):
    """An SSL context whose CA store is loaded at its first TLS handshake, not before."""

    _ca_loaded = False

    def load_ca(self) -> None:
        with _lock:
            if not self._ca_loaded:
                _real_default_paths(self)
                self._ca_loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # asyncio and uvloop
        self.load_ca()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_ca()
        return super().wrap_socket(*args, **kwargs)


def _import_lean() -> None:
    importer = threading.get_ident()

    def defer(ctx: ssl.SSLContext) -> None:
        if threading.get_ident() != importer:  # another thread's context: load as usual
            _real_default_paths(ctx)
        else:
            ctx.__class__ = LazyCAContext

    own_attr = "set_default_verify_paths" in ssl.SSLContext.__dict__
    saved_env = os.environ.get("FROZENLIST_NO_EXTENSIONS")
    saved_files = mimetypes.knownfiles
    os.environ["FROZENLIST_NO_EXTENSIONS"] = "1"
    mimetypes.knownfiles = []
    ssl.SSLContext.set_default_verify_paths = defer  # type: ignore[method-assign,assignment]
    try:
        import aiohttp.web  # noqa: F401
    finally:
        if own_attr:
            ssl.SSLContext.set_default_verify_paths = _real_default_paths  # type: ignore[method-assign]
        else:
            del ssl.SSLContext.set_default_verify_paths
        mimetypes.knownfiles = saved_files
        if saved_env is None:
            os.environ.pop("FROZENLIST_NO_EXTENSIONS", None)
        else:
            os.environ["FROZENLIST_NO_EXTENSIONS"] = saved_env


if "aiohttp" not in sys.modules:
    _import_lean()

import aiohttp  # noqa: E402
from aiohttp import WSMsgType, web  # noqa: E402


def _lazy_contexts() -> list[LazyCAContext]:
    connector = sys.modules.get("aiohttp.connector")
    found = [
        getattr(connector, name, None)
        for name in ("_SSL_CONTEXT_VERIFIED", "_SSL_CONTEXT_UNVERIFIED")
    ]
    return [ctx for ctx in found if isinstance(ctx, LazyCAContext)]


async def tls_ready() -> None:
    """Load the CA store (once, in a thread) before the first TLS connection needs it."""
    pending = [ctx for ctx in _lazy_contexts() if not ctx._ca_loaded]
    if pending:

        def load_all() -> None:
            for ctx in pending:
                ctx.load_ca()

        await asyncio.to_thread(load_all)


__all__ = ["WSMsgType", "aiohttp", "tls_ready", "web"]

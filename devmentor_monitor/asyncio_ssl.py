"""asyncio imported without the ssl module, which it gets the first time anything imports it.

asyncio imports ssl when it is itself imported (base_events, selector_events and sslproto
keep it as a global), and ssl brings OpenSSL's libraries: ~4.2 MiB of RSS in a fresh
python (libcrypto alone ~2.9 MiB resident in `ultra --demo`), in every process, although
`ultra --demo` and a monitor of plain http:// services never open a TLS connection
(issue 19: `ultra --demo` at most 48 MiB). So asyncio is imported here with ssl hidden,
and an import hook hands the real module to those three asyncio modules (and sslproto's
SSLAgainErrors, set at its import only when ssl is there) the moment anything imports
ssl: aiohttp, an https check's context, the exporter's TLS. Whoever passes an SSLContext
has imported ssl first; `ssl=True` reaches sslproto, whose ssl stands in until then and
imports the real module at its first use.

Nothing happens when asyncio or ssl is already loaded (pytest, an embedding program).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

# asyncio's modules that bind ssl at their import (CPython 3.11-3.13)
HOLDERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


def import_asyncio() -> None:
    """Import asyncio with ssl hidden, and leave the hook that hands ssl over later."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl raises ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
    if not all(
        name in sys.modules and sys.modules[name].__dict__.get("ssl", 0) is None for name in HOLDERS
    ):  # another asyncio than the one this was written for: give it ssl now
        _hand_over(importlib.import_module("ssl"))
        return
    sys.modules["asyncio.sslproto"].__dict__.update(ssl=_OnFirstUse())
    sys.meta_path.insert(0, _Finder())


def _hand_over(ssl: ModuleType) -> None:
    """Give asyncio the real ssl module, as if it had been there at its import."""
    for name in HOLDERS:
        holder = sys.modules.get(name)
        if holder is not None:
            holder.__dict__.update(ssl=ssl)
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None:
        sslproto.__dict__.update(SSLAgainErrors=(ssl.SSLWantReadError, ssl.SSLSyscallError))


class _OnFirstUse:
    """sslproto's ssl until the real one is imported: `ssl=True` (a default context made
    by asyncio) imports it at its first attribute, and the hook replaces this."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("ssl"), name)


class _Finder:
    """Finds ssl as the other finders do, with a loader that hands it to asyncio once run."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "ssl":
            return None
        with contextlib.suppress(ValueError):  # another thread's import got here first
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("ssl")
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader)  # type: ignore[assignment]
        return spec


class _Loader:
    """ssl's own loader, then the hand-over (importlib.abc is not imported for this: it
    brings importlib.resources)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # type: ignore[union-attr]
        self.loader.exec_module(module)
        _hand_over(module)


class _NoSslError(Exception):
    """Never raised: what ssl_error gives while ssl is not loaded."""


def ssl_error() -> type[BaseException]:
    """ssl.SSLError, or an exception never raised while nothing has imported ssl (then no
    TLS error can have been raised): for isinstance and except, without importing ssl."""
    loaded = sys.modules.get("ssl")
    return _NoSslError if loaded is None else loaded.SSLError

"""The exporter's port: bound when the monitor starts, its HTTP stack loaded when needed.

`--serve` is there to serve: it loads aiohttp and builds the app at once. `ultra` may
never be asked anything, and aiohttp with the app's modules is ~12 MiB of its RSS (tmux
160x50, `ultra --demo`: bench/tui_load.py), so there the port is bound and listening at
start as before (same host, port and TLS; the same error when it is taken), and the stack
is imported when the first connection arrives, in a thread (imports.off_loop). That
connection waits in the listen backlog meanwhile; then the sockets go to asyncio's server
behind the app's gate (connections.py), and it and every later one are served as ever.
Measured (headless `ultra --demo` runtime, a 1 ms ticker on the loop, 3 runs each,
alternated, load ~2): the first request answered in 0.12-0.34 s, the loop's longest gap
meanwhile 10-17 ms (idle: 2-9 ms), against 208-298 ms with the import made on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from devmentor_monitor.config.schema import TlsSettings, is_loopback
from devmentor_monitor.imports import off_loop
from devmentor_monitor.model import SourceState, SourceStatus

if TYPE_CHECKING:
    from devmentor_monitor.server.app import HttpStack
    from devmentor_monitor.server.tls import ReloadableTls  # with server.tls only: ssl

log = logging.getLogger("devmentor_monitor.server")

STACK = "devmentor_monitor.server.app"  # aiohttp and the routed app: what `build` needs
TLS = "devmentor_monitor.server.tls"  # the exporter's TLS, and ssl
HEAD_TIMEOUT = 5.0  # connect → complete request head (connections.Gate); TLS handshake too
BACKLOG = 1024  # a burst waits in the kernel, not in SYN retries: the gate sees it as one


async def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` resolves to, as asyncio's create_server
    binds them (SO_REUSEADDR, IPv6 sockets IPv6 only), with its error when one is taken."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host or None, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM,
        flags=socket.AI_PASSIVE,
    )  # fmt: skip
    socks: list[socket.socket] = []
    try:
        for af, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(af, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
            if af == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
            try:
                sock.bind(address)
            except OSError as err:
                why = (err.strerror or str(err)).lower()
                raise OSError(
                    err.errno, f"error while attempting to bind on address {address!r}: {why}"
                ) from None
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


class Exporter:
    """The listening sockets, and the HTTP stack (`build`: server/app.py) behind them,
    started at once or by the first connection (`lazy`)."""

    def __init__(
        self,
        build: Callable[[], HttpStack],
        host: str,
        port: int,
        tls: TlsSettings | None = None,
        *,
        on_state: Callable[[SourceStatus], None] | None = None,
    ) -> None:
        self.build, self.host, self.port, self.tls_settings = build, host, port, tls
        self.on_state = on_state  # told if the stack cannot be started at a first connection
        self.tls: ReloadableTls | None = None
        self.stack: HttpStack | None = None
        self._socks: list[socket.socket] = []
        self._servers: list[asyncio.Server] = []
        self._waking: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_settings else 'http'}://{host}:{self.port}"

    @property
    def dormant(self) -> bool:
        """Listening, with no HTTP stack loaded yet: nobody has connected."""
        return bool(self._socks) and self.stack is None

    def reached_by(self, host: str, port: int) -> bool:
        """Whether plain HTTP to ``host``:``port`` lands on these sockets: an address one
        is bound to (a wildcard bind takes its family's literals; `localhost`, loopback).
        A name other than localhost is not resolved: False, so it is asked over HTTP."""
        if self.tls_settings is not None or port != self.port:
            return False
        wanted = {"127.0.0.1", "::1"} if host == "localhost" else {host}
        for sock in self._socks:
            bound = str(sock.getsockname()[0])
            if bound in wanted:
                return True
            if bound in ("0.0.0.0", "::"):
                v6 = bound == "::"
                if any((":" in w) == v6 and (v6 or w.replace(".", "").isdigit()) for w in wanted):
                    return True
        return False

    async def start(self, *, lazy: bool = False) -> None:
        """Raises OSError when the port cannot be had, tls.TlsError for a bad TLS file."""
        if self.tls_settings is not None:
            await off_loop(TLS)  # ssl with it (asyncio_ssl.py)
            from devmentor_monitor.server.tls import ReloadableTls

            self.tls = await ReloadableTls.load(self.tls_settings)
        self._socks = await bind(self.host, self.port)
        if not self.port:  # port 0: the OS's choice
            self.port = int(self._socks[0].getsockname()[1])
        if self.tls is None and not is_loopback(self.host):
            log.warning(
                "serving plain HTTP off loopback: API keys and data cross the network "
                "unencrypted; set server.tls (or --tls-cert/--tls-key), or "
                "server.require_tls to refuse this",
                extra={"fields": {"host": self.host, "port": self.port}},
            )
        if not lazy:
            try:
                await self._serve()
            except BaseException:
                await self.stop()
                raise
            return
        loop = asyncio.get_running_loop()
        for sock in self._socks:
            loop.add_reader(sock.fileno(), self._arrived)

    def _arrived(self) -> None:
        """A first connection is waiting: load the stack (once), then serve it."""
        loop = asyncio.get_running_loop()
        for sock in self._socks:
            loop.remove_reader(sock.fileno())
        if self._waking is None:
            self._waking = loop.create_task(self._wake(), name="exporter:load")

    async def _wake(self) -> None:
        try:
            await off_loop(STACK)
            await self._serve()
        except Exception as exc:  # the rest of the monitor goes on; say why on screen
            log.error("the HTTP exporter could not start", exc_info=exc)
            await self._shut()  # nothing left listening that nobody serves
            if self.on_state is not None:
                why = f"cannot serve on {self.host}:{self.port}: {type(exc).__name__}: {exc}"
                self.on_state(SourceStatus("exporter", SourceState.UNAVAILABLE, why))

    async def _serve(self) -> None:
        stack = self.build()
        self.stack = stack  # before its start: a stop or failure midway still cleans it up
        gate = await stack.start()
        front = self.tls.front if self.tls is not None else None
        # a handshake never finished holds a descriptor the gate does not see yet
        timeout = HEAD_TIMEOUT if front is not None else None
        loop = asyncio.get_running_loop()
        for sock in list(self._socks):
            loop.remove_reader(sock.fileno())  # lazy: the wake-up's reader, if still there
            server = await loop.create_server(
                gate, sock=sock, backlog=BACKLOG, ssl=front, ssl_handshake_timeout=timeout
            )
            self._servers.append(server)
            self._socks.remove(sock)  # the server's now: it closes it

    async def reload_tls(self) -> bool:
        """Read the certificate, key and client CA again (SIGHUP); False when a file is
        bad (logged, naming it) and the previous certificate stays in use."""
        return await self.tls.reload() if self.tls is not None else False

    async def _shut(self) -> None:
        """Close the servers, the sockets none has taken over, and the stack if started."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        socks, self._socks = self._socks, []
        loop = asyncio.get_running_loop()
        for sock in socks:
            loop.remove_reader(sock.fileno())
            sock.close()
        if self.stack is not None:
            stack, self.stack = self.stack, None
            await stack.stop()

    async def stop(self) -> None:
        """Stop listening, close the connections, write the counted refusals, clean up."""
        if self._waking is not None:
            self._waking.cancel()
            await asyncio.gather(self._waking, return_exceptions=True)
            self._waking = None
        await self._shut()

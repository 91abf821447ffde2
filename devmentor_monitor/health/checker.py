"""HTTP health checks: each service on its own interval, a bounded number in flight.

One scheduler task keeps a heap of due times; a check never overlaps the previous
check of the same service, and a semaphore caps requests in flight (100 in flight
collapses throughput on a 2-core machine; 10 does not).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import random
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from devmentor_monitor.asyncio_ssl import ssl_error
from devmentor_monitor.config.schema import ServiceConfig
from devmentor_monitor.health.plainhttp import PlainHTTP, Target, target
from devmentor_monitor.imports import off_loop
from devmentor_monitor.logs import mask
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import Intake, Polled
from devmentor_monitor.slices import my_turn
from devmentor_monitor.sources.base import status

if TYPE_CHECKING:  # imported at the first check that needs it (https, an odd URL):
    import ssl  # plain http:// never loads it (~4 MiB: asyncio_ssl.py)

    from devmentor_monitor.aio import aiohttp  # nor this (~12 MiB)

USER_AGENT = "devmentor-monitor"
log = logging.getLogger("devmentor_monitor.health")


def body_mismatches(body: bytes, expect: Sequence[tuple[str, Any]]) -> list[str]:
    """Which ``path == value`` conditions the JSON body fails; dotted paths walk objects."""
    if not expect:
        return []
    try:
        doc = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    failed = []
    for path, want in expect:
        node: Any = doc
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = _MISSING
                break
        if node is _MISSING:
            failed.append(f"body.{path} missing")
        elif node != want and str(node) != str(want):
            failed.append(f"body.{path} is {node!r}, want {want!r}")
    return failed


_MISSING = object()


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short, user-facing reason for a failed request (the root cause, not the wrapper)."""
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return f"timeout after {timeout:g} s"
    # aiohttp's own errors, if a check has loaded it; none can have been raised otherwise
    client_error, disconnected = _aiohttp_errors()
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        inner = getattr(cur, "os_error", None) or getattr(cur, "certificate_error", None)
        cur = inner or cur.__cause__ or cur.__context__
    for err in chain:
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror):
            return f"DNS: {err.strerror or err}"
        if isinstance(err, ssl_error()) and not isinstance(err, client_error):
            detail = getattr(err, "verify_message", None) or getattr(err, "reason", None)
            return f"TLS: {detail or err}"
        if isinstance(err, ConnectionResetError | disconnected):
            return "connection reset"
    text = " / ".join(dict.fromkeys(str(e) for e in chain if str(e))) or type(exc).__name__
    text = mask(text)  # some errors quote the URL, with its password and token
    return text if len(text) <= 120 else text[:117] + "..."


def _aiohttp_errors() -> tuple[type[BaseException] | tuple[()], type[BaseException] | tuple[()]]:
    """aiohttp's ClientError and ServerDisconnectedError, or empty tuples (which no
    isinstance matches) while nothing has imported aiohttp."""
    loaded = sys.modules.get("aiohttp")
    if loaded is None:
        return (), ()
    return loaded.ClientError, loaded.ServerDisconnectedError


def cert_days_left(ssl_object: ssl.SSLObject | None, now: float) -> float | None:
    """Days until the peer certificate expires, for https responses."""
    if ssl_object is None:
        return None
    import ssl  # loaded already: the object is its

    cert = ssl_object.getpeercert()
    not_after = cert.get("notAfter") if cert else None
    if isinstance(not_after, str) and not_after:
        return (ssl.cert_time_to_seconds(not_after) - now) / 86400.0
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None
    # Unverified connections give no parsed certificate; cryptography reads the DER.
    from cryptography import x509

    expires = x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    return (expires - now) / 86400.0


def _ssl_object(response: aiohttp.ClientResponse) -> ssl.SSLObject | None:
    """The TLS object of the response's connection. A small body completes at once and
    releases the connection, so fall back to the protocol the response keeps."""
    holder = response.connection or getattr(response, "_protocol", None)
    transport = getattr(holder, "transport", None)
    return transport.get_extra_info("ssl_object") if transport is not None else None


class HealthChecker:
    """Performs single checks; shared by the poller and the one-shot `status` command.

    aiohttp's client, not httpx: measured here, httpx cost 3-4 ms of CPU per check
    against 0.3 ms for aiohttp, and 1,000 endpoints every 10 s must stay under 15 %
    of a core (bench/health_checks.py). Plain http:// goes through plainhttp.py, a
    quarter of aiohttp's CPU per request (measured there); https stays on aiohttp.
    """

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self._sessions: dict[tuple[bool, str | None], aiohttp.ClientSession] = {}
        self._sem = asyncio.Semaphore(max_in_flight)
        # Per service: its timeout object and headers, built once, not per check (an
        # aiohttp.ClientTimeout costs ~14 us to build; 100 checks a second at 1,000
        # services). Rebuilt if the service's config is replaced.
        self._prepared: dict[
            str, tuple[ServiceConfig, aiohttp.ClientTimeout | None, Any, Target | None]
        ] = {}
        self._plain = PlainHTTP(max_in_flight)
        # Service name -> who answers its check in this process (status and body), or
        # says None to have it checked over HTTP: `ultra`'s own exporter while nobody has
        # connected to it (runtime.Monitor._answer_self).
        self.answered_here: dict[str, Callable[[], tuple[int, bytes] | None]] = {}

    def _session(self, svc: ServiceConfig) -> aiohttp.ClientSession:
        from devmentor_monitor.aio import aiohttp

        key = (svc.tls_verify, svc.ca_file)
        session = self._sessions.get(key)
        if session is None:
            # True: aiohttp's own verified context, whose CA store tls_ready() loads once;
            # another default context would load the store again (~2 MiB, 35 ms).
            tls: bool | ssl.SSLContext = svc.tls_verify
            if svc.tls_verify and svc.ca_file:
                import ssl  # aiohttp has imported it

                tls = ssl.create_default_context(cafile=svc.ca_file)
            connector = aiohttp.TCPConnector(
                limit=self.max_in_flight, ssl=tls, ttl_dns_cache=60, enable_cleanup_closed=True
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[key] = session
        return session

    async def check(self, svc: ServiceConfig) -> CheckResult:
        assert svc.url is not None, "a heartbeat service is never checked over HTTP"
        here = self.answered_here.get(svc.name)
        if here is not None:
            ts, start = time.time(), time.perf_counter()
            answer = here()
            if answer is not None:
                latency = time.perf_counter() - start
                status, body = answer
                return _result(svc, ts, latency, status, HTTPStatus(status).phrase, body, None)
        prepared = self._prepared.get(svc.name)
        if prepared is None or prepared[0] is not svc:
            plain = target(svc.url, svc.headers, USER_AGENT)
            timeout = None
            if plain is None:
                await off_loop("devmentor_monitor.aio")
                from devmentor_monitor.aio import aiohttp

                timeout = aiohttp.ClientTimeout(total=svc.timeout)
            prepared = (svc, timeout, dict(svc.headers) or None, plain)
            self._prepared[svc.name] = prepared
        _, timeout, headers, plain = prepared
        if plain is not None:
            return await self._check_plain(svc, plain)
        await off_loop("devmentor_monitor.aio")
        from devmentor_monitor.aio import aiohttp, tls_ready

        session = self._session(svc)
        if svc.url.startswith("https:"):
            await tls_ready()  # the CA store, loaded once in a thread, outside the timing
        async with self._sem:
            ts = time.time()
            start = time.perf_counter()
            try:
                async with session.get(
                    svc.url,
                    timeout=timeout,
                    allow_redirects=False,
                    headers=headers,
                ) as response:
                    ssl_object = _ssl_object(response)
                    body = await response.read()
                    latency = time.perf_counter() - start
                    status, reason = response.status, response.reason or ""
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                return CheckResult(
                    svc.name, ts, ok=False, latency=None, error=describe_error(exc, svc.timeout)
                )
        return _result(svc, ts, latency, status, reason, body, ssl_object)

    async def _check_plain(self, svc: ServiceConfig, plain: Target) -> CheckResult:
        async with self._sem:
            ts = time.time()
            start = time.perf_counter()
            try:
                status, reason, body = await self._plain.get(plain, svc.timeout)
                latency = time.perf_counter() - start
            except (OSError, TimeoutError, ValueError) as exc:  # BadResponse is a ValueError
                return CheckResult(
                    svc.name, ts, ok=False, latency=None, error=describe_error(exc, svc.timeout)
                )
        return _result(svc, ts, latency, status, reason, body, None)

    async def close(self) -> None:
        self._plain.close()
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


def _result(
    svc: ServiceConfig,
    ts: float,
    latency: float,
    status: int,
    reason: str,
    body: bytes,
    ssl_object: ssl.SSLObject | None,
) -> CheckResult:
    """A check's verdict from the answer: status and body expectations, cert days."""
    problems = []
    if status not in svc.expect_status:
        want = "/".join(str(s) for s in svc.expect_status)
        problems.append(f"HTTP {status} {reason}, want {want}")
    problems += body_mismatches(body, svc.expect_body)
    try:
        cert_days = cert_days_left(ssl_object, ts)
    except (ValueError, ssl_error(), ImportError):
        cert_days = None
    return CheckResult(
        svc.name,
        ts,
        ok=not problems,
        latency=latency,
        status_code=status,
        error="; ".join(problems) or None,
        cert_days=cert_days,
    )


# The scheduler sleeps at least this long between launches: services due within it go
# out together (10 at a time at 1,000 services every 10 s, spread 10 ms apart: as many
# as max_in_flight lets out at once by default). At 0.02 s it woke 45 times a second
# there (158 before: its own CPU 511 -> 189 ms per 25 s, yappi); most of a check's cost
# was the loop waking for it, so checks that go out and come back together cost less
# each: `--serve` with 1,000 services, four trees side by side over the same 3 x 30 s
# (process CPU, % of a core): 0.02 s 4.57 / 4.10 / 4.47, 0.05 s 4.03 / 3.73 / 3.83,
# 0.1 s 2.93 / 2.73 / 2.80 and 3.40 / 3.33 / 3.30, 0.25 s 3.07 / 3.07 / 3.07. A check
# starts at most this much after it is due (the jitter is +-2 % of the interval anyway).
TICK = 0.1


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class HealthSource:
    """Schedules checks for every service; results go to the intake.

    In a fleet (cluster/node.py) it runs only the services this instance owns (`own`);
    every service keeps its place in the schedule, one not owned is passed over when
    due, so a share that moves here goes out on its own phase. ``share``: told each
    result checked here (the node publishes them to the other instances)."""

    name = "health"

    def __init__(
        self, services: Sequence[ServiceConfig], max_in_flight: int, *, owned: bool = True
    ) -> None:
        """``owned``: False in a fleet, where nothing is checked until the node says
        which share is this instance's (or, Redis unreachable, that all are)."""
        self.services = list(services)
        self._index = {svc.name: i for i, svc in enumerate(self.services)}
        self._owned: set[int] | None = None if owned else set()
        self._due_at: dict[int, float] = {}  # the schedule's live entry per service
        self._checked_at: dict[int, float] = {}  # wall-clock time of this source's last check
        self.share: Callable[[CheckResult], None] | None = None
        self.checker = HealthChecker(max_in_flight)
        self.checks_done = 0
        self._waiter: asyncio.Future[None] | None = None  # the scheduler's sleep
        self._due: list[tuple[float, int]] = []
        self._urgent: set[int] = set()
        # Left out of the first round (the monitor's own exporter, not listening yet): the
        # runtime asks for them with check_now once it is.
        self.later: set[str] = set()
        self.first_round = asyncio.Event()  # set once the first round's results are all in
        self._first: set[int] = set()
        self._waiting: deque[tuple[int, float]] = deque()  # (service, when queued)
        self._busy: set[int] = set()  # services queued or being checked
        self._idle: deque[asyncio.Future[None]] = deque()  # workers waiting for a check

    def check_now(self, name: str) -> bool:
        """Ask for an immediate check (e.g. on a `service.health.check` event). In a fleet
        only its owner checks it (every instance hears the event)."""
        i = self._index.get(name)
        if i is None:
            return False
        if self._owned is None or i in self._owned:
            self._urgent.add(i)
            self._wake()
        return True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def owns(self, name: str) -> bool:
        i = self._index.get(name)
        return i is not None and (self._owned is None or i in self._owned)

    def own(self, names: Collection[str] | None, last: Mapping[str, float] | None = None) -> None:
        """Check only ``names`` from now on (None: every service). A service that comes
        into the share is due an interval after its last check anywhere (``last``: the
        wall-clock times heard from the other instances; this source's own are known),
        at once if that has passed: so a moved share is checked within one interval and
        not twice in one. One that leaves is passed over from its next due time."""
        if names is None:
            owned = set(range(len(self.services)))
        else:
            owned = {self._index[n] for n in names if n in self._index}
        before = self._owned if self._owned is not None else set(range(len(self.services)))
        self._owned = None if names is None else owned
        gained = owned - before
        if self._first:  # a first round that will not come from here: not waited for
            self._first &= owned
            if not self._first:
                self.first_round.set()
        if not gained or not self._due_at:  # not started: its first round reads _owned
            return
        mono, wall = time.monotonic(), time.time()
        for i in gained:
            svc = self.services[i]
            seen = max(self._checked_at.get(i, 0.0), (last or {}).get(svc.name, 0.0))
            due = mono + min(max(0.0, seen + svc.interval - wall), svc.interval)
            self._due_at[i] = due
            heapq.heappush(self._due, (due, i))
        self._wake()

    async def run(self, intake: Intake) -> None:
        intake.observe(status(self.name, True, services=len(self.services)))
        if not self.services:
            self.first_round.set()
            await asyncio.Event().wait()
        now = time.monotonic()
        # The first round goes out at once (max_in_flight at a time): the screen waits for
        # it. Later rounds are spread (10 ms apart, at most over the shortest interval):
        # each service keeps its phase, so 1,000 endpoints never fire as one burst.
        spread = min(min(s.interval for s in self.services), 0.01 * len(self.services))
        self._due = []
        self._waiting.clear()  # a restart (the runtime's supervisor) starts afresh
        self._busy.clear()
        self._idle.clear()
        owned = self._owned
        for i, svc in enumerate(self.services):
            if svc.name not in self.later and (owned is None or i in owned):
                self._first.add(i)
                self._queue(i)
            due = now + spread * i / len(self.services) + svc.interval
            self._due.append((due, i))
            self._due_at[i] = due
        heapq.heapify(self._due)
        if not self._first:
            self.first_round.set()
        # max_in_flight workers take the due checks in turn: a task per check (its
        # creation, its entry in asyncio's task set, its end) cost more than the
        # scheduling itself, 100 times a second at 1,000 services.
        workers = [
            asyncio.create_task(self._work(intake)) for _ in range(self.checker.max_in_flight)
        ]
        try:
            while True:
                now = time.monotonic()
                for i in list(self._urgent):
                    self._urgent.discard(i)
                    if self._owned is None or i in self._owned:
                        self._queue(i)
                owned, due_at = self._owned, self._due_at
                while self._due and self._due[0][0] <= now:
                    at, i = heapq.heappop(self._due)
                    if due_at.get(i) != at:  # replaced by `own`'s entry
                        continue
                    svc = self.services[i]
                    jitter = (random.random() * 0.04 - 0.02) * svc.interval  # +-2 %
                    due_at[i] = next_at = now + svc.interval + jitter
                    heapq.heappush(self._due, (next_at, i))
                    if owned is None or i in owned:
                        self._queue(i)
                delay = self._due[0][0] - time.monotonic() if self._due else 3600.0
                await self._sleep(max(delay, TICK))
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.checker.close()

    def _queue(self, i: int) -> None:
        """Service ``i`` is due: queued for the next free worker, unless it is queued or
        being checked already (never two checks of one service at once)."""
        if i in self._busy:
            return
        self._busy.add(i)
        self._waiting.append((i, time.perf_counter()))
        idle = self._idle
        while idle:
            worker = idle.popleft()
            if not worker.done():
                worker.set_result(None)
                return

    async def _work(self, intake: Intake) -> None:
        """One worker: the queued checks, one at a time, waiting when there are none."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting
        while True:
            while not waiting:
                wake: asyncio.Future[None] = loop.create_future()
                self._idle.append(wake)
                await wake
            i, queued_at = waiting.popleft()
            try:
                await self._one(i, intake, queued_at)
            except Exception as exc:  # a bug in one check: the worker goes on to the next
                log.error(
                    "health check failed",
                    exc_info=exc,
                    extra={"fields": {"service": self.services[i].name}},
                )

    async def _sleep(self, delay: float) -> None:
        """Until ``delay`` has passed or check_now asks: a bare future and one timer, not
        asyncio.timeout around an Event. A cancel ends the wait at once (no wait_for,
        which on 3.11 can swallow one, and the source would never stop)."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(delay, _settle, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def _one(self, i: int, intake: Intake, queued_at: float) -> None:
        svc = self.services[i]
        try:
            # Queueing for a worker is included (a source whose checks queue is slow), but
            # not in the first round: it goes out all at once, so its queue says nothing
            # about the steady state (200 services would read "slow" for a minute).
            try:
                result = await self.checker.check(svc)
            finally:  # as sources.base.timed (a failed poll is timed too), inline: per check
                if i not in self._first:
                    intake.observe(Polled(self.name, time.perf_counter() - queued_at, svc.interval))
            # Replies that come back together are taken in one a turn of the loop, in
            # turn with the other background work (slices.my_turn): a request waits for
            # one, not for all ten of a tick (~0.25 ms of CPU each at 1,000 services).
            await my_turn()
            self.checks_done += 1
            self._checked_at[i] = result.ts
            intake.observe(result)
            if self.share is not None:
                self.share(result)
        finally:
            self._busy.discard(i)
            if i in self._first:
                self._first.discard(i)
                if not self._first:
                    self.first_round.set()

"""Scrapes one service's own Prometheus metrics on its interval (the Metrics Collector).

One source per scraping service (`scrape:<name>`), so a slow or dead target delays and
marks only itself; its failures (connection refused, timeout, an HTTP error, a page that
is not an exposition, too large a page) are its `SourceStatus`, never a crash. HTTP is
done as health/checker.py does it (aiohttp from aio.py, a total timeout, the service's
TLS settings); parsing runs in a worker thread that yields the GIL often
(scrape/exposition.py says why).

Each source parses on its own thread (a one-worker executor), never the loop's default
executor: that small pool also does aiohttp's DNS lookups for health checks, psutil,
docker and SMTP calls, and two large pages parsing there (kube-state-metrics, cadvisor)
held a lookup of "localhost" 4.66 s, so healthy services looked down. Own threads, not
one shared scrape pool: a slow page then delays only its own service (the source's
rule above), no parse queues behind another's, so its deadline is its own parse time;
the parser holds the GIL, so more threads would not parse faster, only apart. A parse
stops at its deadline (checked between pieces), and a scrape due while the previous
parse still runs is skipped and says so, so a source never holds more than one thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from devmentor_monitor.config.schema import MetricsScrape, ScrapeSettings, ServiceConfig
from devmentor_monitor.health.checker import describe_error
from devmentor_monitor.imports import off_loop
from devmentor_monitor.logs import mask_url
from devmentor_monitor.model import SourceState, SourceStatus
from devmentor_monitor.observations import Intake, Scraped
from devmentor_monitor.scrape.exposition import Parsed, parse_exposition
from devmentor_monitor.sources.base import every

if TYPE_CHECKING:  # imported (off the loop) when a scrape source runs: only if configured
    import ssl

    from devmentor_monitor.aio import aiohttp

log = logging.getLogger("devmentor_monitor.scrape")

MAX_BYTES = 16 * 1024 * 1024  # a page larger than this is refused, not read into memory
READ_CHUNK = 256 * 1024
PARSE_TIMEOUT = 10.0  # seconds a page may take to parse in its thread; then it stops
PARSE_GRACE = 2.0  # the wait's allowance past the deadline for the piece in hand
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"  # the text format, not protobuf


class ScrapeError(Exception):
    """A scrape that yielded nothing usable; the message is the source's reason."""


class ScrapeSource:
    """Fetch, parse, select, cap; hand the series to the intake as `Scraped`."""

    def __init__(self, service: ServiceConfig) -> None:
        assert service.metrics is not None
        self.service = service.name
        self.settings: MetricsScrape = service.metrics
        # Loading the config shares scrape.max_series out; a hand-built one gets it whole.
        self.cap = self.settings.max_series or ScrapeSettings().max_series
        self.name = f"scrape:{service.name}"
        self.tls: bool | ssl.SSLContext = service.tls_verify
        self._ca_file = service.ca_file if service.tls_verify else None
        self.scrapes = 0
        self.skipped = 0  # scrapes not made: the previous parse was still running
        self._dropping = False
        # Threads start on the first parse; shut down when run() ends.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._parsing: Future[Parsed] | None = None
        self._stop = threading.Event()  # set on stop: a running parse ends at its next piece

    async def run(self, intake: Intake) -> None:
        where = mask_url(self.settings.url)
        intake.observe(SourceStatus(self.name, SourceState.STARTING, f"first scrape of {where}"))
        await off_loop("devmentor_monitor.aio")
        if self._ca_file:
            import ssl  # aiohttp has imported it (asyncio_ssl.py)

            self.tls = ssl.create_default_context(cafile=self._ca_file)
        from devmentor_monitor.aio import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, ssl=self.tls),
            headers={"User-Agent": "devmentor-monitor", "Accept": ACCEPT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        try:
            await every(
                self.settings.interval,
                lambda: self.scrape_once(session, intake),
                (intake, self.name),
            )
        finally:
            self._stop.set()
            self._executor.shutdown(wait=False, cancel_futures=True)
            await session.close()

    async def scrape_once(self, session: aiohttp.ClientSession, intake: Intake) -> None:
        if self._parsing is not None and not self._parsing.done():
            self.skipped += 1  # its thread is busy: fetching now would queue a second parse
            intake.observe(
                SourceStatus(
                    self.name,
                    SourceState.UNAVAILABLE,
                    f"scrape skipped: the previous page is still being parsed "
                    f"(over {PARSE_TIMEOUT:g} s)",
                    retry_at=time.time() + self.settings.interval,
                    detail={"url": mask_url(self.settings.url), "skipped": self.skipped},
                )
            )
            return
        ts = time.time()
        start = time.perf_counter()
        try:
            body = await self._fetch(session)
            parsed = await self._parse(body)
        except ScrapeError as exc:
            intake.observe(
                SourceStatus(
                    self.name,
                    SourceState.UNAVAILABLE,
                    str(exc),
                    retry_at=time.time() + self.settings.interval,
                    detail={"url": mask_url(self.settings.url)},
                )
            )
            return
        self.scrapes += 1
        intake.observe(Scraped(self.service, ts, parsed.samples))
        intake.observe(self._status(parsed, len(body), time.perf_counter() - start))

    def _status(self, parsed: Parsed, size: int, took: float) -> SourceStatus:
        reason = f"{parsed.kept} series"
        if parsed.dropped:
            reason = (
                f"{parsed.kept} of {parsed.matched} series kept: {parsed.dropped} over "
                f"max_series ({self.cap}) dropped"
            )
            if not self._dropping:
                log.warning(
                    "scraped series over the cap dropped",
                    extra={
                        "fields": {
                            "service": self.service,
                            "kept": parsed.kept,
                            "dropped": parsed.dropped,
                        }
                    },
                )
        self._dropping = parsed.dropped > 0
        return SourceStatus(
            self.name,
            SourceState.OK,
            reason,
            last_ok=time.time(),
            detail={
                "url": mask_url(self.settings.url),
                "series": parsed.kept,
                "dropped": parsed.dropped,
                "bytes": size,
                "seconds": round(took, 4),
            },
        )

    async def _fetch(self, session: aiohttp.ClientSession) -> bytes:
        from devmentor_monitor.aio import aiohttp, tls_ready

        s = self.settings
        if s.url.startswith("https:"):
            await tls_ready()
        try:
            async with session.get(
                s.url, timeout=aiohttp.ClientTimeout(total=s.timeout), headers=dict(s.headers)
            ) as response:
                if response.status != 200:
                    raise ScrapeError(f"HTTP {response.status} {response.reason or ''}".strip())
                if (response.content_length or 0) > MAX_BYTES:
                    raise ScrapeError(f"page too large ({response.content_length} bytes)")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    size += len(chunk)
                    if size > MAX_BYTES:  # no Content-Length: stop reading at the cap
                        raise ScrapeError(f"page larger than {MAX_BYTES} bytes")
                    chunks.append(chunk)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise ScrapeError(describe_error(exc, s.timeout)) from None
        return b"".join(chunks)

    async def _parse(self, body: bytes) -> Parsed:
        s = self.settings
        deadline = time.monotonic() + PARSE_TIMEOUT
        self._parsing = self._executor.submit(
            lambda: parse_exposition(
                body.decode("utf-8", errors="replace"),
                self.service,
                s.include,
                self.cap,
                deadline,
                self._stop,
            )
        )
        try:
            # The parse stops itself at the deadline; this bound only covers a piece that
            # overruns it (one huge line), and the next scrape is then skipped.
            async with asyncio.timeout(PARSE_TIMEOUT + PARSE_GRACE):
                return await asyncio.wrap_future(self._parsing)
        except TimeoutError:  # the parse's ParseTimeout, or the wait's
            raise ScrapeError(f"parsing took over {PARSE_TIMEOUT:g} s") from None
        except (ValueError, IndexError, KeyError) as exc:  # the parser's ways of saying no
            detail = str(exc) or type(exc).__name__
            detail = detail if len(detail) <= 100 else detail[:97] + "..."
            raise ScrapeError(f"not a Prometheus text exposition: {detail}") from None

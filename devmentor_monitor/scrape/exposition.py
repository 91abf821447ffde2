"""A Prometheus text exposition → the series a service's `metrics.include` keeps, capped.

Runs in a worker thread (scrape/source.py), parsing with prometheus_client's parser in
pieces of whole lines and giving up the GIL between pieces: the parser is pure Python,
so while it runs the loop waits for the GIL, and by default it gets it back only every
5 ms switch interval, in convoys. Measured by bench/scrape.py's method on a 5,000-series
page (1 ms ticker, 12 rounds): worst stall median 26 ms parsed whole in a thread, 68 ms
parsed in 2 ms slices on the loop, 8.5 ms in 16-line pieces in a thread that yields
between them. Each piece starts with the `# TYPE` line of the family it continues, so
it parses on its own with the right type. prometheus_client is imported on the first
scrape, not at start-up (as server/exposition.py does for /metrics).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from devmentor_monitor.history.model import scraped_series
from devmentor_monitor.scrape.model import ScrapedSample, Selector, selected

# Families whose samples only grow (until a restart): counters, and the count, sum and
# buckets of histograms and summaries. A family written without TYPE counts as a counter
# when its name says so.
GROWING = {"counter", "histogram", "summary", "gaugehistogram"}
GROWING_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
PIECE_LINES = 16  # lines parsed between two yields of the GIL


@dataclass(frozen=True, slots=True)
class Parsed:
    """The series kept (at most ``cap``), and how many more the selectors chose."""

    samples: list[ScrapedSample]
    matched: int  # series the selectors chose (finite values only)
    dropped: int  # of those, over the cap

    @property
    def kept(self) -> int:
        return len(self.samples)


def pieces(text: str, lines: int = PIECE_LINES) -> Iterator[str]:
    """The page in pieces of whole lines; a piece that starts inside a family starts
    with that family's `# TYPE` line."""
    typed: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed = line
        if len(buf) >= lines:
            yield "\n".join(buf) + "\n"
            buf = [typed] if typed is not None and not line.startswith("# ") else []
        buf.append(line)
    if buf:
        yield "\n".join(buf) + "\n"


class Selection:
    """What the selectors keep of a page, fed piece by piece; `done` gives the result.
    Raises ValueError (or the parser's IndexError) on what is not an exposition."""

    def __init__(self, service: str, include: tuple[Selector, ...], cap: int) -> None:
        self.service, self.include, self.cap = service, include, cap
        self.samples: list[ScrapedSample] = []
        self.seen: set[str] = set()
        self.matched = 0

    def add(self, piece: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(piece):
            typed = family.type in GROWING
            for s in family.samples:
                if not math.isfinite(s.value) or not selected(self.include, s.name, s.labels):
                    continue
                series = scraped_series(self.service, s.name, s.labels)
                if series in self.seen:  # the same series twice on one page: the first counts
                    continue
                self.seen.add(series)
                self.matched += 1
                if len(self.samples) >= self.cap:
                    continue
                growing = typed or (family.type == "unknown" and s.name.endswith(GROWING_SUFFIXES))
                labels = tuple(sorted(s.labels.items()))
                self.samples.append(ScrapedSample(series, s.name, labels, float(s.value), growing))

    def done(self) -> Parsed:
        return Parsed(self.samples, self.matched, self.matched - len(self.samples))


class ParseTimeout(TimeoutError):
    """The parse passed its deadline and stopped (its thread is free again)."""


def parse_exposition(
    text: str,
    service: str,
    include: tuple[Selector, ...],
    cap: int,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> Parsed:
    """Every sample the selectors keep, in page order, until ``cap``; NaN and infinite
    values are left out (nothing to chart or compare). Call it in a thread: it yields
    the GIL after each piece, so the event loop runs in between. ``deadline`` (a
    time.monotonic() instant) is checked between pieces: past it, ParseTimeout; so is
    ``stop`` (the source is stopping). A timeout on the waiting side stops only the
    wait; this stops the work and frees the thread."""
    selection = Selection(service, include, cap)
    for piece in pieces(text):
        if stop is not None and stop.is_set():
            raise ParseTimeout("the scrape source stopped")
        if deadline is not None and time.monotonic() > deadline:
            raise ParseTimeout(f"parse passed its deadline after {selection.matched} series")
        selection.add(piece)
        time.sleep(0)  # the GIL goes to the event loop if it is waiting for it
    return selection.done()

"""A Prometheus text exposition → the series a service's `metrics.include` keeps, capped.

Runs in a worker thread (a node exporter's page is ~1,500 series, some tens of
milliseconds to parse); prometheus_client is imported here, on the first scrape, not at
start-up (as server/exposition.py does for /metrics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from devmentor_monitor.history.model import scraped_series
from devmentor_monitor.scrape.model import ScrapedSample, Selector, selected

# Families whose samples only grow (until a restart): counters, and the count, sum and
# buckets of histograms and summaries. A family written without TYPE counts as a counter
# when its name says so.
GROWING = {"counter", "histogram", "summary", "gaugehistogram"}
GROWING_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


@dataclass(frozen=True, slots=True)
class Parsed:
    """The series kept (at most ``cap``), and how many more the selectors chose."""

    samples: list[ScrapedSample]
    matched: int  # series the selectors chose (finite values only)
    dropped: int  # of those, over the cap

    @property
    def kept(self) -> int:
        return len(self.samples)


def parse_exposition(text: str, service: str, include: tuple[Selector, ...], cap: int) -> Parsed:
    """Every sample the selectors keep, in exposition order, until ``cap``; NaN and
    infinite values are left out (nothing to chart or compare). Raises ValueError on a
    page that is not a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: list[ScrapedSample] = []
    seen: set[str] = set()
    matched = 0
    for family in text_string_to_metric_families(text):
        typed = family.type in GROWING
        for s in family.samples:
            if not math.isfinite(s.value) or not selected(include, s.name, s.labels):
                continue
            series = scraped_series(service, s.name, s.labels)
            if series in seen:  # the same series twice on one page: the first counts
                continue
            seen.add(series)
            matched += 1
            if len(samples) >= cap:
                continue
            growing = typed or (family.type == "unknown" and s.name.endswith(GROWING_SUFFIXES))
            labels = tuple(sorted(s.labels.items()))
            samples.append(ScrapedSample(series, s.name, labels, float(s.value), growing))
    return Parsed(samples, matched, matched - len(samples))

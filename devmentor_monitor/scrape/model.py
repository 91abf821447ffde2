"""What a scrape yields, and the selectors that choose series (`metrics.include`, a
rule's `series`): one grammar for both, parsed once at config time.

A selector is a metric-name glob with optional label matchers whose values are globs
too: ``node_load*``, ``node_filesystem_avail_bytes{mountpoint="/"}``,
``http_requests_total{code="5*",method="GET"}``. Globs (``*``, ``?``, ``[...]``), not
regexes: exposed names are plain identifiers, and a glob cannot backtrack for ever on a
10,000-series scrape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase

import msgspec

Labels = tuple[tuple[str, str], ...]  # sorted by label name

_SELECTOR = re.compile(r"^([A-Za-z0-9_:*?\[\]!-]+)(?:\{(.*)\})?$", re.DOTALL)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"\\]*)"\s*(?:,|$)')
EXAMPLE = 'e.g. node_load1, node_* or node_filesystem_avail_bytes{mountpoint="/"}'


class ScrapedSample(msgspec.Struct, frozen=True):
    """One series of a scrape: its history name (history.model.scraped_series), the
    metric and labels as exposed, its value, and whether it only grows (a counter, or a
    histogram's or summary's count, sum and buckets: the detector is fed its rate)."""

    series: str
    metric: str
    labels: Labels
    value: float
    counter: bool = False


STALE_AFTER = 2.0  # scrape intervals: a series not seen for longer has no current value


class ScrapeSnapshot(msgspec.Struct, frozen=True):
    """A service's latest good scrape, as the store keeps it for rules and the detector;
    its values are current for STALE_AFTER intervals (one missed scrape is tolerated)."""

    ts: float
    interval: float
    by_metric: dict[str, list[ScrapedSample]]
    count: int

    @classmethod
    def of(cls, ts: float, interval: float, samples: list[ScrapedSample]) -> ScrapeSnapshot:
        by_metric: dict[str, list[ScrapedSample]] = {}
        for s in samples:
            by_metric.setdefault(s.metric, []).append(s)
        return cls(ts, interval, by_metric, len(samples))

    def fresh(self, now: float) -> bool:
        return now - self.ts <= STALE_AFTER * self.interval

    def samples(self) -> list[ScrapedSample]:
        return [s for group in self.by_metric.values() for s in group]

    def select(self, selector: Selector) -> list[ScrapedSample]:
        """The samples a selector matches (an exact name is one dict lookup)."""
        groups = (
            [self.by_metric.get(selector.name, [])]
            if selector.exact
            else [g for m, g in self.by_metric.items() if fnmatchcase(m, selector.name)]
        )
        return [s for g in groups for s in g if selector.matches(s.metric, dict(s.labels))]


class Selector(msgspec.Struct, frozen=True):
    """A metric-name glob and label-value globs; all must match."""

    text: str
    name: str
    labels: Labels = ()

    def __str__(self) -> str:
        return self.text

    @property
    def exact(self) -> bool:
        """The name is a plain metric name (no glob characters)."""
        return not any(c in self.name for c in "*?[")

    def matches(self, metric: str, labels: Mapping[str, str]) -> bool:
        if not (metric == self.name if self.exact else fnmatchcase(metric, self.name)):
            return False
        return all(fnmatchcase(labels.get(k, ""), v) for k, v in self.labels)


def parse_selector(text: str) -> Selector:
    """A Selector, or ValueError saying what is wrong (for config errors)."""
    m = _SELECTOR.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a series selector ({EXAMPLE})")
    name, inner = m.group(1), m.group(2)
    labels: list[tuple[str, str]] = []
    if inner is not None and inner.strip():
        pos = 0
        while pos < len(inner):
            lm = _MATCHER.match(inner, pos)
            if lm is None or lm.end() == pos:
                raise ValueError(
                    f'{text!r}: label matchers are written label="value", comma-separated '
                    f"({EXAMPLE})"
                )
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
    names = [k for k, _ in labels]
    if len(set(names)) != len(names):
        raise ValueError(f"{text!r}: a label is matched twice")
    return Selector(text.strip(), name, tuple(sorted(labels)))


def selected(selectors: tuple[Selector, ...], metric: str, labels: Mapping[str, str]) -> bool:
    """Whether a series is kept: no selectors keep every series (up to the cap)."""
    return not selectors or any(s.matches(metric, labels) for s in selectors)

"""The routing tree: which channels an alert goes to, and with what timing, by its labels.

Copied from Alertmanager's route tree: a route matches when every `match` label equals its
value and every `match_re` label matches its regex (anchored, re.fullmatch); a label the
alert lacks reads as "". Matching is depth-first from the root (which matches everything):
the first matching child wins unless it says `continue_`, in which case its later siblings
are tried too; a node no child of which matches handles the alert itself. A child leaves a
setting unset (None) to inherit it from its parent.

Simplified: a route names channels (notifications.channels names), not receivers, and there
are no mute time intervals (maintenance windows cover them). Without `alerting.route` the
tree is one root sending to every active channel, which is the behaviour before routes
(ALERT_CHANNELS still selects them).

Self-contained: nothing here sends anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devmentor_monitor.incidents.silences import compile_label_regex
from devmentor_monitor.notify.settings import active_channels

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config, RouteConfig

DEFAULT_GROUP_BY = ("service",)
DEFAULT_GROUP_WAIT = 5.0  # Alertmanager: 30 s; failure_threshold already waits some checks
DEFAULT_GROUP_INTERVAL = 60.0
DEFAULT_REPEAT_INTERVAL = 0.0  # off: notifications.escalate_after is the reminder


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Where and how an alert is sent: the matching route's settings, inherited ones
    resolved. ``path`` is the route's position (child indexes from the root; () is the
    root), to say why an alert went where it did."""

    channels: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    path: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Settings:
    channels: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float


_ROOT = _Settings(
    (), DEFAULT_GROUP_BY, DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL
)


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A node of the tree. None settings are inherited from the parent (at the root: the
    defaults above, and no channels). Regexes are compiled when the route is made: a bad
    one raises ValueError."""

    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[str, ...] | None = None
    continue_: bool = False
    group_by: tuple[str, ...] | None = None
    group_wait: float | None = None
    group_interval: float | None = None
    repeat_interval: float | None = None
    routes: tuple[Route, ...] = ()
    _patterns: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        patterns = tuple((k, compile_label_regex(v)) for k, v in self.match_re.items())
        object.__setattr__(self, "_patterns", patterns)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """This node's own matchers (not its parents') hold for ``labels``."""
        return all(labels.get(k, "") == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) is not None for k, p in self._patterns
        )

    def route_for(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        """The routes that handle ``labels``, in order (several through continue_). The
        root matches every alert, so the list is never empty."""
        return self._walk(labels, _ROOT, ()) or [self._match(_ROOT, ())]

    def _settings(self, parent: _Settings) -> _Settings:
        return _Settings(
            parent.channels if self.channels is None else self.channels,
            parent.group_by if self.group_by is None else self.group_by,
            parent.group_wait if self.group_wait is None else self.group_wait,
            parent.group_interval if self.group_interval is None else self.group_interval,
            parent.repeat_interval if self.repeat_interval is None else self.repeat_interval,
        )

    def _match(self, parent: _Settings, path: tuple[int, ...]) -> RouteMatch:
        s = self._settings(parent)
        return RouteMatch(
            s.channels, s.group_by, s.group_wait, s.group_interval, s.repeat_interval, path
        )

    def _walk(
        self, labels: Mapping[str, str], parent: _Settings, path: tuple[int, ...]
    ) -> list[RouteMatch]:
        if path and not self.matches(labels):  # the root matches everything
            return []
        mine = self._settings(parent)
        out: list[RouteMatch] = []
        for i, child in enumerate(self.routes):
            found = child._walk(labels, mine, (*path, i))
            out += found
            if found and not child.continue_:
                break
        return out or [self._match(parent, path)]

    def channel_names(self) -> set[str]:
        """Every channel named anywhere in the tree."""
        out = set(self.channels or ())
        for child in self.routes:
            out |= child.channel_names()
        return out


def route_for(root: Route, labels: Mapping[str, str]) -> list[RouteMatch]:
    """`root.route_for(labels)`."""
    return root.route_for(labels)


def default_route(channels: Sequence[str]) -> Route:
    """Today's behaviour: one root sending everything to ``channels``."""
    return Route(channels=tuple(channels))


def build_route(config: RouteConfig | None, active: Sequence[str]) -> Route:
    """The tree from `alerting.route` (None: `default_route(active)`). ``active`` are the
    channel names in use (ALERT_CHANNELS may select fewer than are configured): a root
    without channels sends to all of them, and a route's channels not among them are left
    out."""
    if config is None:
        return default_route(active)
    root = _build(config, set(active))
    if root.channels is None:
        root = Route(
            channels=tuple(active),
            group_by=root.group_by,
            group_wait=root.group_wait,
            group_interval=root.group_interval,
            repeat_interval=root.repeat_interval,
            routes=root.routes,
        )
    return root


def _build(c: RouteConfig, active: set[str]) -> Route:
    return Route(
        match=dict(c.match),
        match_re=dict(c.match_re),
        channels=None if c.channels is None else tuple(n for n in c.channels if n in active),
        continue_=c.continue_,
        group_by=c.group_by,
        group_wait=c.group_wait,
        group_interval=c.group_interval,
        repeat_interval=c.repeat_interval,
        routes=tuple(_build(child, active) for child in c.routes),
    )


def routes_from_config(config: Config) -> Route:
    """The tree for a loaded config: `alerting.route` over the active channels."""
    names = [c.name for c in active_channels(config.notifications, config.alert_channels)]
    return build_route(config.alerting.route, names)


__all__ = [
    "DEFAULT_GROUP_BY",
    "DEFAULT_GROUP_INTERVAL",
    "DEFAULT_GROUP_WAIT",
    "DEFAULT_REPEAT_INTERVAL",
    "Route",
    "RouteMatch",
    "build_route",
    "default_route",
    "route_for",
    "routes_from_config",
]

"""What sources observe, as typed records, and the one intake they hand them to.

A source calls ``intake.observe(record)`` for every observation: a `CheckResult`, a
`SystemSample`, a `SourceStatus`, a `WorkloadEvent`, or one of the batch records below
(`Scraped`: a service's own metrics), or the fleet as this instance sees it (`FleetView`,
cluster/state.py).
Batches stay batches (one record per read, never one per event). Stream mode hands its
batch to ``observe_durable``, which returns once the batch is on disk, so the source may
acknowledge it. The runtime's `intake.StoreIntake` implements `Intake`; sources never
see the store.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import msgspec

from devmentor_monitor.cluster.state import FleetView
from devmentor_monitor.custom.model import CustomSample
from devmentor_monitor.events.model import Event, Rejected
from devmentor_monitor.model import CheckResult, SourceStatus, SystemSample
from devmentor_monitor.scrape.model import ScrapedSample
from devmentor_monitor.workloads.model import ContainerInfo, WorkloadEvent


class EventsAccepted(msgspec.Struct, frozen=True):
    """Platform events parsed from one read, in arrival order (the list is not copied)."""

    batch: list[Event]


class EventRejected(msgspec.Struct, frozen=True):
    """A message that was not an event, with why, where from and (a prefix of) what."""

    origin: str
    reason: Rejected
    raw: bytes | str


class ContainersListed(msgspec.Struct, frozen=True):
    """A full Docker poll: these are all the containers there are."""

    items: list[ContainerInfo]


class KubeListed(msgspec.Struct, frozen=True):
    """A full Kubernetes list of one kind (pods, deployments, nodes, events), by key."""

    kind: str
    items: dict[str, Any]


class KubeChanged(msgspec.Struct, frozen=True):
    """One object from a watch: added or modified (item), or deleted (None)."""

    kind: str
    key: str
    item: Any | None


class Scraped(msgspec.Struct, frozen=True):
    """One good scrape of a service's own metrics: the series its include kept (capped)."""

    service: str
    ts: float
    samples: list[ScrapedSample]


class Pushed(msgspec.Struct, frozen=True):
    """Custom metric samples accepted by POST /api/metrics (custom/pusher.py); ``stored``:
    read back from history at start, so kept as latest values but not written again."""

    samples: list[CustomSample]
    stored: bool = False


class Beat(msgspec.Struct, frozen=True):
    """A heartbeat service said it is alive (POST /api/heartbeat/{name}); ``stored``: for
    the store only, as history has it (read back at start) or will (the source writes a
    service's last beat with its next judgement, so a fast beater adds one row an interval)."""

    service: str
    ts: float
    stored: bool = False


class SharedChecks(msgspec.Struct, frozen=True):
    """Check results another instance of the fleet ran and shared (cluster/node.py): the
    live store takes them as its own; the history does not, since the instance that ran
    each check wrote it to the shared history (one writer per result)."""

    results: list[CheckResult]


class Polled(msgspec.Struct, frozen=True):
    """One poll of a source took ``seconds``; it should keep to ``interval`` (selfcost.py)."""

    source: str
    seconds: float
    interval: float


Observation: TypeAlias = (
    CheckResult
    | SystemSample
    | SourceStatus
    | WorkloadEvent
    | EventsAccepted
    | EventRejected
    | ContainersListed
    | KubeListed
    | KubeChanged
    | Scraped
    | Pushed
    | Beat
    | Polled
    | FleetView
    | SharedChecks
)


class Intake(Protocol):
    """Where sources hand what they observe. Never raises for a source's observation."""

    def observe(self, obs: Observation) -> None: ...

    async def observe_durable(self, obs: EventsAccepted) -> None:
        """Like ``observe``, returning once the events are on disk (then the source acks)."""

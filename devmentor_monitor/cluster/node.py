"""`ClusterNode`: this instance in the fleet. A supervised source (runtime.py) that beats
in the member list, holds or watches the leader lease, tells the health source which
share of the checks is this instance's, and shares check results both ways.

- Membership every `cluster.heartbeat` (membership.py); the live members split the
  services by rendezvous (rendezvous.py); on a change only the moved share changes
  hands (HealthSource.own). Scrapes of services' own metrics and pushed heartbeats stay
  per instance as they were: only the health checks are split.
- Results: each result checked here goes out on ``devmentor-cluster:checks`` (msgspec
  JSON: the sender's id and a batch of CheckResults); every other instance feeds them to
  its intake (as `SharedChecks`: the live store as if it had checked them, not the
  history, which the sender wrote once for the fleet), so /api/services, the TUI and
  the history are the same on every instance within an interval. A sender hears its
  own and drops them.
- The lease (lease.py): ``on_leader(token)`` is called when leadership changes: an int,
  this instance's fencing token, when it becomes leader; None when it stops being leader
  (lost lease, Redis unreachable, stop). Never called without a cluster: a solo instance
  is its own one writer, as before.
- Redis unreachable: mode "fallback": this instance runs every check (duplicates over
  blindness), is not leader, and says so as the "cluster" source (header, /health); it
  retries with backoff and rejoins by itself when Redis answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from devmentor_monitor.backoff import Backoff
from devmentor_monitor.cluster.lease import Lease, LeaseAnswer
from devmentor_monitor.cluster.membership import (
    CHECKS,
    TTL_BEATS,
    Beat,
    MemberInfo,
    Membership,
)
from devmentor_monitor.cluster.rendezvous import owner, share
from devmentor_monitor.cluster.state import FleetView, Member, Mode, default_id
from devmentor_monitor.model import CheckResult, SourceState, SourceStatus
from devmentor_monitor.observations import SharedChecks

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from devmentor_monitor.config.schema import Config
    from devmentor_monitor.health.checker import HealthSource
    from devmentor_monitor.observations import Intake

log = logging.getLogger("devmentor_monitor.cluster")
BATCH = 500  # results per published message at most
RECEIVE_POLL = 1.0  # seconds a read of the channel waits before looking again
# Results gather this long before they go out in one message. Sent as each check ended,
# a member of 3 at 3,000 services/10 s sent ~100 messages a second and each other member
# read ~200, a redis-py read and an event-loop wake each, a cost every instance paid for
# the whole fleet's checks (bench/fleet.py); gathered, 4 a second each way.
PUBLISH_EVERY = 0.25


class Shared(msgspec.Struct, frozen=True):
    """One message on the checks channel: results, and heartbeats pushed to the sender
    (service, when), which a load balancer sent to it alone."""

    sender: str
    results: list[CheckResult]
    beats: list[tuple[str, float]] = []


class ClusterNode:
    """See the module's docstring. ``services``: the names of the checked services, in
    the same config on every instance (their split is worked out from it)."""

    name = "cluster"

    def __init__(
        self,
        redis_url: str,
        health: HealthSource,
        *,
        me: str,
        advertise: str,
        heartbeat: float,
        lease: float,
        on_leader: Callable[[int | None], None] | None = None,
        started: float | None = None,
    ) -> None:
        self.url = redis_url
        self.health = health
        self.me = me
        self.advertise = advertise
        self.heartbeat = heartbeat
        self.lease_s = lease
        self.on_leader = on_leader
        self.started = time.time() if started is None else started
        self.services: tuple[str, ...] = tuple(s.name for s in health.services)
        self._known = frozenset(self.services)
        self.mode: Mode = "member"
        self.reason = "joining"
        self.members: tuple[str, ...] = ()
        self._infos: dict[str, MemberInfo] = {}
        self._counts: dict[str, int] = {}
        self.leader: str | None = None
        self.token: int | None = None
        self._lease: Lease | None = None
        self._last_seen: dict[str, float] = {}  # service -> newest result heard from others
        self._outbox: deque[CheckResult] = deque(maxlen=max(100, 2 * len(self.services)))
        self._beats: deque[tuple[str, float]] = deque(maxlen=1000)
        self.heard_beat: Callable[[str, float], object] | None = None  # another's beat
        self._ready = asyncio.Event()
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(Shared).decode
        self._intake: Intake | None = None
        self._view: FleetView | None = None
        self.received = 0
        self.published = 0
        self.rejected = 0
        health.share = self._share

    @classmethod
    def from_config(
        cls,
        config: Config,
        health: HealthSource,
        on_leader: Callable[[int | None], None] | None = None,
    ) -> ClusterNode:
        c, server = config.cluster, config.server
        assert config.redis_url is not None, "config: cluster.enabled needs redis.url"
        scheme = "https" if server.tls is not None else "http"
        return cls(
            config.redis_url,
            health,
            me=c.id or default_id(),
            advertise=c.advertise or f"{scheme}://{server.host}:{server.port}",
            heartbeat=c.heartbeat,
            lease=c.lease,
            on_leader=on_leader,
        )

    # ------------------------------------------------------------------ supervision
    async def run(self, intake: Intake) -> None:
        self._intake = intake
        self._tell(intake)
        backoff = Backoff(self.heartbeat, min(30.0, max(1.0, 10 * self.heartbeat)))
        while True:
            backoff.started()
            try:
                await self._session(intake, backoff)
                why = "the connection ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis-py's errors, OSError, timeouts: all state
                why = _describe(exc)
            retry = backoff.next()
            self._fall_back(intake, why, time.time() + retry)
            await asyncio.sleep(retry)

    async def _session(self, intake: Intake, backoff: Backoff) -> None:
        """Connected: join, then beat, hold or watch the lease, share results, until
        something fails (raised) or the node is cancelled (it leaves the fleet)."""
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A beat's own time to answer; no retries inside redis-py (its default tries 3
        # more times with backoff): a failure is seen at once, and this loop retries.
        wait = max(0.5, min(self.heartbeat, 5.0))
        client = aioredis.from_url(
            self.url,
            socket_connect_timeout=wait,
            socket_timeout=wait,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        membership = Membership(
            client,
            self.me,
            MemberInfo(self.advertise, self.started),
            TTL_BEATS * self.heartbeat,
        )
        self._lease = lease = Lease(client, self.me, self.lease_s)
        tasks: list[asyncio.Task[None]] = []
        try:
            await pubsub.subscribe(CHECKS)  # before the first beat: nothing shared is missed
            self._outbox.clear()  # results from before: stale, the checks go on anyway
            self._beats.clear()
            self._joined(intake, await membership.beat())
            backoff.reset()
            tasks = [
                asyncio.create_task(self._beating(intake, membership), name="cluster:beat"),
                asyncio.create_task(self._leasing(intake, lease), name="cluster:lease"),
                asyncio.create_task(self._receiving(intake, pubsub), name="cluster:receive"),
                asyncio.create_task(self._publishing(client), name="cluster:publish"),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the failure, raised
        except asyncio.CancelledError:
            with contextlib.suppress(Exception, TimeoutError):  # stopping: leave now
                async with asyncio.timeout(1.0):
                    await membership.leave()
            self._set_token(None)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._lease = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()

    # ------------------------------------------------------------------ the loops
    async def _beating(self, intake: Intake, membership: Membership) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            self._joined(intake, await membership.beat())

    async def _leasing(self, intake: Intake, lease: Lease) -> None:
        """Renew at a third of the lease while held; otherwise try again when the
        holder's lease runs out (its PTTL), so a dead leader is replaced within it."""
        third = self.lease_s / 3
        while True:
            if lease.token is not None and lease.held() is None:  # late: paused too long
                lease.drop()
                self._set_token(None)
            answer = await lease.attempt()
            self._leased(intake, answer)
            if answer.token is not None:
                delay = third
            elif answer.pttl > 0:
                delay = min(third, answer.pttl + 0.005)
            else:
                delay = min(third, 0.05)
            await asyncio.sleep(delay)

    async def _receiving(self, intake: Intake, pubsub: Any) -> None:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=RECEIVE_POLL)
            if msg is None or msg.get("type") != "message":
                continue
            try:
                batch = self._decode(msg["data"])
            except (msgspec.DecodeError, TypeError, ValueError):
                self.rejected += 1
                continue
            if batch.sender == self.me:
                continue
            seen, known = self._last_seen, self._known
            heard = self.heard_beat
            if heard is not None:
                for name, at in batch.beats:
                    heard(name, at)
            results = [r for r in batch.results if r.service in known]  # not another config's
            for result in results:
                if result.ts > seen.get(result.service, 0.0):
                    seen[result.service] = result.ts
            self.received += len(results)
            if results:  # the live store only: the sender wrote them to the history
                intake.observe(SharedChecks(results))

    async def _publishing(self, client: aioredis.Redis) -> None:
        outbox, beats = self._outbox, self._beats
        while True:
            await self._ready.wait()
            await asyncio.sleep(PUBLISH_EVERY)  # what else ends meanwhile goes with it
            self._ready.clear()
            while outbox or beats:
                batch = [outbox.popleft() for _ in range(min(BATCH, len(outbox)))]
                pushed = [beats.popleft() for _ in range(min(BATCH, len(beats)))]
                await client.publish(CHECKS, self._encode(Shared(self.me, batch, pushed)))
                self.published += len(batch)

    def share_beat(self, name: str, at: float) -> None:
        """The heartbeat source's hook: a beat pushed to this instance, for the others."""
        if self.mode == "member":
            self._beats.append((name, at))
            self._ready.set()

    def _share(self, result: CheckResult) -> None:
        """The health source's hook: a result checked here, for the others."""
        if self.mode == "member":
            self._outbox.append(result)
            self._ready.set()

    # ------------------------------------------------------------------ state
    def _joined(self, intake: Intake, beat: Beat) -> None:
        """A heartbeat's answer: the members, and so this instance's share."""
        members = tuple(sorted(beat.members))
        changed = self.mode != "member" or members != self.members
        if changed:
            if self.mode == "fallback":
                log.info("cluster: rejoined", extra={"fields": {"members": len(members)}})
            self.mode, self.reason = "member", ""
            self.members = members
            self._counts = dict(Counter(owner(s, members) or "" for s in self.services))
            mine = share(self.services, members, self.me)
            self.health.own(mine, self._last_seen)
            log.info(
                "cluster: members changed",
                extra={"fields": {"members": list(members), "checks_here": len(mine)}},
            )
        self._infos = dict(beat.members)
        if self.token is None and beat.leader != self.leader:  # ours: the lease says
            self.leader = beat.leader
            changed = True
        if changed:
            self._tell(intake)

    def _leased(self, intake: Intake, answer: LeaseAnswer) -> None:
        changed = answer.holder != self.leader
        self.leader = answer.holder
        if answer.token != self.token:
            self._set_token(answer.token)
            changed = True
        if changed:
            self._tell(intake)

    def _set_token(self, token: int | None) -> None:
        """Leadership changed: say so, and tell the runtime's hook."""
        if token == self.token:
            return
        self.token = token
        if token is None:
            log.warning("cluster: not leader any more", extra={"fields": {"id": self.me}})
            if self.leader == self.me:
                self.leader = None
        else:
            log.info("cluster: leader", extra={"fields": {"id": self.me, "token": token}})
        if self.on_leader is not None:
            try:
                self.on_leader(token)
            except Exception as exc:  # the hook's bug is not the end of the fleet
                log.error("cluster: on_leader failed", exc_info=exc)

    def _fall_back(self, intake: Intake, why: str, retry_at: float) -> None:
        """Redis unreachable: every check here, not leader, said so."""
        if self._lease is not None:
            self._lease.drop()
        self._set_token(None)
        # what it means first: a narrow header cuts the end, the error
        reason = f"redis unreachable, running all {len(self.services)} checks: {why}"
        if self.mode != "fallback":
            log.warning("cluster: fallback", extra={"fields": {"reason": reason}})
            self.health.own(None, self._last_seen)
        self.mode, self.reason = "fallback", reason
        self.members, self.leader, self._counts = (), None, {}
        self._tell(intake, retry_at)

    def leading_token(self) -> int | None:
        """Our fencing token if the lease is ours right now by the local deadline too
        (lease.py): for a write that must not go out from a leader paused past its
        lease; the store's fence refuses it anyway."""
        return self._lease.held() if self._lease is not None else None

    def view(self) -> FleetView:
        if self.mode == "fallback":
            members: tuple[Member, ...] = ()
        else:
            members = tuple(
                Member(
                    m,
                    self._infos[m].url if m in self._infos else "",
                    self._infos[m].started if m in self._infos else 0.0,
                    self._counts.get(m, 0),
                )
                for m in self.members
            )
        return FleetView(
            me=self.me,
            mode=self.mode,
            members=members,
            leader=self.leader,
            token=self.token,
            reason=self.reason,
        )

    def _tell(self, intake: Intake, retry_at: float | None = None) -> None:
        view = self.view()
        if view == self._view and retry_at is None:
            return
        self._view = view
        intake.observe(view)
        mine = self._counts.get(self.me, 0)
        if view.mode == "fallback":
            status = SourceStatus(
                self.name, SourceState.UNAVAILABLE, view.reason, retry_at=retry_at
            )
        elif not view.members:
            status = SourceStatus(self.name, SourceState.STARTING, "joining the fleet")
        else:
            lead = "this instance" if view.leading else (view.leader or "none yet")
            status = SourceStatus(
                self.name,
                SourceState.OK,
                f"fleet of {len(view.members)}, {mine} of {len(self.services)} checks "
                f"here, leader {lead}",
                last_ok=time.time(),
                detail={"id": self.me, "members": [m.id for m in view.members]},
            )
        intake.observe(status)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError):
        text = "no answer in time"
    return text if len(text) <= 120 else text[:117] + "..."

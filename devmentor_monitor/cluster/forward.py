"""Incident and silence writes asked of a follower, made by the fleet's leader.

The leader's incident engine is the one writer of incidents (it alone holds them whole:
signals, groups, paging state), so an acknowledgement or a silence asked of any other
instance, from its API or its TUI, is handed to the leader over Redis and made there, once:
written, audited and notified by the one engine, with the caller's name and address. A
request goes on the leader's list (`LPUSH`), the answer on a list of the request's own,
read with `BLPOP` and a deadline, so a leader that dies mid-request costs a clear 503,
never a write made twice. With no leader known (Redis unreachable, an election under way)
the write is made where it was asked, as a lone instance would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from devmentor_monitor.cluster.membership import PREFIX
from devmentor_monitor.incidents.engine import Actor, IncidentError
from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.incidents.silence_book import SilenceError
from devmentor_monitor.incidents.silences import Matcher, Silence

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("devmentor_monitor.cluster")

REPLY_PREFIX = PREFIX + "reply:"
ANSWER_WITHIN = 5.0  # seconds a follower waits for the leader's answer, then 503
REPLY_TTL = 30  # seconds an answer nobody read stays in Redis


def _silence(raw: bytes) -> Silence:
    doc = msgspec.json.decode(raw)
    matchers = tuple(Matcher.from_json(m) for m in doc.pop("matchers"))
    return Silence(matchers=matchers, **doc)


def _incident(raw: bytes) -> Incident:
    return msgspec.json.decode(raw, type=Incident)


# What is carried, and how its answer is read back.
ANSWERS: dict[str, Callable[[bytes], Any]] = {
    "incident.open": _incident,
    "incident.acknowledge": _incident,
    "incident.resolve": _incident,
    "silence.create": _silence,
    "silence.expire": _silence,
}


def encode(result: Incident | Silence) -> bytes:
    """An answer's body: an Incident as msgspec writes it, a Silence as its API shape
    (its matchers hold compiled patterns)."""
    if isinstance(result, Silence):
        return msgspec.json.encode(result.to_json())
    return msgspec.json.encode(result)


class Request(msgspec.Struct, frozen=True):
    op: str
    args: dict[str, Any]
    actor: tuple[str, str]  # Actor(name, source)
    reply: str  # the list the answer goes on


class Answer(msgspec.Struct, frozen=True):
    ok: bool
    body: msgspec.Raw = msgspec.Raw(b"null")  # the Incident or Silence, as JSON
    status: int = 200  # an IncidentError / SilenceError's status when not ok
    error: str = ""
    kind: str = ""  # "incident" or "silence": which error to raise again


Handler = Callable[[str, dict[str, Any], Actor], Awaitable[Any]]


def requests_key(member: str) -> str:
    return f"{PREFIX}rpc:{member}"


class Forwarder:
    """Both ends: `call` on a follower, `serve` on the leader (while it leads).

    ``leader``: who leads now (None: nobody known); ``me``: this instance's id."""

    def __init__(
        self,
        client: Redis,
        me: str,
        leader: Callable[[], str | None],
        *,
        alone: Callable[[], bool] = lambda: True,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        """``alone``: is this instance on its own (Redis unreachable: a fallback), so a
        write with no leader known is made here?"""
        self._client = client
        self.me = me
        self._leader = leader
        self._alone = alone
        self.answer_within = answer_within
        self.forwarded = 0
        self.served = 0

    def elsewhere(self) -> str | None:
        """The leader to hand a write to; None: make it here (this instance leads, or
        it is alone: ``alone``). IncidentError 503 while an election is under way: a
        write made here then would be undone by the next leader's."""
        leader = self._leader()
        if leader is None and not self._alone():
            why = "the fleet is choosing its leader (a few seconds): nothing was changed"
            raise IncidentError(503, why + ", try again")
        return leader if leader and leader != self.me else None

    async def call(self, leader: str, op: str, args: dict[str, Any], actor: Actor) -> Any:
        """The leader's answer to ``op``: the Incident or Silence it wrote, or its
        IncidentError / SilenceError raised again here. 503 when it does not answer."""
        import redis

        reply = f"{REPLY_PREFIX}{secrets.token_hex(8)}"
        body = msgspec.json.encode(Request(op, args, (actor.name, actor.source), reply))
        queue = requests_key(leader)
        try:
            await self._client.lpush(queue, body)
            await self._client.expire(queue, REPLY_TTL)
            got = await self._client.blpop([reply], timeout=self.answer_within)
            # Not answered: taken back if still queued, so it is never made after the
            # caller was told it was not; if the leader took it already, it may be.
            taken_back = got is None and bool(await self._client.lrem(queue, 1, body.decode()))
        except (redis.RedisError, OSError) as exc:
            why = f"the fleet's leader {leader} is not reachable: {exc}"
            raise IncidentError(503, why) from exc
        if got is None:
            outcome = (
                "nothing was changed, try again"
                if taken_back
                else "it may still be made: look before trying again"
            )
            raise IncidentError(
                503,
                f"the fleet's leader {leader} did not answer within "
                f"{self.answer_within:g} s; {outcome}",
            )
        self.forwarded += 1
        answer = msgspec.json.decode(got[1], type=Answer)
        if not answer.ok:
            error = SilenceError if answer.kind == "silence" else IncidentError
            raise error(answer.status, answer.error)
        return ANSWERS[op](bytes(answer.body))

    async def serve(self, handle: Handler) -> None:
        """Answer requests put on this instance's list until cancelled (the runtime runs
        it while this instance leads). Each request runs in its own task, so one slow
        write does not hold the others."""
        import redis

        running: set[asyncio.Task[None]] = set()
        key = requests_key(self.me)
        try:
            while True:
                try:
                    got = await self._client.blpop([key], timeout=1)
                except (redis.RedisError, OSError):  # Redis away: the node says so
                    await asyncio.sleep(1.0)
                    continue
                if got is None:
                    continue
                try:
                    request = msgspec.json.decode(got[1], type=Request)
                    if not request.reply.startswith(REPLY_PREFIX):  # answers go there only
                        raise msgspec.DecodeError(f"reply key {request.reply[:60]!r}")
                except msgspec.DecodeError as exc:
                    log.warning(
                        "bad forwarded request dropped", extra={"fields": {"why": str(exc)}}
                    )
                    continue
                task = asyncio.create_task(self._answer(request, handle))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()

    async def close(self) -> None:
        await self._client.aclose()

    async def _answer(self, request: Request, handle: Handler) -> None:
        actor = Actor(*request.actor)
        if request.op not in ANSWERS:
            answer = Answer(False, status=400, error=f"unknown operation {request.op!r}")
        else:
            try:
                result = await handle(request.op, request.args, actor)
                answer = Answer(True, msgspec.Raw(encode(result)))
            except IncidentError as exc:
                answer = Answer(False, status=exc.status, error=str(exc), kind="incident")
            except SilenceError as exc:
                answer = Answer(False, status=exc.status, error=str(exc), kind="silence")
            except Exception as exc:  # the caller hears it; this leader keeps serving
                log.error(
                    "forwarded write failed", exc_info=exc, extra={"fields": {"op": request.op}}
                )
                answer = Answer(False, status=500, error=f"{type(exc).__name__}: {exc}")
        self.served += 1
        with contextlib.suppress(Exception):  # the asker gives up after its deadline anyway
            await self._client.lpush(request.reply, msgspec.json.encode(answer))
            await self._client.expire(request.reply, REPLY_TTL)

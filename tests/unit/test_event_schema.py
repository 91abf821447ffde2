"""The event schema, the event log, the Redis reply reader and the live feed."""

from __future__ import annotations

import asyncio
import json

import pytest

from devmentor_monitor.bus import Bus
from devmentor_monitor.events.model import (
    Event,
    EventLog,
    EventSeverity,
    Rejected,
    merge_newest,
    parse_event,
)
from devmentor_monitor.events.resp import PyReader, RespError, command, parse_url


def wire(**kw: object) -> bytes:
    body = {
        "type": "deploy.finished",
        "service": "auth",
        "severity": "info",
        "message": "v2",
        "ts": 1_700_000_000,
    }
    body.update(kw)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_a_good_event_parses_with_ms_and_iso_times() -> None:
    e = parse_event(wire(ts=1_700_000_000_500, data={"v": 2}), "redis:x", 1000)
    assert (e.type, e.service, e.severity, e.data) == (
        "deploy.finished",
        "auth",
        EventSeverity.INFO,
        {"v": 2},
    )
    assert e.ts == pytest.approx(1_700_000_000.5)
    assert e.is_change
    iso = parse_event(wire(ts="2026-11-22T05:00:00Z"), "redis:x", 1000)
    assert iso.ts == 1795323600.0


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"{oops", "malformed_json", "Expecting"),
        (b"[1]", "not_an_object", "list"),
        (wire(service=...), "missing_field", "no service"),
        (wire(service=7), "wrong_type", "service must be a string"),
        (wire(severity="fatal"), "bad_value", "severity 'fatal'"),
        (wire(type="Deploy Finished"), "bad_value", "dotted lower-case"),
        (wire(ts=[1]), "wrong_type", "ts must be"),
        (wire(ts="yesterday"), "bad_value", "ISO 8601"),
        (wire(data=[1]), "wrong_type", "data must be an object"),
        (wire(message="x" * 2000), "oversized", "limit is 1000"),
        pytest.param(b"[" * 400 + b"]" * 400, "too_deep", "deeper than 64", id="deep-array"),
        pytest.param(
            wire(data={"a": json.loads("[" * 70 + "]" * 70)}),
            "too_deep",
            "deeper than 64",
            id="deep-data",
        ),
        pytest.param(
            wire(ts=10**330), "bad_value", "not a time", id="huge-int-ts"
        ),  # OverflowError before
        pytest.param(
            b'{"type": "a.b", "service": "s", "severity": "info", "message": "m", "ts": 1e400}',
            "bad_value",
            "not a time",
            id="infinite-ts",
        ),  # was accepted
    ],
)
def test_each_bad_message_has_its_reason(raw: bytes, reason: str, detail: str) -> None:
    with pytest.raises(Rejected) as err:
        parse_event(raw, "redis:x", 1000)
    assert err.value.reason == reason
    assert detail in err.value.detail


def test_the_log_is_bounded_numbered_and_counts() -> None:
    log = EventLog(capacity=100, changes=5, rejections=3, max_keys=3)
    batch = [
        parse_event(wire(type=f"t{i % 5}.x", service=f"s{i % 2}"), "o", 1000) for i in range(250)
    ]
    log.add(batch, now=1000.0)
    assert len(log.events) == 100
    assert log.seq == 250
    assert [e.seq for e in log.query(3)] == [250, 249, 248]
    assert sum(log.received.values()) == 250
    assert "(other)" in log.received
    assert len(log.received) == 4
    assert log.rates(1000.0)["by_service"] == {"s0": 125, "s1": 125}
    assert log.rates(1070.0)["by_service"] == {}  # a minute later: nothing recent
    for i in range(5):
        try:
            parse_event(b"{", "o", 1000)
        except Rejected as exc:
            log.reject("o", exc, b"{" + bytes([i]), 1000.0)
    assert log.rejected["malformed_json"] == 5
    assert len(log.rejections) == 3
    assert log.rejections[-1].sample == "{?"  # unprintable bytes never reach the screen


def test_pure_python_reader_handles_split_pubsub_replies() -> None:
    msgs = [[b"message", b"devmentor:events", b"x" * n] for n in (0, 1, 200, 70_000)]
    raw = b"".join(command(*m) for m in msgs) + b"-ERR nope\r\n:42\r\n$-1\r\n"
    reader = PyReader()
    out = []
    for i in range(0, len(raw), 7):  # fed in awkward 7-byte pieces
        reader.feed(raw[i : i + 7])
        while (reply := reader.gets()) is not False:
            out.append(reply)
    assert out[:4] == msgs
    assert isinstance(out[4], RespError)
    assert str(out[4]) == "ERR nope"
    assert out[5:] == [42, None]


def test_both_readers_agree() -> None:
    hiredis = pytest.importorskip("hiredis")
    raw = b"".join(
        command("pmessage", "devmentor:*", f"devmentor:{i}", "é" * i) for i in range(100)
    )
    ours, theirs = PyReader(), hiredis.Reader()
    ours.feed(raw)
    theirs.feed(raw)
    for _ in range(100):
        assert ours.gets() == theirs.gets()


def test_redis_urls_keep_their_secret_out_of_str() -> None:
    ep = parse_url("rediss://ops:s3cr%40t@cache.internal:6380/2")
    assert (ep.host, ep.port, ep.tls, ep.username, ep.password, ep.db) == (
        "cache.internal",
        6380,
        True,
        "ops",
        "s3cr@t",
        2,
    )
    assert "s3cr" not in str(ep)
    assert str(ep) == "cache.internal:6380"


async def test_a_slow_reader_loses_its_oldest_messages_only() -> None:
    feed = Bus()
    slow = feed.open(["events"], maxlen=10)
    fast = feed.open(["events", "incidents"], maxlen=1000)
    built = []
    feed.publish("services", lambda: built.append(1) or {})  # nobody reads services
    assert built == []
    for i in range(100):
        feed.publish("events", lambda i=i: {"i": i})
    assert [m["i"] for _, m in await slow.get_batch()] == list(range(90, 100))
    assert slow.dropped == 90
    assert feed.dropped == 90
    assert len(await fast.get_batch(1000)) == 100
    waiter = asyncio.create_task(slow.get_batch())
    await asyncio.sleep(0)
    slow.close()
    assert await waiter == []
    assert feed.reader_count() == 1


def test_a_20_kb_nested_array_is_rejected_not_raised() -> None:
    with pytest.raises(Rejected) as err:
        parse_event(b"[" * 10_000 + b"]" * 10_000, "redis:x", 65536)
    assert err.value.reason == "too_deep"


def test_memory_knows_from_when_it_holds_everything() -> None:
    log = EventLog(capacity=3)
    assert log.complete_since() is None  # holds nothing: ask the disk
    log.add([parse_event(wire(ts=100 + i), "o", 1000) for i in range(2)], now=500.0)
    assert log.complete_since() == 500.0  # since the first arrival of this process
    log.add([parse_event(wire(ts=110 + i), "o", 1000) for i in range(2)], now=510.0)
    assert log.complete_since() == 101.0  # wrapped: from its oldest event on
    assert [e.ts for e in log.query(10, since=101, until=111)] == [110.0, 101.0]


def test_memory_and_disk_merge_newest_first_each_once() -> None:
    def ev(ts: float, seq: int = 0) -> Event:
        return Event(ts, "deploy.finished", "auth", EventSeverity.INFO, f"m{ts}", seq=seq)

    memory = [ev(5, 3), ev(4, 2), ev(3, 1)]  # the last three received
    disk = [ev(5), ev(4), ev(3), ev(2), ev(1)]  # everything written, before and since
    merged = merge_newest(memory, disk, 4)
    assert [(e.ts, e.seq) for e in merged] == [(5, 3), (4, 2), (3, 1), (2, 0)]

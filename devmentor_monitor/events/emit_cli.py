"""`devmentor-monitor emit TYPE ...`: publish one well-formed platform event.

For scripts and tests: the event is checked against the same schema the subscriber
uses, so what `emit` sends is what the monitor accepts. It goes where the config says
events travel: the pub/sub channel, or the stream (`events.mode: stream`, or --stream).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from devmentor_monitor.config.schema import Config
from devmentor_monitor.events.model import EventSeverity, Rejected, event_from_dict

STREAM_MAXLEN = 100_000  # approximate cap, so a stream nobody reads does not grow forever


def add_parser(subs: Any, common: Any) -> None:
    p = subs.add_parser(
        "emit",
        help="publish one platform event to Redis",
        description="Publish one well-formed platform event (needs REDIS_URL or redis.url).",
    )
    common(p, sub=True)
    p.add_argument("type", help="dotted event type, e.g. deploy.finished")
    p.add_argument("--service", required=True, help="the service it is about")
    p.add_argument(
        "--severity", default="info", choices=[s.value for s in EventSeverity], help="default info"
    )
    p.add_argument("--message", default="", help="one line for people")
    p.add_argument("--data", default="{}", help="a JSON object with details")
    p.add_argument(
        "--stream",
        action="store_true",
        help="append to the events stream instead of publishing on the channel",
    )


def run(args: argparse.Namespace, cfg: Config, usage_error: type[Exception]) -> int:
    if not cfg.redis_url:
        raise usage_error("emit needs Redis: set REDIS_URL (or redis.url in the config)")
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise usage_error(f"--data is not JSON: {exc}") from None
    try:
        event = event_from_dict(
            {
                "type": args.type,
                "service": args.service,
                "severity": args.severity,
                "message": args.message or args.type,
                "ts": time.time(),
                "data": data,
            },
            "emit",
        )
    except Rejected as exc:
        raise usage_error(f"not a valid event: {exc.detail}") from None
    import redis

    from devmentor_monitor.events.redis_source import (
        STREAM_FIELD,  # here: `ultra` never loads the subscriber
    )

    client = redis.Redis.from_url(cfg.redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        if args.stream or cfg.events.mode == "stream":
            entry = client.xadd(
                cfg.events.stream,
                {STREAM_FIELD: event.wire()},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
            print(
                f"appended {event.type} to stream {cfg.events.stream} as "
                f"{entry.decode() if isinstance(entry, bytes) else entry}"
            )
        else:
            channel = cfg.events.channels[0] if cfg.events.channels else "devmentor:events"
            heard = client.publish(channel, event.wire())
            print(f"published {event.type} to {channel} ({heard} subscribers)")
    except redis.RedisError as exc:
        print(f"devmentor-monitor: cannot reach Redis: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0

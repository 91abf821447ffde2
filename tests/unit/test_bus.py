"""The store's one bus: notices and typed messages, and the JSON made of them at the edges."""

from __future__ import annotations

import json

from msgspec.structs import replace

from devmentor_monitor.bus import Bus, IncidentChange
from devmentor_monitor.events.publisher import INSTANCE, IncidentPublisher
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.server.shapes import incident_change_json, incident_json, message_json


def incident() -> Incident:
    return Incident(
        "inc-1", "auth", "down", Severity.HIGH, "auth down", "", IncidentState.OPEN, 10.0, 10.0
    )


async def test_notices_and_messages_share_one_bus() -> None:
    bus = Bus()
    sub = bus.subscribe()
    reader = bus.open(["incidents"])
    inc = incident()
    bus.notify("incidents")
    bus.publish("incidents", lambda: IncidentChange("opened", inc))
    replace(inc, state=IncidentState.ACKNOWLEDGED)  # a later change is a new record
    assert sub.take() == {"incidents"}
    [(topic, message)] = await reader.get_batch()
    assert topic == "incidents"
    assert isinstance(message, IncidentChange)
    assert message_json(message)["incident"]["state"] == "open"
    reader.close()
    sub.close()
    assert bus.reader_count() == 0


def test_the_publisher_sends_what_it_sent_when_the_engine_made_the_json() -> None:
    inc = incident()
    publisher = IncidentPublisher("redis://x", "devmentor:incidents", Bus(), incident_change_json)
    before = {"change": "opened", "incident": incident_json(inc, timeline=False)}
    expected = json.dumps(
        {"type": "incident.opened", "origin": INSTANCE, **before}, separators=(",", ":")
    )
    assert publisher.serialise(IncidentChange("opened", inc)) == expected

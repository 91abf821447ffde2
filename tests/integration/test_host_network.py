"""The host's network through `--serve`: /metrics and /api/metrics give every interface
(loopback marked), and the all-interface figures leave loopback out."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def test_net_per_interface_with_loopback_apart(fleet, write_config, fast, serve, wait):
    proc = serve("-c", str(write_config(fast(fleet.urls))))

    def families() -> dict:
        text = proc.get("/metrics").text
        return {f.name: f for f in text_string_to_metric_families(text)}

    fams = wait(
        lambda: (f := families()) and "devmentor_host_network_interface_bytes" in f and f,
        15,
        what="a host sample in /metrics",
    )
    per = {
        (s.labels["interface"], s.labels["direction"]): s.value
        for s in fams["devmentor_host_network_interface_bytes"].samples
        if s.name.endswith("_total")
    }
    total = {
        s.labels["direction"]: s.value
        for s in fams["devmentor_host_network_bytes"].samples
        if s.name.endswith("_total")
    }
    assert ("lo", "rx") in per  # loopback has its own series (the checks run over it)
    body = proc.get("/api/metrics").json()
    ifaces = body["system"]["network_interfaces"]
    loop = {i["name"] for i in ifaces if i["loopback"]}
    assert loop == {"lo"}
    # The host total is the sum over the other interfaces, read in the same sample.
    assert total["rx"] == sum(v for (name, d), v in per.items() if d == "rx" and name not in loop)
    assert total["tx"] == sum(v for (name, d), v in per.items() if d == "tx" and name not in loop)

"""The host's NET figure leaves loopback out (system/netifs.py): psutil's per-interface
counters in their real shape, and a real reader while real loopback traffic flows."""

from __future__ import annotations

import re
import socket
import threading

import psutil

from devmentor_monitor.model import NetInterface, SystemSample
from devmentor_monitor.system.netifs import busiest, interfaces, loopbacks, totals
from devmentor_monitor.system.sampler import SystemReader

# psutil's own record types (psutil._ntuples in 7.x, psutil._common before): taken from
# real readings, so the tests build exactly what net_io_counters(pernic=True) returns.
SNETIO = type(next(iter(psutil.net_io_counters(pernic=True).values())))
SNICSTATS = type(next(iter(psutil.net_if_stats().values())))
MiB = 1024**2


def nio(recv: int, sent: int) -> object:
    return SNETIO(sent, recv, 0, 0, 0, 0, 0, 0)


def nic(flags: str) -> object:
    return SNICSTATS(True, psutil.NIC_DUPLEX_FULL, 1000, 1500, flags)


def test_loopback_is_out_of_the_total_and_kept_apart():
    stats = {
        "lo": nic("up,loopback,running"),
        "eth0": nic("up,broadcast,running,multicast"),
        "wlan0": nic("up,broadcast,running,multicast"),
    }
    loop = loopbacks(stats)
    assert loop == {"lo"}
    before = {"lo": (0, 0), "eth0": (0, 0), "wlan0": (0, 0)}
    now = {
        "lo": nio(90 * MiB, 90 * MiB),  # the monitor's own checks: most of the traffic
        "eth0": nio(6 * MiB, 2 * MiB),
        "wlan0": nio(2 * MiB, 0),
    }
    ifaces = interfaces(now, before, 2.0, loop)
    total = totals(ifaces)
    assert total.rx_bytes == 8 * MiB
    assert total.tx_bytes == 2 * MiB
    assert total.rx_rate == 4 * MiB  # (6 + 2) MiB over 2 s: loopback's 90 MiB left out
    assert total.tx_rate == 1 * MiB
    lo = next(i for i in ifaces if i.name == "lo")
    assert lo.loopback
    assert lo.rx_rate == 45 * MiB
    assert [i.name for i in busiest(ifaces, 3)] == ["eth0", "wlan0"]  # never loopback


def test_a_first_reading_or_a_new_interface_has_no_rate_yet():
    first = interfaces({"eth0": nio(5, 5)}, None, 0.0, frozenset())
    assert first[0].rx_rate is None
    assert totals(first).rx_rate is None
    later = interfaces(
        {"eth0": nio(15, 5), "veth1": nio(100, 0)}, {"eth0": (5, 5)}, 1.0, frozenset()
    )
    assert {i.name: i.rx_rate for i in later} == {"eth0": 10.0, "veth1": None}
    assert totals(later).rx_rate == 10.0
    reset = interfaces({"eth0": nio(1, 1)}, {"eth0": (500, 500)}, 1.0, frozenset())
    assert reset[0].rx_rate == 0.0  # a counter reset is no negative rate


def test_loopback_by_name_where_the_platform_gives_no_flags():
    old_shape = {"lo0": object(), "en0": object()}  # psutil before 5.9.3: no flags
    assert loopbacks(old_shape) == {"lo0"}


def test_the_real_reader_keeps_real_loopback_traffic_out_of_net():
    """16 MiB over 127.0.0.1 between two readings: loopback's counters show them, the NET
    figure is the sum of the other interfaces only."""
    payload = b"x" * (16 * MiB)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def sink() -> None:
        conn, _ = server.accept()
        with conn:
            while conn.recv(1 << 16):
                pass

    reader = SystemReader(processes_interval=3600)
    first = reader.read()
    worker = threading.Thread(target=sink)
    worker.start()
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(payload)
    worker.join(10)
    server.close()
    sample = reader.read()

    def lo(s: SystemSample) -> NetInterface:
        (only,) = [i for i in s.net_interfaces if i.loopback]
        return only

    assert lo(sample).name == "lo"  # Linux: psutil's flags say loopback
    assert lo(sample).rx_bytes - lo(first).rx_bytes >= len(payload)  # seen on loopback
    assert (lo(sample).rx_rate or 0) > 0
    assert sample.net_rx_bytes - first.net_rx_bytes < len(payload)  # ... and not in NET
    real = [i for i in sample.net_interfaces if not i.loopback]
    assert sample.net_rx_bytes == sum(i.rx_bytes for i in real)
    assert sample.net_tx_bytes == sum(i.tx_bytes for i in real)
    assert sample.net_rx_rate == sum(i.rx_rate or 0.0 for i in real)


def test_container_interfaces_stay_out_of_the_per_interface_metric():
    """A node's pods each bring a veth (Calico `cali*`, Cilium `lxc*`): exported one by
    one they would grow the metric's label set without bound. The host's own interfaces
    and loopback are exported; the NET total still counts the containers' traffic."""
    from prometheus_client import CollectorRegistry, generate_latest

    from devmentor_monitor.config.schema import parse_text
    from devmentor_monitor.server.collector import StoreCollector
    from devmentor_monitor.store import Store

    names = [
        "eth0",
        "lo",
        "docker0",
        "veth3f2a1b9",
        "cali1234abcd567",
        "lxc8d9e",
        "0123456789abcde",
    ]
    faces = tuple(NetInterface(n, 10, 20, None, None, n == "lo") for n in names)
    sample = SystemSample(
        ts=1.0,
        cpu_percent=1.0,
        cpu_per_core=(1.0,),
        load=(0.1, 0.1, 0.1),
        mem_total=100,
        mem_used=10,
        mem_available=90,
        mem_percent=10.0,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
        disks=(),
        disk_read_bytes=0,
        disk_write_bytes=0,
        net_rx_bytes=60,
        net_tx_bytes=120,
        net_interfaces=faces,
    )
    store = Store(parse_text("services: []\n", "t.yaml"))
    store.record_system(sample)
    registry = CollectorRegistry()
    registry.register(StoreCollector(store, 0.0))
    text = generate_latest(registry).decode()
    exported = set(
        re.findall(r'devmentor_host_network_interface_bytes_total\{[^}]*interface="([^"]+)"', text)
    )
    assert exported == {"eth0", "lo", "docker0"}, exported
    assert 'devmentor_host_network_bytes_total{direction="rx"} 60.0' in text

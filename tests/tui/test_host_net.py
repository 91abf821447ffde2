"""The host pane's NET is every interface but loopback; the busiest interfaces follow it,
one line each, and loopback on its own line, labelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace
from tui_data import T, settle, system_sample

from devmentor_monitor.model import NetInterface
from devmentor_monitor.tui.app import MonitorApp

MiB = 1024**2
KiB = 1024


def with_interfaces() -> Any:
    ifaces = (
        NetInterface("lo", 0, 0, 30 * MiB, 30 * MiB, loopback=True),  # the monitor's checks
        NetInterface("eth0", 0, 0, 2 * MiB, 512 * KiB),
        NetInterface("wlan0", 0, 0, 256 * KiB, 0.0),
        NetInterface("docker0", 0, 0, 0.0, 0.0),  # idle: not listed
    )
    real = [i for i in ifaces if not i.loopback]
    return replace(
        system_sample(T, 40.0),
        net_rx_rate=sum(i.rx_rate or 0 for i in real),
        net_tx_rate=sum(i.tx_rate or 0 for i in real),
        net_interfaces=ifaces,
    )


async def test_net_leaves_loopback_out_and_lists_the_interfaces(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = make_app()
    app.monitor.intake.observe(with_interfaces())  # type: ignore[attr-defined]
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        lines = [ln.split("││")[-1] for ln in screen_text(app).splitlines()]  # the host pane
        net = next(ln for ln in lines if "NET  rx" in ln)
        assert "rx 2.2 MiB/s  tx 512.0 KiB/s" in net  # eth0 + wlan0; not lo's 30 MiB/s
        nics = [ln.strip("│ ").rstrip() for ln in lines if "↳" in ln]
        assert nics == [
            "↳ eth0    rx 2.0 MiB/s tx 512.0 KiB/s",
            "↳ wlan0   rx 256.0 KiB/s tx 0 B/s",
            "↳ lo      rx 30.0 MiB/s tx 30.0 MiB/s  loopback, not in NET",
        ]
        await pilot.resize_terminal(80, 24)  # no room: these lines go first, and say so
        await settle(pilot)
        text = screen_text(app)
        assert "↳" not in text
        assert "more lines in a taller pane" in text

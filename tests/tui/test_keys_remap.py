"""`tui.keys` remaps every binding of the key table (tui/keys.py), the new keys (g, >, z,
c, $, the view keys) included: with every key moved at once, each new key reaches its
action on its view and the old one no longer does; the help lists the new keys; a
remapped `>`, `z` and `g` sort, fold and open the topology for real; a binding id that
does not exist is refused before the first frame, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_fleet_table import EXTRA, _config, order
from tui_data import settle

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.keys import KEYS, KeymapError, key_display
from devmentor_monitor.tui.screens import HelpScreen, IncidentDetailScreen
from devmentor_monitor.tui.widgets import ServicesTable

# The view each scope's keys live on ("app": every view; the overview stands for them).
SCOPE_VIEW = {
    "app": "overview",
    "range": "metrics",
    "incidents": "incidents",
    "events": "events",
    "docker": "docker",
    "kubernetes": "kubernetes",
    "topology": "topology",
}
# New keys no binding has: F-keys for the app's keys (bound on every view), ctrl+letters
# for a view's own (the views never share a screen, so they may reuse them).
APP_KEYS = [f"f{i}" for i in range(1, 25)]
VIEW_KEYS = ["ctrl+b", "ctrl+d", "ctrl+e", "ctrl+f", "ctrl+g", "ctrl+k", "ctrl+l"]


def new_keys() -> dict[str, str]:
    """A new key for every binding of the table."""
    app_keys = iter(APP_KEYS)
    per_scope: dict[str, Any] = {}
    out = {}
    for k in KEYS:
        if k.scope == "app":
            out[k.id] = next(app_keys)
        else:
            out[k.id] = next(per_scope.setdefault(k.scope, iter(VIEW_KEYS)))
    return out


def keymap_yaml(keymap: dict[str, str]) -> str:
    return "tui:\n  keys:\n" + "".join(f'    {i}: "{k}"\n' for i, k in keymap.items())


def test_the_new_keys_are_all_unused():
    """The pool is large enough and clashes with no key of the table."""
    used = {key for k in KEYS for key in k.key.split(",")}
    assert len([k for k in KEYS if k.scope == "app"]) <= len(APP_KEYS)
    assert not used & {*APP_KEYS, *VIEW_KEYS}


async def test_every_binding_of_the_table_remaps(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    keymap = new_keys()
    app = make_app(keymap_yaml(keymap))
    engine = app.monitor.engine  # type: ignore[attr-defined]
    inc = await engine.open_manual("auth", "login errors", Severity.HIGH, Actor("ops", "t"))
    async with app.run_test(size=(150, 70)) as pilot:
        await settle(pilot)
        await pilot.press(keymap["help"])  # the help lists every binding by its new key
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        help_text = screen_text(app)
        for k in KEYS:
            assert key_display(keymap[k.id]) in help_text, k.id
        app.screen.dismiss(None)
        await settle(pilot)
        actions: list[str] = []

        async def spy(action: Any, default_namespace: Any = None) -> bool:
            """The binding's action as dispatched; not run (views would change under us)."""
            actions.append(action)
            return True

        app.run_action = spy  # type: ignore[method-assign]
        missed = []
        by_scope: dict[str, list[Any]] = {}
        for k in KEYS:
            by_scope.setdefault(k.scope, []).append(k)
        for scope, keys in by_scope.items():
            if scope == "incident":  # the incident detail, over the incidents view
                await app.switch_mode("incidents")
                await settle(pilot)
                app.push_screen(IncidentDetailScreen(inc))
            else:
                await app.switch_mode(SCOPE_VIEW[scope])
            await settle(pilot)
            for k in keys:
                actions.clear()
                await pilot.press(keymap[k.id])
                if k.action not in actions:
                    missed.append((k.id, keymap[k.id], actions[:]))
                actions.clear()
                await pilot.press(k.key.split(",")[0])  # the old key: not this action now
                if k.action in actions:
                    missed.append((k.id, f"old key {k.key}", actions[:]))
            if scope == "incident":
                app.pop_screen()
                await settle(pilot)
        assert missed == []


async def test_remapped_sort_fold_and_topology_keys_do_their_work(
    make_app: Callable[..., MonitorApp],
) -> None:
    app = make_app(
        _config() + "tui: {keys: {services_sort: f5, services_fold: f6, topology: f7}}\n"
    )
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", ServicesTable)
        await pilot.press("greater_than_sign", "z")  # the old keys: nothing
        await settle(pilot)
        assert table.sort_by == "config"
        assert table.collapsed == set()
        await pilot.press("f6")  # the cursor is on payments' line: fold it
        await settle(pilot)
        assert table.collapsed == {"payments"}
        assert not set(EXTRA[:12]) & set(order(app))
        await pilot.press("f5")
        await settle(pilot)
        assert table.sort_by == "status"
        await pilot.press("g")
        await settle(pilot)
        assert app.current_mode == "overview"
        await pilot.press("f7")
        await settle(pilot)
        assert app.current_mode == "topology"


async def test_an_unknown_binding_id_is_refused_by_name(
    make_app: Callable[..., MonitorApp],
) -> None:
    with pytest.raises(KeymapError, match=r"tui\.keys\.topolgy: no key has this id"):
        make_app('tui: {keys: {topolgy: "G"}}\n')

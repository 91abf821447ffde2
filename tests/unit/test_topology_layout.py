"""The topology view's layout (tui/topology_layout.py): layers by dependency depth, boxes
that never overlap, every edge drawn from its dependent's box to an arrow at its
dependency's box, and a cycle that slipped past the config does not hang it."""

from __future__ import annotations

import itertools
import time

from devmentor_monitor.tui.topology_layout import ARROW, ENTRY, EXIT, Layout, layout

DEMO = {
    "auth": (),
    "memory": ("auth",),
    "ai-gateway": ("auth", "memory"),
    "project": ("auth",),
    "monitoring": (),
}


def fleet(n: int = 40) -> dict[str, tuple[str, ...]]:
    """Four tiers: 4 stores, 8 core services, 12 apps, 16 edges; long edges included."""
    deps: dict[str, tuple[str, ...]] = {}
    for i in range(4):
        deps[f"store-{i}"] = ()
    for i in range(8):
        deps[f"core-{i}"] = (f"store-{i % 4}", f"store-{(i + 1) % 4}")
    for i in range(12):
        deps[f"app-{i}"] = (f"core-{i % 8}", f"store-{i % 4}")  # store: across a layer
    for i in range(n - 24):
        deps[f"edge-{i}"] = (f"app-{i % 12}", f"core-{(i * 3) % 8}")
    return deps


def assert_drawn(lay: Layout) -> None:
    """No two boxes overlap; each edge is a connected run of line cells from the cell
    right of its dependent's box (on its exit row) to an arrow left of its dependency's
    box (on its entry row), crossing no box, and every cell of it is on the canvas."""
    boxes = list(lay.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a.x + a.width <= b.x
                or b.x + b.width <= a.x
                or a.y + a.height <= b.y
                or b.y + b.height <= a.y
            )
            assert apart, (a, b)
    rows = lay.rows()
    for a, b in lay.edges:
        path = lay.paths[(a, b)]
        src, dst = lay.boxes[a], lay.boxes[b]
        assert path[0] == (src.x + src.width, src.y + EXIT), (a, b)
        assert path[-1] == (dst.x - 1, dst.y + ENTRY), (a, b)
        assert rows[dst.y + ENTRY][dst.x - 1] == ARROW
        for (x0, y0), (x1, y1) in itertools.pairwise(path):
            assert abs(x0 - x1) + abs(y0 - y1) == 1, (a, b, (x0, y0), (x1, y1))
        for x, y in path:
            assert 0 <= x < lay.width
            assert 0 <= y < lay.height
            assert rows[y][x] != " ", (a, b, x, y)
            assert not any(box.contains(x, y) for box in boxes), (a, b, x, y)


def test_layers_follow_dependency_depth() -> None:
    lay = layout(DEMO)
    assert lay.layers == (("ai-gateway",), ("memory", "project"), ("auth", "monitoring"))
    # A service's dependencies are to its right.
    for a, deps in DEMO.items():
        for b in deps:
            assert lay.boxes[a].x + lay.boxes[a].width < lay.boxes[b].x
    assert sorted(lay.edges) == sorted((a, b) for a, deps in DEMO.items() for b in deps)
    assert_drawn(lay)


def test_the_demo_graph_as_text() -> None:
    """ai-gateway → auth skips a layer: it passes memory's layer in a gap of its own."""
    lay = layout(DEMO)
    rows = lay.rows()
    # One arrow per target: three edges into auth end in one (they join before it).
    assert sum(r.count(ARROW) for r in rows) == 2
    assert "┼" in "".join(rows)  # memory → auth crosses project's exit line, drawn as a crossing
    assert_drawn(lay)


def test_forty_services_every_edge_drawn() -> None:
    deps = fleet(40)
    lay = layout(deps)
    assert len(lay.boxes) == 40
    assert [len(layer) for layer in lay.layers] == [16, 12, 8, 4]
    assert len(lay.edges) == sum(len(d) for d in deps.values())
    assert_drawn(lay)


def test_barycenter_untangles_a_crossed_pair() -> None:
    """Listed crossed (a→y, b→x with x before y), drawn straight."""
    lay = layout({"x": (), "y": (), "a": ("y",), "b": ("x",)})
    order = {n: i for layer in lay.layers for i, n in enumerate(layer)}
    assert (order["a"] < order["b"]) == (order["y"] < order["x"])
    assert not any("┼" in r for r in lay.rows())


def test_a_cycle_is_broken_not_followed() -> None:
    started = time.monotonic()
    lay = layout({"a": ("b",), "b": ("c",), "c": ("a",), "d": ("d", "nowhere")})
    assert time.monotonic() - started < 1
    assert lay.dropped == (("c", "a"),)
    assert set(lay.edges) == {("a", "b"), ("b", "c")}
    assert set(lay.boxes) == {"a", "b", "c", "d"}
    assert_drawn(lay)


def test_a_thousand_services_lay_out_quickly() -> None:
    """The view lays out again only when the services change; even then it is quick."""
    deps = {f"s{i}": tuple(f"s{j}" for j in (i // 2, i // 3) if j != i) for i in range(1000)}
    started = time.monotonic()
    lay = layout(deps)
    assert time.monotonic() - started < 5
    assert len(lay.boxes) == 1000

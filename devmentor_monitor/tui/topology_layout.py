"""The `depends_on` graph laid out for a terminal: layers, order, boxes, edges as cells.

Pure (no textual), so it is tested on its own. A layered (Sugiyama-style) drawing: a
service's dependencies sit in the layer to its right, an edge longer than one layer gets
a pass-through point in each layer it crosses, a few barycenter sweeps order each layer
to cut crossings, and each edge is routed orthogonally through the gap between two layers
on a vertical track of its own (tracks are reused where their spans do not meet).

Boxes sit on a grid of slots PITCH rows apart. Edges leave a box on its EXIT row and
arrive on its ENTRY row, so a leaving line never runs along an arriving one: lines only
cross (┼) or join where they share an end (┬ ┴ ├ ┤), and every edge reads unambiguously.
A cycle in depends_on (config refuses them; this must not hang if one slips through) is
broken by leaving out the edge that closes it, reported in ``Layout.dropped``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

BOX_WIDTH = 22  # a name of up to 18 characters in the top border; status, incident id inside
BOX_HEIGHT = 4  # top border (name), two lines, bottom border
PITCH = BOX_HEIGHT + 1  # a slot: a box and a blank row
EXIT = 1  # the row (within a slot) edges leave a box on: its right border
ENTRY = 2  # the row edges arrive on: its left border
MIN_GUTTER = 5
SWEEPS = 4
ARROW = "▶"

Cell = tuple[int, int]  # x, y
Edge = tuple[str, str]  # (dependent, dependency)

_N, _S, _E, _W = 1, 2, 4, 8
_LINES = {
    _E | _W: "─",
    _E: "─",
    _W: "─",
    _N | _S: "│",
    _N: "│",
    _S: "│",
    _E | _S: "┌",
    _W | _S: "┐",
    _E | _N: "└",
    _W | _N: "┘",
    _N | _S | _E: "├",
    _N | _S | _W: "┤",
    _E | _W | _S: "┬",
    _E | _W | _N: "┴",
    _N | _S | _E | _W: "┼",
}


@dataclass(frozen=True, slots=True)
class Box:
    name: str
    layer: int  # 0: leftmost (nothing depends on it more deeply)
    x: int
    y: int
    width: int = BOX_WIDTH
    height: int = BOX_HEIGHT

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.x + self.width and self.y <= y < self.y + self.height


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: dict[str, Box]
    layers: tuple[tuple[str, ...], ...]  # the services of each layer, top to bottom
    edges: tuple[Edge, ...]  # drawn, (dependent, dependency)
    dropped: tuple[Edge, ...]  # left out: each would close a cycle
    cells: dict[Cell, str]  # the edges' line and arrow characters
    paths: dict[Edge, tuple[Cell, ...]]  # each edge's cells, from its source to its arrow
    width: int
    height: int

    def rows(self) -> list[str]:
        """The edges as text, a string per row (boxes are left blank for the view)."""
        grid = [[" "] * self.width for _ in range(self.height)]
        for (x, y), ch in self.cells.items():
            grid[y][x] = ch
        return ["".join(r) for r in grid]


def layout(deps: Mapping[str, Sequence[str]]) -> Layout:
    """Lay out ``deps`` (service -> what it depends on), services in the mapping's order.

    Unknown and self dependencies are ignored."""
    names = list(deps)
    known = set(names)
    wanted = [(a, b) for a in names for b in dict.fromkeys(deps[a]) if b in known and b != a]
    edges, dropped = _acyclic(names, wanted)
    col = _columns(names, edges)
    ncols = max(col.values(), default=-1) + 1

    # Pass-through points: every segment then joins adjacent layers.
    layer_nodes: list[list[str]] = [[] for _ in range(ncols)]
    for n in names:
        layer_nodes[col[n]].append(n)
    segments: list[tuple[str, str]] = []
    chain: dict[Edge, list[str]] = {}
    for a, b in edges:
        nodes = [a]
        for c in range(col[a] + 1, col[b]):
            dummy = f"\0{a}\0{b}\0{c}"
            col[dummy] = c
            layer_nodes[c].append(dummy)
            nodes.append(dummy)
        nodes.append(b)
        chain[(a, b)] = nodes
        segments.extend(pairwise(nodes))

    _order(layer_nodes, segments)
    slot = _slots(layer_nodes, segments)

    # Tracks per gap, then x positions.
    tracks: list[dict[tuple[str, str], int]] = []
    widths: list[int] = []
    for g in range(max(0, ncols - 1)):
        here = [s for s in segments if col[s[0]] == g]
        assigned = _tracks(here, slot)
        tracks.append(assigned)
        widths.append(max(MIN_GUTTER, max(assigned.values(), default=-1) + 4))
    xs = [0] * ncols
    for c in range(1, ncols):
        xs[c] = xs[c - 1] + BOX_WIDTH + widths[c - 1]
    width = (xs[-1] + BOX_WIDTH) if ncols else 0
    height = max(slot.values(), default=-1) * PITCH + BOX_HEIGHT if names else 0

    boxes = {n: Box(n, col[n], xs[col[n]], slot[n] * PITCH) for n in names}
    dirs: dict[Cell, int] = {}
    arrows: set[Cell] = set()
    seg_path: dict[tuple[str, str], list[Cell]] = {}
    for g, assigned in enumerate(tracks):
        gx = xs[g] + BOX_WIDTH  # the gap's first column
        arrow_x = gx + widths[g] - 1
        for (u, v), t in assigned.items():
            tx = gx + 1 + t
            y0 = slot[u] * PITCH + EXIT
            y1 = slot[v] * PITCH + ENTRY
            path = [(x, y0) for x in range(gx, tx)]
            step = 1 if y1 > y0 else -1
            path += [(tx, y) for y in range(y0, y1, step)]
            path += [(x, y1) for x in range(tx, arrow_x + 1)]
            if v.startswith("\0"):  # through the layer: along, up a row, on to its far side
                x0, jx = xs[g + 1], xs[g + 1] + BOX_WIDTH // 2
                path += [(x, y1) for x in range(x0, jx)]
                path += [(jx, y1), (jx, y1 - ENTRY + EXIT)]
                path += [(x, y1 - ENTRY + EXIT) for x in range(jx + 1, x0 + BOX_WIDTH)]
            else:
                arrows.add((arrow_x, y1))
            seg_path[(u, v)] = path
            _mark(dirs, path)
    cells = {c: _LINES[d] for c, d in dirs.items()}
    cells.update(dict.fromkeys(arrows, ARROW))
    paths = {
        e: tuple(c for u, v in pairwise(nodes) for c in seg_path[(u, v)])
        for e, nodes in chain.items()
    }
    layers = tuple(tuple(n for n in ln if not n.startswith("\0")) for ln in layer_nodes)
    return Layout(boxes, layers, tuple(edges), tuple(dropped), cells, paths, width, height)


def _acyclic(names: list[str], wanted: list[Edge]) -> tuple[list[Edge], list[Edge]]:
    """The edges without those that close a cycle (iterative DFS: deep graphs are fine)."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for a, b in wanted:
        out[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[Edge] = set()
    for start in names:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(out[start]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(out[nxt])))
    return [e for e in wanted if e not in back], [e for e in wanted if e in back]


def _columns(names: list[str], edges: list[Edge]) -> dict[str, int]:
    """Each service's layer: the longest chain of dependencies below it sets its depth;
    the deepest are leftmost, services that depend on nothing rightmost."""
    out: dict[str, list[str]] = {n: [] for n in names}
    indeg = dict.fromkeys(names, 0)
    for a, b in edges:
        out[b].append(a)  # from dependency to dependent
        indeg[a] += 1
    depth = dict.fromkeys(names, 0)
    todo = [n for n in names if indeg[n] == 0]
    while todo:
        n = todo.pop()
        for a in out[n]:
            depth[a] = max(depth[a], depth[n] + 1)
            indeg[a] -= 1
            if indeg[a] == 0:
                todo.append(a)
    top = max(depth.values(), default=0)
    return {n: top - d for n, d in depth.items()}


def _order(layers: list[list[str]], segments: list[tuple[str, str]]) -> None:
    """Barycenter sweeps, left to right then back, keeping the order with fewest crossings."""
    left: dict[str, list[str]] = {}
    right: dict[str, list[str]] = {}
    for u, v in segments:
        right.setdefault(u, []).append(v)
        left.setdefault(v, []).append(u)
    best = [list(ln) for ln in layers]
    best_crossings = _crossings(layers, right)
    for _ in range(SWEEPS):
        for c in range(1, len(layers)):
            _by_barycenter(layers[c], layers[c - 1], left)
        for c in range(len(layers) - 2, -1, -1):
            _by_barycenter(layers[c], layers[c + 1], right)
        crossings = _crossings(layers, right)
        if crossings < best_crossings:
            best, best_crossings = [list(ln) for ln in layers], crossings
        if best_crossings == 0:
            break
    layers[:] = best


def _by_barycenter(layer: list[str], fixed: list[str], nbrs: dict[str, list[str]]) -> None:
    pos = {n: i for i, n in enumerate(fixed)}
    keys = {}
    for i, n in enumerate(layer):
        near = [pos[m] for m in nbrs.get(n, ()) if m in pos]
        keys[n] = (sum(near) / len(near) if near else float(i), i)  # none: stays put
    layer.sort(key=keys.__getitem__)


def _crossings(layers: list[list[str]], right: dict[str, list[str]]) -> int:
    total = 0
    for c in range(len(layers) - 1):
        pos = {n: i for i, n in enumerate(layers[c + 1])}
        ends = [
            pos[v]
            for u in layers[c]
            for v in sorted(right.get(u, ()), key=lambda m: pos.get(m, 0))
            if v in pos
        ]
        total += _inversions(ends)
    return total


def _inversions(seq: list[int]) -> int:
    """Pairs out of order (merge sort: O(n log n), so 1,000 edges stay quick)."""
    if len(seq) < 2:
        return 0
    mid = len(seq) // 2
    a, b = seq[:mid], seq[mid:]
    count = _inversions(a) + _inversions(b)
    a.sort()
    b.sort()
    j = 0
    for x in a:
        while j < len(b) and b[j] < x:
            j += 1
        count += j
    return count


def _slots(layers: list[list[str]], segments: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's slot (row of boxes) in its layer: the first layer stacked, the others
    level with the middle of what points at them where there is room, in order."""
    left: dict[str, list[str]] = {}
    for u, v in segments:
        left.setdefault(v, []).append(u)
    slot: dict[str, int] = {}
    for c, layer in enumerate(layers):
        prev = -1
        for n in layer:
            near = [slot[m] for m in left.get(n, ()) if m in slot] if c else []
            want = round(sum(near) / len(near)) if near else prev + 1
            slot[n] = prev = max(want, prev + 1)
    return slot


def _tracks(here: list[tuple[str, str]], slot: dict[str, int]) -> dict[tuple[str, str], int]:
    """A vertical track per segment of a gap; a track is reused once its last span is over
    (interval colouring, first fit), so the gap is as narrow as the busiest row needs."""
    spans = []
    for s in here:
        y0 = slot[s[0]] * PITCH + EXIT
        y1 = slot[s[1]] * PITCH + ENTRY
        spans.append((min(y0, y1), max(y0, y1), s))
    spans.sort(key=lambda t: (t[0], t[1]))
    ends: list[int] = []  # per track, the last row used
    out: dict[tuple[str, str], int] = {}
    for lo, hi, s in spans:
        for t, end in enumerate(ends):
            if end < lo - 1:  # a free row between, so two spans never touch
                ends[t] = hi
                out[s] = t
                break
        else:
            ends.append(hi)
            out[s] = len(ends) - 1
    return out


def _mark(dirs: dict[Cell, int], path: list[Cell]) -> None:
    """Add the path's line directions to each of its cells (junctions combine)."""
    get = dirs.get
    dirs[path[0]] = get(path[0], 0) | _W  # it leaves the box's border
    for p, q in pairwise(path):
        if q[0] != p[0]:
            a, b = (_E, _W) if q[0] > p[0] else (_W, _E)
        else:
            a, b = (_S, _N) if q[1] > p[1] else (_N, _S)
        dirs[p] = get(p, 0) | a
        dirs[q] = get(q, 0) | b
    dirs[path[-1]] |= _E  # into the arrow

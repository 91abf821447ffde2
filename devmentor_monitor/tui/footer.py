"""What the one-line footer keeps when its keys do not all fit (80 columns).

The view's own keys, `? Help` and `q Quit` always stay; the app-wide keys go first, least
useful first: the key of the view already shown, the theme, the filter where there is
nothing to filter, time travel, then the other views from the last.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

# App-wide actions the footer may drop, in the order it drops them (after the current
# view's own key, and the filter where the view has nothing to filter).
DROP_ORDER = (
    "cycle_theme",
    "travel(-60)",
    "filter",
    "show('incidents')",
    "show('services')",
    "show('metrics')",
    "show('overview')",
)


class Hint(msgspec.Struct):
    keys: list[str]  # as displayed ("[", "]"); keys sharing a word share a hint
    word: str
    off: bool  # --read-only: a write key, drawn struck through
    action: str  # the first key's action, for DROP_ORDER


def hints_width(hints: Sequence[Hint]) -> int:
    """Cells the footer line takes: ` k word` per hint, ` k` per extra key."""
    return sum(sum(1 + len(k) for k in h.keys) + 1 + len(h.word) for h in hints)


def fit_hints(
    hints: Sequence[Hint], width: int, *, view: str | None, filterable: bool
) -> list[Hint]:
    """``hints`` without the droppable ones, in drop order, until the line fits ``width``
    (in order as given; what still does not fit is ellipsized by the widget)."""
    kept = list(hints)
    order = [f"show('{view}')"] if view else []
    if not filterable:
        order.append("filter")
    order += [a for a in DROP_ORDER if a not in order]
    for action in order:
        if hints_width(kept) <= width:
            break
        kept = [h for h in kept if h.action != action]
    return kept

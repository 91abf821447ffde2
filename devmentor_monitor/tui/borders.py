"""A pane's border subtitle changed without repainting the whole pane.

Textual's `border_subtitle` setter refreshes the whole widget. The services table's note
("* over 11s of data") changes every second in the monitor's first minute, and once a
minute after: at 1,000 services each change repainted every visible row, the table's
paint 6.9 -> 16 ms a tick (a tick moving the clock 1 s, a tenth of the services checked,
160x50, measured in one process). Here the bottom border row alone is repainted.
"""

from __future__ import annotations

from inspect import getattr_static

from textual.geometry import Region
from textual.widget import Widget


def set_border_subtitle(widget: Widget, text: str) -> None:
    """``widget.border_subtitle = text``, repainting its bottom border row only (the
    plain setter for an empty text, before the first layout, or if Textual keeps titles
    some other way)."""
    setter = getattr_static(type(widget), "border_subtitle", None)
    internal = getattr(setter, "_internal_name", None)
    size = widget.outer_size
    if not text or not size.height or not isinstance(internal, str):
        widget.border_subtitle = text
        return
    if not hasattr(widget, internal):
        widget.border_subtitle = text
        return
    # As the setter stores it (textual.widget._BorderTitle.__set__), without its refresh.
    setattr(widget, internal, widget.render_str(text).expand_tabs(4).split()[0])
    offset = widget.content_offset  # refresh() takes regions relative to the content
    widget.refresh(Region(-offset.x, size.height - 1 - offset.y, size.width, 1))

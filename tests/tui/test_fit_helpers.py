"""The pure helpers behind 80x24: lines flow between figures (render.flow/reflow/clamp),
the footer drops app-wide keys before the view's own (footer.fit_hints), tables keep the
columns that fit whole (columns.fit_columns)."""

from __future__ import annotations

from rich.text import Text

from devmentor_monitor.tui.columns import fit_columns
from devmentor_monitor.tui.footer import Hint, fit_hints, hints_width
from devmentor_monitor.tui.render import clamp, flow, reflow

UPTIME = "uptime 1h 100.00 %  24h 100.00 %  7d 100.00 %  30d 100.00 %  errors 0.00 %"


def test_reflow_breaks_between_figures_only() -> None:
    lines = reflow(Text(UPTIME), 44).plain.splitlines()
    assert lines == [
        "uptime 1h 100.00 %  24h 100.00 %",
        "  7d 100.00 %  30d 100.00 %  errors 0.00 %",
    ]
    assert all(len(line) <= 44 for line in lines)
    assert reflow(Text(UPTIME), 0).plain == UPTIME  # not laid out yet: as it is


def test_a_sentence_wider_than_the_line_breaks_between_words() -> None:
    text = reflow(Text("silenced by alice: a reason that goes on past the pane's width"), 30)
    assert text.plain.splitlines() == [
        "silenced by alice: a reason",
        "  that goes on past the pane's",
        "  width",
    ]


def test_flow_keeps_styles_and_ellipsizes_a_part_too_long() -> None:
    text = flow([Text("DOWN", style="bold red"), "x" * 50], 20)
    assert text.plain.splitlines() == ["DOWN", "  " + "x" * 17 + "…"]
    assert text.spans[0].style == "bold red"


def test_clamp_ends_in_an_ellipsis_when_lines_are_left_out() -> None:
    hint = "docker: not available: not configured (add a docker: section to services.yaml)"
    assert clamp(Text(hint), 40, 3).plain.replace("\n  ", " ") == hint
    two = clamp(Text(hint), 30, 2).plain.splitlines()
    assert len(two) == 2
    assert two[1].endswith("…")
    assert len(two[1]) <= 30


def hints(*pairs: tuple[str, str]) -> list[Hint]:
    return [
        Hint([key], word, False, action)
        for key, word, action in (
            (
                k,
                w,
                {
                    "o": "show('overview')",
                    "m": "show('metrics')",
                    "s": "show('services')",
                    "i": "show('incidents')",
                    "/": "filter",
                    "t": "cycle_theme",
                    "?": "help",
                    "q": "quit",
                    "a": "acknowledge",
                }[k],
            )
            for k, w in pairs
        )
    ]


def test_the_footer_keeps_help_quit_and_the_views_keys() -> None:
    full = hints(
        ("a", "Ack"),
        ("o", "Overview"),
        ("m", "Metrics"),
        ("s", "Services"),
        ("i", "Incidents"),
        ("/", "Filter"),
        ("t", "Theme"),
        ("?", "Help"),
        ("q", "Quit"),
    )
    kept = fit_hints(full, 40, view="incidents", filterable=False)
    words = [h.word for h in kept]
    assert hints_width(kept) <= 40
    assert words[0] == "Ack"
    assert words[-2:] == ["Help", "Quit"]
    assert "Incidents" not in words  # the view shown: first to go
    assert "Filter" not in words  # nothing to filter here
    assert fit_hints(full, 200, view="incidents", filterable=False) == full
    assert [h.word for h in fit_hints(full, 10, view=None, filterable=True)] == [
        "Ack",
        "Help",
        "Quit",
    ]  # the rest cannot give way: the widget ellipsizes


def test_columns_that_fit_whole_and_the_auto_column_takes_the_rest() -> None:
    columns = [
        ("name", "deployment", 20),
        ("ready", "ready", 6),
        ("updated", "updated", 7),
        ("desired", "desired", 7),
        ("service", "service", None),
    ]
    drop = ("desired", "service", "updated")
    assert fit_columns(columns, drop, 0) == columns
    assert [c[0] for c in fit_columns(columns, drop, 44)] == ["name", "ready", "updated"]
    wide = fit_columns(columns, drop, 70)
    assert [c[0] for c in wide] == ["name", "ready", "updated", "desired", "service"]
    assert sum(w + 2 for _, _, w in wide if w is not None) == 70  # the service column fills it

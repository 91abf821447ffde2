"""`report --format html`: one self-contained page (inline CSS and SVG, no script, no
font, no URL), readable offline and printable."""

from __future__ import annotations

from html import escape

from devmentor_monitor.reports.model import Report
from devmentor_monitor.reports.svg import latency_chart, uptime_chart
from devmentor_monitor.reports.tables import Table, summary, tables, title

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:60rem;color:#1d232a;background:#fff;line-height:1.4}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left}
th{background:#f3f5f7}
ul.summary{padding-left:1.2rem}.empty{color:#6a737d;font-style:italic}
svg.chart{display:block;margin:.5rem 0;font-size:11px;fill:#1d232a;max-width:100%;height:auto}
svg .bar{fill:#2f81f7}svg .bar.bad{fill:#d1242f}
svg .target{stroke:#1d232a;stroke-width:2;stroke-dasharray:4 3}
svg line.axis{stroke:#8c959f}svg text.axis{fill:#6a737d}
h3{font-size:.95rem;margin:1rem 0 0}
"""


def _table(t: Table) -> str:
    if not t.rows:
        return f'<h2>{escape(t.title)}</h2><p class="empty">{escape(t.empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return (
        f"<h2>{escape(t.title)}</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render(r: Report) -> str:
    heading = escape(title(r))
    items = "".join(f"<li>{escape(line)}</li>" for line in summary(r))
    latency = "".join(
        f"<h3>{escape(s.name)}</h3>{latency_chart(s, r.since, r.until)}" for s in r.services
    )
    body = [
        f"<h1>{heading}</h1>",
        f'<ul class="summary">{items}</ul>',
        "<h2>Uptime per service</h2>",
        uptime_chart(r.services),
        "<h2>Latency by hour (mean)</h2>",
        latency,
        *(_table(t) for t in tables(r)),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{heading}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )

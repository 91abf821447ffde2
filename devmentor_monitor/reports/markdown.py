"""`report --format md`: the tables of tables.py as GitHub-flavoured Markdown."""

from __future__ import annotations

from devmentor_monitor.reports.model import Report
from devmentor_monitor.reports.tables import Table, summary, tables, title


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(t: Table) -> list[str]:
    out = [f"## {t.title}", ""]
    if not t.rows:
        return [*out, f"_{t.empty}_", ""]
    out.append("| " + " | ".join(t.header) + " |")
    out.append("|" + "|".join("---" for _ in t.header) + "|")
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return [*out, ""]


def render(r: Report) -> str:
    lines = [f"# {title(r)}", ""]
    lines += [f"- {line}" for line in summary(r)]
    lines.append("")
    for t in tables(r):
        lines += _table(t)
    return "\n".join(lines)

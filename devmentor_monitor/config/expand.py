"""``${VAR}`` and ``${VAR:-default}`` in services.yaml, replaced before it is parsed.

As compose files do it; a placeholder inside a comment is left alone, and one with no
value and no default is a ConfigError naming the file, the line and the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial

from devmentor_monitor.config.yaml_lines import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, variables: Mapping[str, str], source: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in the file, as compose files do."""

    def sub_at(match: re.Match[str], offset: int) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        line = text.count("\n", 0, offset + match.start()) + 1
        raise ConfigError(
            source,
            line,
            name,
            "environment variable is not set and has no default (write ${" + name + ":-value})",
        )

    out: list[str] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        code, comment = _split_comment(line)
        out.append(_PLACEHOLDER.sub(partial(sub_at, offset=offset), code) + comment)
        offset += len(line)
    return "".join(out)


def _split_comment(line: str) -> tuple[str, str]:
    """Split a YAML line into code and comment ('#' at the start or after a space,
    outside quotes)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i], line[i:]
    return line, ""

"""Themes are YAML files in themes/, loaded by name; severity colours live there, not in code."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from textual.theme import Theme

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 4 files in ~2 ms, not ~30
THEMES_DIR = Path(__file__).resolve().parents[2] / "themes"
BASE_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
    "dark",
)


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file."""


def load_themes(folder: Path = THEMES_DIR) -> dict[str, Theme]:
    themes: dict[str, Theme] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
            if not isinstance(data, dict) or "primary" not in data:
                raise ThemeError(f"{path}: needs at least 'primary'")
            name = str(data.get("name") or path.stem)
            variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
            themes[name] = Theme(
                name=name, variables=variables, **{k: data[k] for k in BASE_KEYS if k in data}
            )
        except (OSError, yaml.YAMLError, TypeError, ValueError) as exc:
            raise ThemeError(f"{path}: {exc}") from None
    if not themes:
        raise ThemeError(f"no themes found in {folder}")
    return themes


def initial_theme(requested: str | None, configured: str, available: dict[str, Theme]) -> str:
    """--theme wins, then NO_COLOR (monochrome), then the config's choice."""
    if requested:
        if requested not in available:
            raise ThemeError(
                f"unknown theme {requested!r}; available: {', '.join(sorted(available))}"
            )
        return requested
    if os.environ.get("NO_COLOR") and "monochrome" in available:
        return "monochrome"
    return configured if configured in available else next(iter(available))

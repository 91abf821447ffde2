"""Themes are YAML files, loaded by name; severity colours live there, not in code. The
packaged ones come first; files in $XDG_CONFIG_HOME/devmentor-monitor/themes/ add to them
(and replace one of the same name)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import yaml
from textual.theme import Theme

from devmentor_monitor.config.locate import theme_dirs

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 4 files in ~2 ms, not ~30
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


def load_themes(folders: Sequence[Path] | None = None) -> dict[str, Theme]:
    """Every theme in `folders` (default: packaged, then the user's); a later one wins."""
    folders = theme_dirs(os.environ) if folders is None else folders
    themes: dict[str, Theme] = {}
    paths = [p for folder in folders for p in sorted(folder.glob("*.yaml"))]
    for path in paths:
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
        raise ThemeError(f"no themes found in {', '.join(map(str, folders))}")
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

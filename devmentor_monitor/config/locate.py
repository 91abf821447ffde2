"""Where the monitor's files are found: the services file by a fixed lookup order, the themes
from the package plus the user's own. Packaged files are found beside the package's own
modules, so an installed wheel works from any working directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from devmentor_monitor import defaults

APP = "devmentor-monitor"
CONFIG_NAME = "services.yaml"
# The order `config check` prints; the first that applies wins.
LOOKUP_ORDER = (
    "--config",
    "$SERVICES_CONFIG",
    f"./{CONFIG_NAME}",
    f"$XDG_CONFIG_HOME/{APP}/{CONFIG_NAME}",
    "the packaged default",
)


def _packaged(*parts: str) -> Path:
    # A wheel installs as plain files; a zipped import is not supported (the themes are
    # globbed). Not importlib.resources: its readers import zipfile (~0.3 MiB RSS in `ultra`).
    return Path(defaults.__file__).parent.joinpath(*parts)


def packaged_config() -> Path:
    return _packaged(CONFIG_NAME)


def packaged_themes() -> Path:
    return _packaged("themes")


def user_config_dir(env: Mapping[str, str]) -> Path:
    """$XDG_CONFIG_HOME/devmentor-monitor, ~/.config/devmentor-monitor when unset."""
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP


class Located(msgspec.Struct, frozen=True):
    path: Path
    found_by: str  # one of LOOKUP_ORDER


def locate_config(explicit: str | None, env: Mapping[str, str], cwd: Path | None = None) -> Located:
    """The services file to read: the first of LOOKUP_ORDER that is given or exists. A file
    named by --config or $SERVICES_CONFIG is used even when missing, so the error names it."""
    if explicit:
        return Located(Path(explicit), LOOKUP_ORDER[0])
    if env.get("SERVICES_CONFIG"):
        return Located(Path(env["SERVICES_CONFIG"]), LOOKUP_ORDER[1])
    here = (cwd or Path.cwd()) / CONFIG_NAME
    if here.is_file():
        return Located(here, LOOKUP_ORDER[2])
    user = user_config_dir(env) / CONFIG_NAME
    if user.is_file():
        return Located(user, LOOKUP_ORDER[3])
    return Located(packaged_config(), LOOKUP_ORDER[4])


def theme_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Packaged themes first, then the user's: a user theme of the same name wins."""
    return (packaged_themes(), user_config_dir(env) / "themes")

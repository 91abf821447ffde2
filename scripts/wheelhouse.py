"""Make the image's wheelhouse: the package and its runtime dependencies, for the image's Python.

    python scripts/wheelhouse.py SRC DEST [--python-version X.Y.Z] [--cache DIR]

`pip wheel` evaluates environment markers for the Python that runs it, even with
`--python-version`; the image's may differ in a way a marker sees (Debian bookworm's 3.11.2
needs async-timeout for redis, 3.11.3 and later do not). So after pip, this adds what the
markers select for the given version, until nothing is missing. Run it with the same minor
version as the image's Python: the compiled wheels are cp3XX.

--cache DIR keeps the dependency wheels between runs and resolves from them alone first
(no index: a few seconds instead of half a minute); only when they no longer satisfy the
requirements does pip ask the index. So a cached wheelhouse does not pick up new releases
by itself: delete DIR for that.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # a bare venv: pip carries its own copy
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename


def pip_wheel(dest: Path, *what: str, trying: bool = False) -> bool:
    """Run pip wheel into ``dest``; ``trying``: a failure is an answer, not an error."""
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*cmd, "-w", str(dest), *what], check=not trying, capture_output=trying)
    return done.returncode == 0


def with_deps(dest: Path, cache: Path | None, *what: str) -> None:
    """Wheel ``what`` and its dependencies: from the cache alone if it has them all."""
    if cache is None:
        pip_wheel(dest, *what)
        return
    links = ["--find-links", str(cache), "--find-links", str(dest)]
    if not pip_wheel(dest, "--no-index", *links, *what, trying=True):
        print("wheelhouse: the cache lacks some; asking the index", file=sys.stderr)
        pip_wheel(dest, *links, *what)
    cache.mkdir(parents=True, exist_ok=True)
    for wheel in dest.glob("*.whl"):
        if not wheel.name.startswith("devmentor_monitor-") and not (cache / wheel.name).exists():
            shutil.copy2(wheel, cache / wheel.name)


def requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode("utf-8"))
    return meta.get_all("Requires-Dist") or []


def missing(dest: Path, env: dict[str, str]) -> set[str]:
    """Requirements that the target's markers select and no wheel in ``dest`` provides."""
    wheels = list(dest.glob("*.whl"))
    have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
    out = set()
    for wheel in wheels:
        for line in requirements(wheel):
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            if canonicalize_name(req.name) not in have:
                out.add(f"{req.name}{req.specifier}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="the project to wheel")
    parser.add_argument("dest", type=Path, help="the wheelhouse directory")
    parser.add_argument("--python-version", help="the image's Python, e.g. 3.11.2")
    parser.add_argument("--cache", type=Path, help="dependency wheels kept between runs")
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    # The project itself always from SRC (its wheel is never cached), then its dependencies.
    pip_wheel(args.dest, "--no-deps", str(args.src))
    (project,) = args.dest.glob("devmentor_monitor-*.whl")
    with_deps(args.dest, args.cache, str(project))
    if not args.python_version:
        return 0
    version = args.python_version.strip()
    env = {
        **default_environment(),
        "python_full_version": version,
        "python_version": ".".join(version.split(".")[:2]),
    }
    for _ in range(10):  # each round adds a level of the missing packages' own dependencies
        want = missing(args.dest, env)
        if not want:
            return 0
        print(f"wheelhouse: for Python {version} also: {', '.join(sorted(want))}", file=sys.stderr)
        with_deps(args.dest, args.cache, *sorted(want))
    print("wheelhouse: dependencies still missing after 10 rounds", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Check that Qt's xcb platform plugin (what opens the app's window on an X11 desktop) finds
every system library it needs, before Qt itself aborts on a missing one.

    .venv/bin/python scripts/qt_system_libs.py [--install] [--warn-only]

Runs ``ldd`` on PySide6's ``libqxcb.so`` and the Qt libraries next to it and collects the ones
reported ``not found``. It checks only when a display is in use (``DISPLAY`` set and Qt not
told to use another platform: offscreen, Wayland, ...). Missing libraries are mapped to Debian
and Ubuntu packages; with ``--install`` as root (and apt-get) they are installed, else the one
command that installs them is printed.

Exit status: 0 nothing missing (or no display in use, or installed now); 1 missing (with
``--warn-only``: still 0, the message is a warning). Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

# Libraries whose Debian package is not named after them (the rest: ``debian_package``).
PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libxcb-util.so.1": "libxcb-util1",
    "libpng16.so.16": "libpng16-16",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")
_SONAME = re.compile(r"^(lib[\w.+-]*?)\.so\.(\d+)")


def display_in_use(env: Mapping[str, str]) -> bool:
    """Whether Qt will use its xcb plugin: an X display is set and no other platform is chosen."""
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if platform and platform != "xcb":
        return False  # offscreen, minimal, wayland, vnc, eglfs, ...
    return bool(env.get("DISPLAY"))


def qt_plugin() -> Path | None:
    """PySide6's xcb platform plugin, or None where PySide6 is not installed."""
    spec = importlib.util.find_spec("PySide6")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path, ldd_output: str | None = None) -> list[str]:
    """The libraries ``ldd`` reports ``not found`` for ``plugin`` and the Qt libraries beside it
    (``ldd_output``: its text, for tests), in order, without repeats."""
    if ldd_output is None:
        files = [plugin, *sorted((plugin.parent.parent.parent / "lib").glob("libQt6XcbQpa.so*"))]
        done = subprocess.run(["ldd", *map(str, files)], capture_output=True, text=True, check=False)
        ldd_output = done.stdout + done.stderr
    missing: list[str] = []
    for line in ldd_output.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match.group(1) not in missing:
            missing.append(match.group(1))
    return missing


def debian_package(library: str) -> str:
    """The Debian/Ubuntu package of a shared library: ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``,
    ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0`` (a name ending in a digit gets a dash)."""
    if library in PACKAGES:
        return PACKAGES[library]
    match = _SONAME.match(library)
    if not match:
        return library
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def packages_for(libraries: Sequence[str]) -> list[str]:
    found: list[str] = []
    for library in libraries:
        package = debian_package(library)
        if package not in found:
            found.append(package)
    return found


def install(packages: Sequence[str]) -> bool:
    """``apt-get install`` the packages (as root); True when it worked."""
    quiet = {"stdout": subprocess.DEVNULL}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, **quiet)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env, **quiet).returncode == 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="install what is missing when root and apt-get is there")
    parser.add_argument("--warn-only", action="store_true", help="exit 0 even when libraries are missing")
    parser.add_argument("--plugin", type=Path, help="the xcb plugin to check (default: PySide6's)")
    parser.add_argument("--ldd-output", type=Path, help=argparse.SUPPRESS)  # tests: ldd's text from a file
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    if not display_in_use(env):
        return 0
    plugin = args.plugin or qt_plugin()
    if plugin is None or shutil.which("ldd") is None and args.ldd_output is None:
        return 0  # nothing we can check here; Qt will say what it misses
    libraries = missing_libraries(plugin, args.ldd_output.read_text() if args.ldd_output else None)
    if not libraries:
        return 0
    packages = packages_for(libraries)
    apt = shutil.which("apt-get") is not None
    if args.install and apt and os.geteuid() == 0:
        print(f"Installing what Qt needs to open a window: {' '.join(packages)}", file=sys.stderr)
        if install(packages) and not (args.ldd_output is None and missing_libraries(plugin)):
            return 0
    level = "warning" if args.warn_only else "error"
    print(f"{level}: Qt cannot open a window on this desktop: missing system libraries {', '.join(libraries)}.",
          file=sys.stderr)
    if apt:
        sudo = "" if os.geteuid() == 0 else "sudo "
        print(f"Install them, then start again:\n    {sudo}apt-get install -y {' '.join(packages)}", file=sys.stderr)
    else:
        print("Install the packages that provide them (on Debian and Ubuntu: " + " ".join(packages) + "), then start again.",
              file=sys.stderr)
    return 0 if args.warn_only else 1


if __name__ == "__main__":
    sys.exit(main())

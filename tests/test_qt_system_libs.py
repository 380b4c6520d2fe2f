"""scripts/qt_system_libs.py: before the app opens a window on an X11 desktop, the system
libraries Qt's xcb plugin needs are found (ldd), mapped to Debian packages, and installed as
root or named in one apt-get line."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("qt_system_libs", PROJECT_ROOT / "scripts" / "qt_system_libs.py")
qsl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qsl)

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibglib-2.0.so.0 => not found
/venv/PySide6/Qt/lib/libQt6XcbQpa.so.6:
\tlibxcb-icccm.so.4 => not found
"""


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, False),  # Wayland only
    ({}, False),
])
def test_only_an_x_display_in_use_is_checked(env, expected):
    assert qsl.display_in_use(env) is expected


def test_missing_libraries_are_read_from_ldd_and_mapped_to_packages():
    missing = qsl.missing_libraries(Path("libqxcb.so"), LDD_OUTPUT)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0", "libglib-2.0.so.0"]
    assert qsl.packages_for(missing) == ["libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libglib2.0-0"]
    assert [qsl.debian_package(name) for name in ("libxcb-cursor.so.0", "libxcb-render-util.so.0", "libX11-xcb.so.1",
                                                  "libdbus-1.so.3", "libxcb-xkb.so.1", "libEGL.so.1")] == [
        "libxcb-cursor0", "libxcb-render-util0", "libx11-xcb1", "libdbus-1-3", "libxcb-xkb1", "libegl1"]


def run_check(tmp_path, env_extra: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    ldd_file = tmp_path / "ldd.txt"
    ldd_file.write_text(LDD_OUTPUT)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env_extra}
    return subprocess.run(["python3", str(PROJECT_ROOT / "scripts" / "qt_system_libs.py"), "--plugin", "libqxcb.so",
                           "--ldd-output", str(ldd_file), *flags], capture_output=True, text=True, env=env, timeout=60)


def test_missing_libraries_stop_the_start_with_one_apt_get_line(tmp_path):
    done = run_check(tmp_path, {"DISPLAY": ":0"})
    assert done.returncode == 1
    commands = [line.strip() for line in done.stderr.splitlines() if "apt-get install" in line]
    assert len(commands) == 1
    assert commands[0].endswith("apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libglib2.0-0")
    assert "libxcb-icccm.so.4" in done.stderr.splitlines()[0]
    assert run_check(tmp_path, {"DISPLAY": ":0"}, "--warn-only").returncode == 0
    quiet = run_check(tmp_path, {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("ldd") is None, reason="needs gcc and ldd")
def test_real_ldd_finds_a_library_that_is_not_installed(tmp_path):
    """A plugin linked against a library that is then removed: ldd itself reports it missing."""
    (tmp_path / "stub.c").write_text("int stub(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int stub(void); int plugin(void) { return stub(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "libmaskingnet-gone.so.3", "-Wl,-soname,libmaskingnet-gone.so.3",
                    "stub.c"], cwd=tmp_path, check=True)
    (tmp_path / "libmaskingnet-gone.so").symlink_to("libmaskingnet-gone.so.3")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "libqxcb.so", "plugin.c", "-L.", "-lmaskingnet-gone"], cwd=tmp_path,
                   check=True)
    for stub in tmp_path.glob("libmaskingnet-gone.so*"):
        stub.unlink()
    assert qsl.missing_libraries(tmp_path / "libqxcb.so") == ["libmaskingnet-gone.so.3"]
    assert qsl.packages_for(["libmaskingnet-gone.so.3"]) == ["libmaskingnet-gone3"]


def test_the_installed_plugin_is_found_and_checked():
    plugin = qsl.qt_plugin()
    if plugin is None:
        pytest.skip("PySide6's xcb plugin is not installed here")
    assert plugin.name == "libqxcb.so" and isinstance(qsl.missing_libraries(plugin), list)

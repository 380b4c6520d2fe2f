"""Smoke test of the desktop bundle: builds it with PyInstaller (packaging/build.sh), checks what
it carries, runs its self-check and its frozen ``maskingnet predict`` on a real photo.

Slow (minutes): kept out of the default run; run with ``pytest -m slow tests/test_packaging.py``.
MASKINGNET_BUNDLE_FLAVOUR picks cpu (default: the packaging/.build-cpu-venv that
``bash packaging/build.sh cpu`` creates once) or cuda (the project's .venv);
MASKINGNET_TEST_BUNDLE names an already built bundle folder to test instead of building;
MASKINGNET_BUNDLE_MODEL the checkpoint shipped as default (else resources/models, else the
training run's best checkpoint on development machines).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
PHOTO = "02159e548029_01.jpg"
WIP_MODEL = Path("/root/maskingnet-runs/default/best.safetensors")


def _model_to_ship(tmp: Path) -> Path | None:
    named = os.environ.get("MASKINGNET_BUNDLE_MODEL")
    if named:
        return Path(named)
    shipped = ROOT / "resources" / "models" / "default.safetensors"
    if shipped.is_file():
        return shipped
    if WIP_MODEL.is_file():  # a training writes it: ship a stable copy
        copy = tmp / "default.safetensors"
        shutil.copyfile(WIP_MODEL, copy)
        return copy
    return None


def _build_python(flavour: str) -> Path:
    if flavour == "cpu":
        return PACKAGING / ".build-cpu-venv" / "bin" / "python"
    return Path(os.environ.get("PYTHON", ROOT / ".venv" / "bin" / "python"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The built bundle folder (built once for this module)."""
    given = os.environ.get("MASKINGNET_TEST_BUNDLE")
    if given:
        return Path(given)
    flavour = os.environ.get("MASKINGNET_BUNDLE_FLAVOUR", "cpu")
    python = _build_python(flavour)
    found = python.is_file() and subprocess.run([python, "-c", "import PyInstaller"], capture_output=True).returncode == 0
    if not found:
        pytest.skip(f"no pyinstaller in {python} (create it once: bash packaging/build.sh {flavour})")
    model = _model_to_ship(tmp_path_factory.mktemp("model"))
    if model is None:
        pytest.skip("no model to ship: resources/models/default.safetensors or MASKINGNET_BUNDLE_MODEL")
    result = subprocess.run(["bash", str(PACKAGING / "build.sh"), flavour, "--model", str(model)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder = PACKAGING / "dist" / f"maskingnet-{__version__}-{flavour}"
    assert folder.is_dir(), result.stdout[-2000:]
    return folder


@pytest.fixture
def photo(carvana_dir: Path) -> Path:
    return carvana_dir / "images" / PHOTO


def _frozen_env(tmp_path: Path) -> dict[str, str]:
    """No Python of the developer: no venv, no PYTHONPATH; an empty home; offscreen Qt."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "QT_", "MASKINGNET_", "OMP_"))}
    env["PATH"] = "/usr/bin:/bin"
    env["MASKINGNET_HOME"] = str(tmp_path / "home")
    env["HOME"] = str(tmp_path)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _assert_cut_out(path: Path) -> None:
    with Image.open(path) as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image.getchannel("A"))
    share = float((alpha > 127).mean())
    assert 0.05 < share < 0.9, f"the car covers {share:.0%} of the photo"


def test_bundle_carries_the_app_and_nothing_else(bundle: Path) -> None:
    internal = bundle / "_internal"
    for exe in ("maskingnet-app", "maskingnet"):
        assert os.access(bundle / exe, os.X_OK), exe
    for needed in ("resources/models/default.safetensors", "resources/icons/maskingnet.png",
                   "resources/recipes/default-256.json", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
                   "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/imageformats"):
        assert (internal / needed).exists(), needed
    unwanted = ("torchvision", "tkinter", "_tkinter", "tests", "torch/include", "torch/test",
                "torch/utils/tensorboard", "caffe2", "PySide6/Qt/qml", "PySide6/QtWebEngineCore")
    for name in unwanted:
        assert not (internal / name).exists(), name
    assert not list(bundle.rglob("__pycache__"))
    assert not list(internal.glob("*tkinter*"))
    # Nothing points back at the developer's tree or environment.
    marker = str(ROOT).encode()
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.suffix in {".py", ".txt", ".json", ".md", ".desktop", ".sh", ".cfg"}:
            assert marker not in path.read_bytes(), path


def test_desktop_entry(bundle: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(bundle / "maskingnet.desktop")
    section = entry["Desktop Entry"]
    assert section["Exec"].split()[0] == "maskingnet-app"
    assert section["Icon"] == "maskingnet" and (bundle / "maskingnet.png").is_file()
    assert section["Type"] == "Application" and section["Name"] == "MaskingNet"
    assert os.access(bundle / "install-desktop.sh", os.X_OK)


def test_install_desktop_writes_an_absolute_exec(bundle: Path, tmp_path: Path) -> None:
    env = _frozen_env(tmp_path) | {"XDG_DATA_HOME": str(tmp_path / "data")}
    subprocess.run(["bash", str(bundle / "install-desktop.sh")], env=env, check=True, capture_output=True)
    text = (tmp_path / "data" / "applications" / "maskingnet.desktop").read_text()
    assert f'Exec="{bundle.resolve()}/maskingnet-app" %F' in text
    assert (tmp_path / "data" / "icons" / "hicolor" / "256x256" / "apps" / "maskingnet.png").is_file()


def test_frozen_versions(bundle: Path, tmp_path: Path) -> None:
    for exe in ("maskingnet-app", "maskingnet"):
        result = subprocess.run([bundle / exe, "--version"], env=_frozen_env(tmp_path), capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{exe} {__version__}"


def test_frozen_self_check_masks_a_photo(bundle: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "cut" / "car.png"
    result = subprocess.run([bundle / "maskingnet-app", "--self-check", photo, out], env=_frozen_env(tmp_path),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "self-check ok" in result.stdout and "default" in result.stdout
    _assert_cut_out(out)
    print(result.stdout.strip(), file=sys.stderr)


def test_frozen_self_check_fails_in_one_line(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run([bundle / "maskingnet-app", "--self-check", tmp_path / "missing.jpg", tmp_path / "out.png"],
                            env=_frozen_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "missing.jpg" in result.stderr


def test_frozen_predict(bundle: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run([bundle / "maskingnet", "predict", photo, "--out", out], env=_frozen_env(tmp_path),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "1 masked, 0 skipped, 0 failed" in result.stdout + result.stderr
    _assert_cut_out(out / f"{photo.stem}.png")

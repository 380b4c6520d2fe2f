"""Shared fixtures: offscreen Qt, an isolated app home, the shared data, a tiny checkpoint."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A runner started in the background inherits Ctrl-C as ignored; the Ctrl-C tests need Python's own
# handler here and in the processes they start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# The tests' networks are tiny: one intra-op thread is as fast, and far faster on a busy machine
# (2 threads spin against each other when another process holds a core). Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data" / "carvana512"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own MaskingNet home (models, corrections, settings)."""
    home = tmp_path_factory.mktemp("maskingnet-home")
    monkeypatch.setenv("MASKINGNET_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def isolated_qsettings(isolated_home: Path) -> Path:
    """Every test's QSettings (the app's remembered settings) live in its own folder."""
    from PySide6.QtCore import QSettings

    folder = isolated_home / "qsettings"
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def carvana_dir() -> Path:
    """The shared Carvana photos; tests that need them skip where they are missing."""
    if not (SHARED_DATA / "images").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (only on development machines)")
    return SHARED_DATA


@pytest.fixture
def few_cars(carvana_dir: Path, tmp_path: Path) -> Path:
    """A folder with images/ and masks/ of the first 2 cars x 4 angles (links to the shared data)."""
    images = sorted((carvana_dir / "images").glob("*.jpg"))
    cars = sorted({p.stem[:12] for p in images})[:2]
    root = tmp_path / "few"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for car in cars:
        for angle in ("01", "05", "09", "13"):
            name = f"{car}_{angle}"
            (root / "images" / f"{name}.jpg").symlink_to(carvana_dir / "images" / f"{name}.jpg")
            (root / "masks" / f"{name}_mask.gif").symlink_to(carvana_dir / "masks" / f"{name}_mask.gif")
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised width-4 MaskingNet at working size 64 (fast, not accurate)."""
    import torch

    from core.checkpoint import ModelConfig, save_model
    from core.preprocess import Preprocess

    torch.manual_seed(0)
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"})
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(path, config.build().eval(), config)
    return path


@pytest.fixture
def no_shipped_models(tmp_path: Path, monkeypatch) -> Path:
    """Pretend no model ships with the app (as before one is trained)."""
    empty = tmp_path / "no-shipped-models"
    monkeypatch.setattr("core.model_store.SHIPPED_MODELS_DIR", empty)
    return empty


@pytest.fixture
def one_torch_thread():
    """Tiny models run faster on one thread (and do not fight a busy machine for two)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""Shared fixtures: offscreen Qt, an isolated app home, the shared data, a tiny checkpoint."""

from __future__ import annotations

import gc
import os
import pwd
import shutil
import signal
import tempfile
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

# No test may touch the user's home. The run's home variables point at a temporary folder from
# here on (processes the tests start inherit them), each test gets its own (``isolated_home``),
# and the run fails when the user's MaskingNet settings or app home changed (pytest_sessionfinish).
USER_HOME = Path(pwd.getpwuid(os.getuid()).pw_dir)
USER_APP_FOLDERS = (USER_HOME / ".config" / "MaskingNet", USER_HOME / ".local" / "share" / "maskingnet")
HOME_VARIABLES = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "MASKINGNET_HOME")
_RUN_HOME = Path(tempfile.mkdtemp(prefix="maskingnet-test-home-"))
for _name in HOME_VARIABLES:
    os.environ[_name] = str(_RUN_HOME / _name.lower())


def _snapshot(folders: tuple[Path, ...]) -> dict[str, tuple[int, int] | None]:
    """Each file under ``folders`` with its size and modification time; None for a missing folder."""
    found: dict[str, tuple[int, int] | None] = {}
    for folder in folders:
        found[str(folder)] = None if not folder.exists() else (0, folder.stat().st_mtime_ns)
        for path in folder.rglob("*") if folder.is_dir() else ():
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


_USER_FILES_BEFORE = _snapshot(USER_APP_FOLDERS)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when it created or changed anything in the user's MaskingNet folders."""
    shutil.rmtree(_RUN_HOME, ignore_errors=True)
    after = _snapshot(USER_APP_FOLDERS)
    changed = sorted(path for path in set(after) | set(_USER_FILES_BEFORE) if after.get(path) != _USER_FILES_BEFORE.get(path))
    if changed:
        print(f"\nerror: the user's MaskingNet folders changed during the tests (by a test, or by another"
              f" program running meanwhile): {', '.join(changed[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Cyclic garbage is collected in the main thread only, as the app does (maskingnet_app.gui_thread_gc):
# collected automatically, a Qt wrapper in a cycle could be destroyed in a worker thread (a model
# load, a batch, a training run), where PySide6 crashes (seen once in CI: a segmentation fault while
# collecting in the model-loading worker). Automatic collection is off for the whole run, and each
# test's cycles are collected after it, here.
gc.disable()


@pytest.fixture(autouse=True)
def _collect_garbage_in_the_main_thread():
    """Collect each test's cyclic garbage in the main thread (automatic collection is off)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own MaskingNet home (models, corrections) and its own HOME, XDG
    config, data and cache folders, also for the processes it starts."""
    home = tmp_path_factory.mktemp("maskingnet-home")
    monkeypatch.setenv("MASKINGNET_HOME", str(home))
    user = tmp_path_factory.mktemp("user-home")
    monkeypatch.setenv("HOME", str(user))
    for name, folder in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache")):
        monkeypatch.setenv(name, str(user / folder))
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

    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess

    torch.manual_seed(0)
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"})
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(path, config.build().eval(), config)
    return path


@pytest.fixture
def no_shipped_models(tmp_path: Path, monkeypatch) -> Path:
    """Pretend no model ships with the app (as before one is trained)."""
    empty = tmp_path / "no-shipped-models"
    monkeypatch.setattr("core.models.model_store.SHIPPED_MODELS_DIR", empty)
    return empty


@pytest.fixture
def one_torch_thread():
    """Tiny models run faster on one thread (and do not fight a busy machine for two)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

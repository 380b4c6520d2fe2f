"""Issue 8 in the desktop app: unreadable files in the list, untrusted model files, the window
closed while work runs (threads stop, the process exits), and corrections that survive the
process being killed during their autosave."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication
from test_app_helpers import MASK_TIMEOUT_MS, make_photo, make_window, open_and_wait
from test_bad_inputs import BAD_FILES

from maskingnet_app.editor.documents import PhotoStatus

PROJECT_ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory) -> list[Path]:
    """Ten synthetic photos, big enough that masking and exporting them takes a while."""
    folder = tmp_path_factory.mktemp("many") / "photos"
    return [make_photo(folder / f"car{i:02d}.png", size=(960, 600), seed=i) for i in range(10)]


def app_threads() -> set[threading.Thread]:
    """Python threads other than this one (Qt's pool threads show up once they ran Python)."""
    return {thread for thread in threading.enumerate() if thread is not threading.current_thread() and thread.is_alive()}


def pools_idle(window) -> bool:
    """True when every task queue of the window has finished its work."""
    queues = [window.model_service._tasks, window.session.loader._tasks, window.session.saver._tasks,
              window.exports.exporter._tasks]
    return all(queue.idle for queue in queues)


def test_every_unreadable_file_shows_failed_with_its_reason(qtbot, tiny_checkpoint, tmp_path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (make, _) in BAD_FILES.items():
        (folder / name).write_bytes(make())
    good = make_photo(folder / "good.png")
    window = make_window(qtbot, tiny_checkpoint)
    try:
        documents = open_and_wait(qtbot, window, [folder])
        by_name = {document.path.name: document for document in documents}
        assert set(by_name) == set(BAD_FILES) | {good.name}
        for name, (_, words) in BAD_FILES.items():
            document = by_name[name]
            assert document.status == PhotoStatus.FAILED, name
            assert name in document.error and words in document.error and "\n" not in document.error
        assert by_name[good.name].status == PhotoStatus.MASKED
        window.photo_list.select_document(by_name["bomb.png"])
        assert not window.canvas.editing_enabled and not window.actions["export"].isEnabled()
    finally:
        window.close()


class _Planted:
    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_loading_a_planted_pickle_as_a_model_runs_no_code(qtbot, tiny_checkpoint, tmp_path) -> None:
    sentinel = tmp_path / "code-ran.txt"
    evil = tmp_path / "model.safetensors"
    evil.write_bytes(pickle.dumps({"state_dict": _Planted(sentinel)}, protocol=4))
    window = make_window(qtbot, tiny_checkpoint)
    try:
        qtbot.waitUntil(lambda: window.model_service.is_ready, timeout=MASK_TIMEOUT_MS)
        with qtbot.waitSignal(window.model_service.modelFailed, timeout=MASK_TIMEOUT_MS) as failed:
            window.model_service.load(str(evil))
        assert failed.args[0] == f"{evil}: not a safetensors model file (bad header)"
        assert "not a safetensors model file" in window.message_bar.text
        assert not sentinel.exists()
    finally:
        window.close()


def test_closing_the_window_during_masking_stops_its_threads(qtbot, tiny_checkpoint, many_photos) -> None:
    before = app_threads()
    photos = many_photos
    window = make_window(qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: window.model_service.is_ready, timeout=MASK_TIMEOUT_MS)
    with qtbot.waitSignal(window.model_service.jobStarted, timeout=MASK_TIMEOUT_MS):
        documents = window.open_paths(photos)
    window.close()
    assert pools_idle(window)
    started_after_close = []
    window.model_service.jobStarted.connect(lambda *args: started_after_close.append(args))
    qtbot.wait(300)  # the signals still queued (photos identified meanwhile) start nothing
    assert started_after_close == [] and pools_idle(window)
    assert not window.model_service.is_busy
    assert any(d.status != PhotoStatus.MASKED for d in documents), "closed too late to test anything"
    qtbot.waitUntil(lambda: app_threads() <= before, timeout=10000)


def test_closing_the_window_during_export_all_leaves_complete_files(qtbot, tiny_checkpoint, many_photos, tmp_path) -> None:
    photos = many_photos
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, photos)
    out = tmp_path / "out"
    window.exports.ask = lambda settings, sources: settings.with_folder(out)
    assert window.export_all()
    window.close()  # waits for the running export, then shuts the rest down
    assert pools_idle(window)
    written = sorted(out.glob("*.png"))
    assert written and not list(out.glob(".*.part"))
    for path in written:
        with Image.open(path) as image:
            image.load()
            assert image.size == (960, 600)


CLOSE_DURING_WORK = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from maskingnet_app.main import compose_window
from maskingnet_app.model.model_service import ModelService

mode, model, photos, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
app = QApplication(sys.argv[:1])
window = compose_window(ModelService(model, "cpu"))
window.show()
told = []
def close_now(*args):
    if not told:
        told.append(True)
        print(mode, "running", flush=True)
        QTimer.singleShot(0, window.close)
def begin(*args):
    if mode == "masking":
        window.model_service.jobStarted.connect(close_now)
        window.open_paths([photos])
    elif mode == "training":  # fine-tuning on saved corrections, closed at its first progress
        sys.path.insert(0, "tests")
        from pathlib import Path
        from test_finetune_helpers import make_corrections
        make_corrections(Path(out), window.corrections, count=6, groups=3)
        window.features["model"].chooser.train_action.trigger()
        dialog = window.features["model"].training_dialog
        dialog.epochs.setValue(200)
        dialog.batch.setValue(2)
        dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
        dialog.name_edit.setText("closing")
        dialog.progressed.connect(close_now)
        dialog.start()
    else:
        dialog = window.features["batch"].show_dialog()
        dialog.input_edit.setText(photos)
        dialog.output_edit.setText(out)
        dialog.start()
        dialog.worker.result.connect(close_now)
window.model_service.modelLoaded.connect(lambda *args: QTimer.singleShot(0, begin))
code = app.exec()
print("exited", code, flush=True)
sys.exit(code)
"""


def app_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.mark.parametrize("mode", ["masking", "batch", "training"])
def test_the_app_process_exits_when_closed_during_work(tiny_checkpoint, many_photos, tmp_path, mode: str) -> None:
    """The real app's process: the window closed while masking photos, running Process Folder
    or fine-tuning; the work stops, the process exits by itself with 0, no traceback is printed,
    and a stopped training saves no model version."""
    from core.models import model_versions

    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", CLOSE_DURING_WORK, mode, str(tiny_checkpoint), str(many_photos[0].parent),
                           str(out)], cwd=PROJECT_ROOT, env=app_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert done.stdout.splitlines() == [f"{mode} running", "exited 0"], done.stderr
    assert done.returncode == 0 and "Traceback" not in done.stderr and "QThread" not in done.stderr
    if mode == "training":
        assert model_versions.list_versions() == []
    if mode == "batch":
        written = sorted(out.glob("*.png"))
        assert 1 <= len(written) < len(many_photos), "the batch was not stopped"
        assert not list(out.glob(".*.part"))
        for path in written:
            with Image.open(path) as image:
                image.load()


def test_closing_the_window_during_a_batch_then_resuming(qtbot, tiny_checkpoint, many_photos, tmp_path) -> None:

    photos, total = many_photos[0].parent, len(many_photos)
    out = tmp_path / "out"
    window = make_window(qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: window.model_service.is_ready, timeout=MASK_TIMEOUT_MS)
    dialog = window.features["batch"].show_dialog()
    dialog.input_edit.setText(str(photos))
    dialog.output_edit.setText(str(out))
    with qtbot.waitSignal(dialog.batchStarted):
        assert dialog.start()
    worker = dialog.worker
    qtbot.waitUntil(lambda: len(list(out.glob("*.png"))) >= 1, timeout=MASK_TIMEOUT_MS)
    window.close()
    assert not worker.running  # stopped and joined while the window closed
    written = sorted(out.glob("*.png"))
    assert len(written) < total and not list(out.glob(".*.part"))
    for path in written:
        with Image.open(path) as image:
            image.load()
    qtbot.waitUntil(lambda: not dialog.running, timeout=MASK_TIMEOUT_MS)
    # the next run resumes: what was exported is skipped, the rest is done
    again = make_window(qtbot, tiny_checkpoint)
    try:
        qtbot.waitUntil(lambda: again.model_service.is_ready, timeout=MASK_TIMEOUT_MS)
        resumed = again.features["batch"].show_dialog()
        resumed.input_edit.setText(str(photos))
        resumed.output_edit.setText(str(out))
        with qtbot.waitSignal(resumed.batchFinished, timeout=MASK_TIMEOUT_MS) as finished:
            assert resumed.start()
        counts, cancelled = finished.args
        assert not cancelled and counts["skipped"] == len(written) and counts["done"] == total - len(written)
        assert len(list(out.glob("*.png"))) == total
    finally:
        again.close()


EDIT_LOOP = """
import sys
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from maskingnet_app.main import compose_window
from maskingnet_app.model.model_service import ModelService

app = QApplication(sys.argv[:1])
window = compose_window(ModelService(sys.argv[1], "cpu"))
window.show()
(document,) = window.open_paths([sys.argv[2]])
count = [0]
def edit():
    if document.editor is None:
        return
    height, width = document.editor.alpha.shape
    alpha = np.zeros((height, width), np.uint8)
    if count[0] % 2 == 0:
        alpha[: height // 2] = 255
    else:
        alpha[height // 2 :] = 255
    document.editor.replace(alpha, "Test Edit")
    window.session.mask_edited(document)
    count[0] += 1
told = []
def saved(key):
    if not told:
        told.append(key)
        print("saved", flush=True)
window.correctionSaved.connect(saved)
timer = QTimer()
timer.timeout.connect(edit)
timer.start(2)
sys.exit(app.exec())
"""


def test_corrections_survive_the_app_being_killed_during_autosave(qtbot, tiny_checkpoint, tmp_path) -> None:
    """Kill the app while it autosaves a new correction every few milliseconds; the restarted
    app restores one of the two corrections exactly (never a torn or lost one)."""
    photo = make_photo(tmp_path / "photos" / "car.png", size=(1200, 800))
    top = np.zeros((800, 1200), np.uint8)
    top[:400] = 255
    for delay in (0.1,):
        process = subprocess.Popen([sys.executable, "-c", EDIT_LOOP, str(tiny_checkpoint), str(photo)], cwd=PROJECT_ROOT,
                                   env=app_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = process.stdout.readline()
            assert line == b"saved\n", process.stderr.read().decode()
            time.sleep(delay)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        window = make_window(qtbot, tiny_checkpoint)
        try:
            (document,) = open_and_wait(qtbot, window, [photo])
            assert document.status == PhotoStatus.EDITED and document.restored
            alpha = document.editor.alpha
            assert np.array_equal(alpha, top) or np.array_equal(alpha, 255 - top)
        finally:
            window.close()
        QApplication.processEvents()

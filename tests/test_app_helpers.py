"""Helpers for the app's tests: synthetic photos, a window on the tiny model, simulated strokes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from maskingnet_app.editor.documents import PhotoStatus
from maskingnet_app.main import compose_window
from maskingnet_app.main_window import MainWindow
from maskingnet_app.model.model_service import ModelService

MASK_TIMEOUT_MS = 60000


def make_photo(path: Path, size: tuple[int, int] = (320, 200), seed: int = 0) -> Path:
    """A synthetic 'car' photo: a coloured body with wheels on a grey gradient."""
    width, height = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[...] = (150 + 60 * yy / height)[..., None].astype(np.uint8)
    body = (xx > width * 0.2) & (xx < width * 0.8) & (yy > height * 0.35) & (yy < height * 0.75)
    rgb[body] = (rng.integers(40, 200), 40, 60)
    for cx in (0.32, 0.68):
        wheel = (xx - width * cx) ** 2 + (yy - height * 0.75) ** 2 < (height * 0.1) ** 2
        rgb[wheel] = (20, 20, 20)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def make_window(qtbot, model: Path | str, **kwargs) -> MainWindow:
    """A shown main window whose model service loads ``model`` on the CPU."""
    window = compose_window(ModelService(str(model), "cpu"), **kwargs)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_wait(qtbot, window: MainWindow, paths: list[Path], *, recursive: bool = False) -> list:
    """Open ``paths`` and wait until every photo is masked, restored or failed."""
    documents = window.open_paths(paths, recursive=recursive)
    settled = (PhotoStatus.MASKED, PhotoStatus.EDITED, PhotoStatus.FAILED)
    qtbot.waitUntil(lambda: all(d.status in settled for d in window.session.documents), timeout=MASK_TIMEOUT_MS)
    return documents


def show_document(qtbot, window: MainWindow, document) -> None:
    """Select ``document`` and wait until the canvas edits its mask."""
    window.photo_list.select_document(document)
    qtbot.waitUntil(lambda: window.canvas.editor is document.editor and window.canvas.editing_enabled,
                    timeout=MASK_TIMEOUT_MS)


def drag(canvas, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first image point, move through the others, release at the last."""
    viewport = canvas.viewport()
    screen = [canvas.image_to_widget(x, y).toPoint() for x, y in points]
    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, screen[0])
    for point in screen[1:]:
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, screen[-1])


def widget_point(canvas, x: float, y: float) -> QPoint:
    return canvas.image_to_widget(x, y).toPoint()

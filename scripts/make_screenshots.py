"""Retake the README's screenshots (docs/screenshots/) of the real window on a drawn studio
scene (the Carvana photos may not be redistributed), masked by the shipped default model.

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/make_screenshots.py [OUT_DIR]

Settings and corrections go to a temporary folder, never the user's.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="maskingnet-screenshots-"))
for name in ("MASKINGNET_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
    os.environ[name] = str(HOME / name.lower())
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

WIDTH, HEIGHT = 1920, 1280


def car_shapes(scale: float, left: float, base: float):
    """Polygons of a side-view saloon: body, cabin, windows; wheel centres and radius."""
    def pts(points):
        return [(left + x * scale, base - y * scale) for x, y in points]

    body = pts([(0, 40), (10, 120), (60, 150), (300, 170), (420, 250), (660, 252), (760, 200), (1000, 170), (1070, 150),
                (1080, 80), (1060, 20), (0, 20)])
    window_a = pts([(470, 240), (640, 242), (640, 170), (400, 165)])
    window_b = pts([(660, 242), (760, 232), (860, 170), (660, 170)])
    wheels = [(left + 210 * scale, base - 20 * scale), (left + 860 * scale, base - 20 * scale)]
    return body, window_a, window_b, wheels, 100 * scale


def draw_scene(color: tuple[int, int, int], size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A studio: a light wall, a grey floor, a turntable, a car with wheels and its shadow."""
    width, height = size
    horizon = int(height * 0.44)
    yy = np.linspace(0, 1, height)[:, None]
    wall = 236 - 8 * yy
    floor = 175 - 30 * yy
    grey = np.where(np.arange(height)[:, None] < horizon, wall, floor) * np.ones((1, width))
    image = Image.fromarray(np.dstack([grey] * 3).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    s = width / WIDTH
    draw.ellipse([80 * s, 560 * s, 1840 * s, 1070 * s], outline=(125, 125, 125), width=max(1, int(5 * s)))
    shadow = Image.new("L", size, 0)
    ImageDraw.Draw(shadow).ellipse([300 * s, 840 * s, 1620 * s, 1000 * s], fill=150)
    image.paste((60, 60, 60), mask=shadow.filter(ImageFilter.GaussianBlur(40 * s)))
    body, window_a, window_b, wheels, radius = car_shapes(1.35 * s, 260 * s, 950 * s)
    draw = ImageDraw.Draw(image)
    draw.polygon(body, fill=color)
    top = min(y for _, y in body)
    for i in range(int(40 * s)):  # a highlight along the body
        y = top + (175 + i) * s
        shade = tuple(min(255, c + int(90 * math.sin(math.pi * i / (40 * s)))) for c in color)
        draw.line([(body[0][0], y), (body[9][0] - 10 * s, y)], fill=shade)
    draw.polygon(body, outline=tuple(c // 2 for c in color))
    for window in (window_a, window_b):
        draw.polygon(window, fill=(82, 94, 110))
    draw.line([window_b[0], window_b[3]], fill=tuple(c // 2 for c in color), width=max(1, int(4 * s)))
    for cx, cy in wheels:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=(22, 22, 24))
        draw.ellipse([cx - radius * 0.62, cy - radius * 0.62, cx + radius * 0.62, cy + radius * 0.62], fill=(150, 152, 158))
        for k in range(5):
            a = 2 * math.pi * k / 5
            draw.line([(cx, cy), (cx + math.cos(a) * radius * 0.6, cy + math.sin(a) * radius * 0.6)], fill=(95, 95, 100),
                      width=max(1, int(14 * s)))
        draw.ellipse([cx - radius * 0.14, cy - radius * 0.14, cx + radius * 0.14, cy + radius * 0.14], fill=(40, 40, 44))
    lamp = body[-3]
    draw.ellipse([lamp[0] - 30 * s, lamp[1] + 10 * s, lamp[0] + 5 * s, lamp[1] + 40 * s], fill=(250, 240, 200))
    return image


def car_mask(size=(WIDTH, HEIGHT)) -> np.ndarray:
    """Where the drawn car is (body and wheels), to tell the turntable from the car."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    body, _, _, wheels, radius = car_shapes(1.35, 260, 950)
    draw.polygon(body, fill=255)
    for cx, cy in wheels:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
    return np.asarray(mask) > 0


def write_photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    draw_scene((38, 72, 200)).save(folder / "studio_car.png")
    for name, color in (("red_coupe", (200, 40, 40)), ("green_coupe", (40, 150, 70)), ("silver_coupe", (170, 172, 178))):
        draw_scene(color, (960, 640)).save(folder / f"{name}.jpg", quality=90)
    (folder / "damaged.jpg").write_text("not a photo")
    return [folder / n for n in ("studio_car.png", "red_coupe.jpg", "green_coupe.jpg", "silver_coupe.jpg", "damaged.jpg")]


def wait_until(done, timeout_s: float) -> None:
    """Run the event loop until ``done()`` or ``timeout_s``, as the app's own loop runs: unlike
    ``QTest.qWait``, it lets the worker threads run between events (the masks' times in the
    status bar are then the app's)."""
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if done() else None)
    timer.start(100)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    timer.stop()


def main(out_dir: Path) -> None:
    from maskingnet_app.editor.documents import PhotoStatus
    from maskingnet_app.main import compose_window
    from maskingnet_app.model.model_service import ModelService

    app = QApplication.instance() or QApplication(sys.argv[:1])
    photos = write_photos(HOME / "photos")
    window = compose_window(ModelService("default", "cpu"))
    window.resize(1440, 900)
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.open_paths(photos)
    settled = (PhotoStatus.MASKED, PhotoStatus.EDITED, PhotoStatus.FAILED)
    wait_until(lambda: all(d.status in settled for d in window.session.documents), 600)
    document = window.session.documents[0]
    window.photo_list.select_document(document)
    QTest.qWait(500)
    print({d.name: (d.status.value, None if d.doubt is None else round(d.doubt, 4)) for d in window.session.documents})
    window.state.set("view_mode", "overlay")
    window.state.set("brush_size", 40)
    window.actions["tool_brush"].trigger()
    window.canvas.fit()
    QTest.qWait(300)
    window.grab().save(str(out_dir / "overlay.png"))

    canvas, editor = window.canvas, document.editor
    window.actions["tool_eraser"].trigger()
    car = cv2.dilate(car_mask().astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for brush in (90, 30, 6, 3):
        window.state.set("brush_size", brush)
        clear = cv2.distanceTransform((~car).astype(np.uint8), cv2.DIST_L2, 5) > brush / 2 + 1
        step = max(2, brush // 2)
        for y in range(0, HEIGHT, step):
            row = np.flatnonzero(editor.mask[y] & clear[y])
            for x in row[:: step]:
                if editor.mask[y, x]:
                    point = canvas.image_to_widget(float(x), float(y)).toPoint()
                    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
                    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        if brush == 90:  # half way: the brush shot, zoomed in on the rear wheel
            canvas.set_zoom(0.9)
            canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().minimum())
            QTest.qWait(200)
            cursor = canvas.image_to_widget(300.0, 900.0).toPoint()
            QTest.mouseMove(canvas.viewport(), cursor)
            QTest.qWait(300)
            window.grab().save(str(out_dir / "brush.png"))
            canvas.fit()
            QTest.qWait(200)
    window.state.set("view_mode", "cutout")
    QTest.mouseMove(window.photo_list.viewport(), QPoint(100, 600))  # no brush circle on the canvas
    QTest.qWait(500)
    window.grab().save(str(out_dir / "cutout.png"))
    window.close()
    app.processEvents()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    main(target)

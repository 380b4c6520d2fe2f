"""Brush speed on a 1918x1280 photo: milliseconds per dab, including the repaint.

Each dab is one ``Canvas.continue_stroke`` (the brush's numpy work and the recomposition of
the changed rectangle) followed by a synchronous repaint of the canvas viewport, offscreen.
"dirty" repaints only the changed rectangle (what an interactive stroke does); "full"
repaints the whole viewport (the brief's worst case). The pointer moves 6 screen pixels per
dab, as a quick stroke does.

The smart tools (``core.masking.smart_tools``) follow: the Smart Edges brush per pointer event
(its live, snapped preview) and at the release (the stroke's last piece and its commit), the same
for Refine Edge and Cut to Edges (``core.masking.smart_cut``: its release is the GrabCut), a Flip
Region click, each with the repaint of the rectangle it changed, the Snap Outline command (with
its repaint) and Car in Box's work on the model worker (``core.masking.smart_whole``). Pass a real photo
(``--photo``): on the synthetic one the edges are random blocks.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_brush.py [--dabs 300] [--photo PATH] [--no-plain]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRect  # noqa: E402, TID251
from PySide6.QtWidgets import QApplication  # noqa: E402, TID251

from core.masking.mask_edit import BRUSH, MaskEditor, Rect  # noqa: E402
from core.masking.smart_cut import CUT_AWAY  # noqa: E402
from core.masking.smart_tools import REFINE  # noqa: E402
from core.masking.smart_whole import car_in_box_values, snap_edges_values  # noqa: E402
from maskingnet_app.editor.canvas import Canvas  # noqa: E402
from maskingnet_app.editor.editor_state import EditorState  # noqa: E402

WIDTH, HEIGHT = 1918, 1280
STEP_PX = 6  # pointer travel per dab, in screen pixels


def test_photo(path: str | None) -> np.ndarray:
    if path:
        import cv2

        from core.io.imageio import read_photo

        return cv2.resize(read_photo(path).rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (-(-HEIGHT // 8), -(-WIDTH // 8), 3), dtype=np.uint8)  # whole blocks past the edge
    return np.repeat(np.repeat(rgb, 8, axis=0), 8, axis=1)[:HEIGHT, :WIDTH].copy()


def run(canvas: Canvas, dabs: int, repaint: str, smart: bool = False) -> tuple[list[float], float]:
    """Times per dab (ms) and of the release (ms)."""
    canvas.begin_stroke(smart=smart)
    view = canvas.viewport()
    centre_x, centre_y = view.width() / 2, view.height() / 2
    radius = 0.3 * min(view.width(), view.height())
    times = []
    for i in range(dabs):
        angle = i * STEP_PX / radius
        point = QPointF(centre_x + radius * math.cos(angle), centre_y + radius * math.sin(angle))
        tick = time.perf_counter()
        x, y = canvas.widget_to_image(point)
        rect = canvas.continue_stroke(x, y)
        if repaint == "full":
            view.repaint()
        elif rect is not None:
            top_left = canvas.image_to_widget(rect.left, rect.top)
            view.repaint(QRect(int(top_left.x()) - 1, int(top_left.y()) - 1,
                               int(rect.width * canvas.zoom) + 3, int(rect.height * canvas.zoom) + 3))
        times.append((time.perf_counter() - tick) * 1000)
    tick = time.perf_counter()
    canvas.end_stroke()
    view.repaint()
    return times, (time.perf_counter() - tick) * 1000


def clicks(canvas: Canvas, alpha: np.ndarray) -> list[float]:
    """Flip Region clicks (then undone) on the car, beside it and in a hole, with the repaint."""
    canvas.state.set("tool", "region")
    times = []
    for x, y in ((950, 650), (300, 650), (950, 150), (1450, 980), (700, 400), (950, 1100)):
        tick = time.perf_counter()
        rect = canvas.flip_region(x, y)
        if rect is not None:
            canvas.viewport().repaint(canvas._image_rect_on_screen(rect))
        times.append((time.perf_counter() - tick) * 1000)
        canvas.editor.undo()
    canvas.state.set("tool", "brush")
    return times


def median_p95(times: list[float]) -> str:
    times = sorted(times)
    return f"{statistics.median(times):>10.2f} {times[min(len(times) - 1, int(0.95 * len(times)))]:>8.2f}"


def fresh(app: QApplication, canvas: Canvas, rgb: np.ndarray, alpha: np.ndarray, zoom: str, size: int) -> None:
    """The photo with a new mask, at ``zoom`` ('fit' or '100%'), brush ``size``."""
    canvas.set_photo(rgb, None, MaskEditor(alpha))
    app.processEvents()
    if zoom == "100%":
        canvas.actual_size()
    app.processEvents()
    canvas.state.set("brush_size", size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dabs", type=int, default=300)
    parser.add_argument("--photo", default=None, help="a photo to scale to 1918x1280 (default: synthetic)")
    parser.add_argument("--no-plain", action="store_true", help="only the smart tools")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    state = EditorState(remember=False)
    canvas = Canvas(state)
    canvas.resize(1400, 900)
    canvas.show()
    app.processEvents()
    rgb = test_photo(args.photo)
    alpha = np.zeros((HEIGHT, WIDTH), np.uint8)
    alpha[300:1000, 400:1500] = 255
    print(f"photo {WIDTH}x{HEIGHT}, viewport {canvas.viewport().width()}x{canvas.viewport().height()}, "
          f"platform {app.platformName()}, {args.dabs} dabs per row")
    if not args.no_plain:
        plain_rows(app, canvas, state, rgb, alpha, args.dabs)
    print(f"\nsmart tools (overlay, dirty repaint)       {'median ms':>10} {'p95 ms':>8}")
    state.set("view_mode", "overlay")
    for tool, name in ((BRUSH, "Smart Edges brush"), (REFINE, "Refine Edge"), (CUT_AWAY, "Cut to Edges")):
        state.set("tool", tool)
        for zoom in ("fit", "100%"):
            for size in (40, 200):
                fresh(app, canvas, rgb, alpha, zoom, size)
                times, release = run(canvas, args.dabs, "dirty", smart=True)
                print(f"{name:17} {size:>3} px, {zoom:>4}, per event {median_p95(times)}  release {release:.1f} ms")
    state.set("tool", BRUSH)
    canvas.set_photo(rgb, None, MaskEditor(alpha))
    app.processEvents()
    print(f"{'Flip Region click, fit':41} {median_p95(clicks(canvas, alpha))}")
    print(f"{'Snap Outline (command, repaint), fit':41} {median_p95(whole_mask(canvas, snap=True))}")
    print(f"{'Car in Box (on the worker), fit':41} {median_p95(whole_mask(canvas, snap=False))}")
    return 0


def whole_mask(canvas: Canvas, snap: bool, repeats: int = 5) -> list[float]:
    """Snap Outline as the menu command runs it (the edit and the repaint of what it changed), or
    Car in Box's work on the model worker (a box around the drawn car), each then undone."""
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        if snap:
            rect = canvas.editor.patch(*snap_edges_values(canvas.guide, canvas.editor.alpha), "Snap Outline")
            canvas.refresh(rect)
            canvas.viewport().repaint()
        else:
            car_in_box_values(canvas.guide, canvas.editor.alpha.copy(), Rect(340, 240, 1560, 1060))
        times.append((time.perf_counter() - tick) * 1000)
        if snap and rect is not None:
            canvas.editor.undo()
    return times


def plain_rows(app: QApplication, canvas: Canvas, state: EditorState, rgb: np.ndarray, alpha: np.ndarray, dabs: int) -> None:
    """The plain brush's rows (the figures the smart tools are held to)."""
    print(f"{'view':8} {'zoom':>6} {'brush':>6} {'repaint':>8} {'median ms':>10} {'p95 ms':>8}")
    for mode in ("overlay", "cutout"):
        state.set("view_mode", mode)
        for zoom in ("fit", "100%"):
            for size in (40, 200):
                for repaint in ("dirty", "full"):
                    fresh(app, canvas, rgb, alpha, zoom, size)
                    times = run(canvas, dabs, repaint, smart=False)[0]
                    print(f"{mode:8} {zoom:>6} {size:>6} {repaint:>8} {median_p95(times)}")


if __name__ == "__main__":
    sys.exit(main())

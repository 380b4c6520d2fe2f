"""Screenshots of the real window for the README's listing section, from a drawn scene (no photo
of a real car): a car drawn on an outdoor scene (``core.training.composite``), masked by the model, its
mask replaced by the drawn one (as a user's correction would), shown in the Listing view.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/listing_screenshots.py docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from listing_scene import car_alpha, car_colours  # noqa: E402
from PySide6.QtCore import QPoint  # noqa: E402, TID251 - a script of the app, not core/
from PySide6.QtWidgets import QApplication  # noqa: E402, TID251

from core.listing.presets import ListingSpec  # noqa: E402
from core.training.composite import scene_background  # noqa: E402
from maskingnet_app.editor.documents import PhotoStatus  # noqa: E402
from maskingnet_app.main import compose_window  # noqa: E402
from maskingnet_app.model.model_service import ModelService  # noqa: E402


def drawn_photo(width: int = 1200, height: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """A red car with windows and hubcaps over a scene, with a soft, exact alpha."""
    alpha = car_alpha(width, height, scale=0.95, left=0.1, ground=0.78)
    fore = car_colours(alpha).astype(np.float32)
    solid = alpha >= 128
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    top, left, right = rows[0], cols[0], cols[-1]
    car_w = right - left
    cv2.rectangle(fore, (int(left + 0.28 * car_w), int(top + 0.03 * car_w)), (int(left + 0.48 * car_w), int(top + 0.15 * car_w)),
                  (60, 75, 95), -1)
    cv2.rectangle(fore, (int(left + 0.51 * car_w), int(top + 0.03 * car_w)), (int(left + 0.69 * car_w), int(top + 0.15 * car_w)),
                  (60, 75, 95), -1)
    for cx in (0.2, 0.8):
        cv2.circle(fore, (int(left + cx * car_w), int(rows[-1] - 0.09 * car_w)), int(0.045 * car_w), (170, 170, 175), -1)
    background = scene_background(height, width, np.random.default_rng(7))
    a = alpha.astype(np.float32)[..., None] / 255
    photo = np.clip(fore * a + background * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return photo, alpha


def wait(app: QApplication, condition, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory(prefix="listing-shots-") as tmp:
        photo, alpha = drawn_photo()
        path = Path(tmp) / "roadster_01.jpg"
        Image.fromarray(photo).save(path, quality=92)
        window = compose_window(ModelService("default", "cpu"))
        window.resize(1280, 820)
        window.show()
        document = window.open_paths([path])[0]
        wait(app, lambda: document.status in (PhotoStatus.MASKED, PhotoStatus.FAILED))
        window.photo_list.select_document(document)
        wait(app, lambda: window.canvas.editor is document.editor)
        document.editor.replace(alpha >= 128, "Drawn mask")
        window.canvas.set_editor(document.editor)
        window.canvas.set_listing(ListingSpec(1600, 1200, 0.1, "studio-white"))
        shots = {}
        for mode in ("original", "listing"):
            window.state.set("view_mode", mode)
            window.canvas.fit()
            for _ in range(20):
                app.processEvents()
                time.sleep(0.02)
            shots[mode] = window.grab().toImage()
        shots["listing"].save(str(out / "listing.png"))
        shots["original"].save(str(Path(tmp) / "before.png"))
        before, after = Image.open(Path(tmp) / "before.png"), Image.open(out / "listing.png")
        corner = window.canvas.mapTo(window, QPoint(0, 0))
        box = (corner.x(), corner.y(), corner.x() + window.canvas.width(), corner.y() + window.canvas.height())
        pair = [image.convert("RGB").crop(box) for image in (before, after)]
        width = sum(image.width for image in pair) + 12
        joined = Image.new("RGB", (width, pair[0].height), (42, 42, 46))
        joined.paste(pair[0], (0, 0))
        joined.paste(pair[1], (pair[0].width + 12, 0))
        joined.save(out / "listing_before_after.png")
        window.close()
    print(f"wrote {out / 'listing.png'} and {out / 'listing_before_after.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

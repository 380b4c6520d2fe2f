"""Clean edges, measured: Carvana cars composited over a known background with a soft alpha,
then cut out and put on another background, with and without the edge-colour estimate
(``core.listing.decontaminate``), against the car's own colours on that background.

For each photo: the true mask (Carvana's), upscaled to 1918x1280, softened to a realistic
alpha (``--blur`` px Gaussian, as a photo's edge is), the car composited over a flat colour
(``--old``), then re-composited over ``--new`` with (a) the observed colours (the plain
cut-out) and (b) the estimated foreground colours. The error is the mean absolute difference
per channel (0..255) to the car composited directly on ``--new``, over the edge band
(0 < alpha < 1). Also times ``core.listing.render.render_listing`` for one 1918x1280 photo
(the 4:3 1600x1200 preset, and the photo's own frame; JPEG encoding included) and the
estimate alone.

    .venv/bin/python benchmarks/bench_decontaminate.py --count 32
    .venv/bin/python benchmarks/bench_decontaminate.py --old 40,160,60 --new 255,255,255

Prints figures only; nothing is asserted. The car's own colours at its edge are the photo's,
which already mix in some studio grey, so the "after" error is not zero even for a perfect method.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from core.io.imageio import encode_image, read_mask, read_rgb
from core.listing.decontaminate import estimate_foreground
from core.listing.presets import ListingSpec, find_preset
from core.listing.render import render_listing

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "carvana512"
FULL_SIZE = (1918, 1280)


def colour(text: str) -> np.ndarray:
    return np.array([int(v) for v in text.split(",")], np.float32)


def case(image: Path, blur: float) -> tuple[np.ndarray, np.ndarray]:
    """The car's colours and its soft alpha (float 0..1) at full size."""
    mask = read_mask(SHARED / "masks" / f"{image.stem}_mask.gif")
    rgb = cv2.resize(read_rgb(image), FULL_SIZE, interpolation=cv2.INTER_CUBIC)
    hard = cv2.resize(mask.astype(np.float32), FULL_SIZE, interpolation=cv2.INTER_LINEAR)
    return rgb, np.clip(cv2.GaussianBlur(hard, (0, 0), blur), 0, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=32, help="photos (spread over the cars)")
    parser.add_argument("--old", default="40,160,60", help="the background the car is shot on (R,G,B)")
    parser.add_argument("--new", default="255,255,255", help="the background it is put on (R,G,B)")
    parser.add_argument("--blur", type=float, default=1.5, help="softness of the true edge in pixels")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (the median is printed)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    images = sorted((SHARED / "images").glob("*.jpg"))
    if not images:
        sys.exit(f"no photos at {SHARED}")
    images = images[:: max(1, len(images) // args.count)][: args.count]
    old, new = colour(args.old), colour(args.new)
    before, after, times = [], [], []
    for image in images:
        rgb, a = case(image, args.blur)
        a3 = a[..., None]
        shot = np.clip(rgb * a3 + old * (1 - a3) + 0.5, 0, 255).astype(np.uint8)
        alpha = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
        band = (alpha > 0) & (alpha < 255)
        truth = rgb.astype(np.float32) * a3 + new * (1 - a3)
        tick = time.perf_counter()
        estimate = estimate_foreground(shot, alpha)
        times.append(time.perf_counter() - tick)
        for fore, errors in ((shot, before), (estimate, after)):
            redone = fore.astype(np.float32) * a3 + new * (1 - a3)
            errors.append(float(np.abs(redone - truth)[band].mean()))
    print(f"{len(images)} photos at {FULL_SIZE[0]}x{FULL_SIZE[1]}, edge softness {args.blur} px, "
          f"shot on {args.old}, put on {args.new}")
    print(f"edge-band error (mean |difference| per channel, 0..255): plain cut-out {statistics.mean(before):.2f} "
          f"(worst {max(before):.2f}), with the estimate {statistics.mean(after):.2f} (worst {max(after):.2f}); "
          f"{100 * (1 - statistics.mean(after) / statistics.mean(before)):.0f}% less")
    print(f"estimate alone: median {1000 * statistics.median(times):.0f} ms per photo")

    rgb, a = case(images[0], args.blur)
    alpha = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
    shot = np.clip(rgb * a[..., None] + old * (1 - a[..., None]) + 0.5, 0, 255).astype(np.uint8)
    for label, spec in (("4:3 1600x1200 preset", find_preset("4:3 1600x1200").spec),
                        ("photo's own frame on white", ListingSpec(0, 0, background="#ffffff"))):
        runs = []
        for _ in range(args.repeat):
            tick = time.perf_counter()
            encode_image(render_listing(shot, alpha, spec, format="jpeg"), "JPEG", quality=92)
            runs.append(time.perf_counter() - tick)
        print(f"listing photo ({label}) of a 1918x1280 photo, JPEG encoding included: median "
              f"{1000 * statistics.median(runs):.0f} ms, best {1000 * min(runs):.0f} ms (one thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

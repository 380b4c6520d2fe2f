"""How a model holds up on photos a poor camera or a video frame gives: mean Dice per degradation.

Each photo of a set is scored as it is and degraded in one way at its own resolution (all seeded by
the photo's name, so every model sees the same photos):
- motion: blurred along the road, 2 % of the photo's width (a shaking camera, a car passing);
- panning: only the background blurred along the road, 4 % of the photo's width, the car sharp (a
  camera following a moving car: the set's mask says where the car is);
- passing: only the car blurred along the road, 2 % of the photo's width, the street sharp (a still
  camera and a car driving past: the set's mask says where the car is; the street it uncovers is
  filled in from around it);
- lowres: shrunk to 320 px wide and enlarged back (an old phone, a zoomed video frame);
- noise: sensor noise of sigma 8 grey levels per colour (dusk, a small sensor);
- jpeg: JPEG quality 25 (a photo sent through a messenger, a compressed video frame).
Sets: car-parts-test (teacher labels, trusted pixels only) and small-cars (exact masks), as in
``eval_sources.py``; masks are made as the app makes them (mirror-averaged, cleaned, closer look).

    .venv/bin/python benchmarks/eval_degraded.py --model default [--model RUN/best.safetensors]
        [--only car-parts-test|small-cars] [--degradation clean|motion|panning|passing|lowres|noise|jpeg]
        [--every N]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.eval_sources import add_model_arguments, figures_per_model  # noqa: E402
from core.io.imageio import encode_png, iter_image_files, read_mask, read_photo  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.training.augment import (  # noqa: E402
    jpeg_round_trip,
    low_resolution,
    motion_blur,
    panning_blur,
    passing_blur,
    sensor_noise,
    streak_length,
)
from core.training.data import mask_problem  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402

MOTION_SHARE = 0.02  # of the photo's width
PANNING_SHARE = 0.04
PASSING_SHARE = 0.02
LOW_WIDTH = 320
NOISE_SIGMA = 8.0
JPEG_QUALITY = 25


def shrunk_to_low_width(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if width <= LOW_WIDTH:
        return rgb
    return low_resolution(rgb, (LOW_WIDTH, max(1, round(height * LOW_WIDTH / width))))


# Each takes the photo, a seed and the set's mask of the car (True = car) at the photo's size.
DEGRADATIONS: dict[str, Callable[[np.ndarray, int, np.ndarray], np.ndarray]] = {
    "clean": lambda rgb, seed, car: rgb,
    "motion": lambda rgb, seed, car: motion_blur(rgb, streak_length(MOTION_SHARE, rgb.shape[1])),
    "panning": lambda rgb, seed, car: panning_blur(rgb, car, streak_length(PANNING_SHARE, rgb.shape[1])),
    "passing": lambda rgb, seed, car: passing_blur(rgb, car, streak_length(PASSING_SHARE, rgb.shape[1])),
    "lowres": lambda rgb, seed, car: shrunk_to_low_width(rgb),
    "noise": lambda rgb, seed, car: sensor_noise(rgb, NOISE_SIGMA, np.random.default_rng(seed)),
    "jpeg": lambda rgb, seed, car: jpeg_round_trip(rgb, JPEG_QUALITY),
}
SETS = ("car-parts-test", "small-cars")


def set_folders(labels: Path, name: str) -> tuple[Path, Path, Path | None]:
    """(images, masks, confidence maps or None) of one set."""
    if name == "small-cars":
        return labels / "small-cars" / "images", labels / "small-cars" / "masks", None
    folder = labels / "car-parts-test" / "labels"
    return folder / "images", folder / "masks", folder / "confidence"


def degraded_copies(images: list[Path], masks_dir: Path, degradations: Sequence[str], folder: Path) -> None:
    """Read each photo once and write it, degraded each way, as ``folder/<degradation>/<stem>.png``
    (lossless, so only the degradation counts)."""
    for degradation in degradations:
        (folder / degradation).mkdir()
    for path in images:
        rgb = read_photo(path).rgb
        car = read_mask(masks_dir / f"{path.stem}.png")
        problem = mask_problem(car, rgb.shape)
        if problem:
            raise ValueError(f"{masks_dir / path.stem}.png: {problem}")
        seed = zlib.crc32(path.stem.encode())
        for degradation in degradations:
            degraded = DEGRADATIONS[degradation](rgb, seed, car)
            (folder / degradation / f"{path.stem}.png").write_bytes(encode_png(degraded, compress_level=1))


def set_figures(segmenter: Segmenter, labels: Path, name: str, every: int,
                degradations: Sequence[str] = tuple(DEGRADATIONS)) -> dict[str, float] | None:
    """Mean Dice per degradation on every ``every``-th photo of the set; None without its labels."""
    images_dir, masks_dir, confidence_dir = set_folders(labels, name)
    if not masks_dir.is_dir():
        print(f"{name}: no labels in {masks_dir} (bash scripts/make_outdoor_labels.sh), skipped", file=sys.stderr)
        return None
    images = sorted(path for path, _ in iter_image_files([images_dir]) if (masks_dir / f"{path.stem}.png").exists())
    images = images[::every]
    figures: dict[str, float] = {"photos": len(images)}
    with tempfile.TemporaryDirectory() as temporary:
        degraded_copies(images, masks_dir, degradations, Path(temporary))
        for degradation in degradations:
            report = evaluate_folder(segmenter, Path(temporary) / degradation, masks_dir, confidence_dir=confidence_dir)
            figures[degradation] = round(report.dice, 4)
            print(f"  {name} {degradation}: {report.dice:.4f} ({len(report.scores)} photos)", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--only", action="append", choices=SETS, help="score only this set (repeatable)")
    parser.add_argument("--every", type=int, default=1, help="score every N-th photo (default: all)")
    parser.add_argument("--degradation", action="append", choices=tuple(DEGRADATIONS),
                        help="score only this way of degrading the photos (repeatable; default: all)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    figures_per_model(args, lambda segmenter: {
        name: set_figures(segmenter, args.labels, name, max(1, args.every), args.degradation or tuple(DEGRADATIONS))
        for name in (args.only or SETS)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How a model holds up on photos a poor camera or a video frame gives: mean Dice per degradation.

Each photo of a set is scored as it is and degraded in one way at its own resolution (all seeded by
the photo's name, so every model sees the same photos):
- motion: blurred along the road, 2 % of the photo's width (a car passing, a panning camera);
- lowres: shrunk to 320 px wide and enlarged back (an old phone, a zoomed video frame);
- noise: sensor noise of sigma 8 grey levels per colour (dusk, a small sensor);
- jpeg: JPEG quality 25 (a photo sent through a messenger, a compressed video frame).
Sets: car-parts-test (teacher labels, trusted pixels only) and small-cars (exact masks), as in
``eval_sources.py``; masks are made as the app makes them (mirror-averaged, cleaned, closer look).

    .venv/bin/python benchmarks/eval_degraded.py --model default [--model RUN/best.safetensors]
        [--only car-parts-test|small-cars] [--degradation clean|motion|lowres|noise|jpeg] [--every N]
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.eval_sources import add_model_arguments, figures_per_model  # noqa: E402
from core.io.imageio import encode_png, iter_image_files, read_photo  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402


def motion_blur(rgb: np.ndarray, share: float = 0.02) -> np.ndarray:
    length = max(3, round(share * rgb.shape[1]) | 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return cv2.filter2D(rgb, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def low_resolution(rgb: np.ndarray, width: int = 320) -> np.ndarray:
    height, full = rgb.shape[:2]
    if full <= width:
        return rgb
    small = cv2.resize(rgb, (width, max(1, round(height * width / full))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (full, height), interpolation=cv2.INTER_LINEAR)


def sensor_noise(rgb: np.ndarray, seed: int, sigma: float = 8.0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def jpeg_blocks(rgb: np.ndarray, quality: int = 25) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]) if ok else rgb  # OpenCV is BGR


DEGRADATIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "clean": lambda rgb, seed: rgb,
    "motion": lambda rgb, seed: motion_blur(rgb),
    "lowres": lambda rgb, seed: low_resolution(rgb),
    "noise": sensor_noise,
    "jpeg": lambda rgb, seed: jpeg_blocks(rgb),
}
SETS = ("car-parts-test", "small-cars")


def set_folders(labels: Path, name: str) -> tuple[Path, Path, Path | None]:
    """(images, masks, confidence maps or None) of one set."""
    if name == "small-cars":
        return labels / "small-cars" / "images", labels / "small-cars" / "masks", None
    folder = labels / "car-parts-test" / "labels"
    return folder / "images", folder / "masks", folder / "confidence"


def degraded_copies(images: list[Path], degradation: str, folder: Path) -> None:
    """Write each photo, degraded, as ``folder/<stem>.png`` (lossless, so only the degradation counts)."""
    for path in images:
        rgb = read_photo(path).rgb
        seed = zlib.crc32(path.stem.encode())
        (folder / f"{path.stem}.png").write_bytes(encode_png(DEGRADATIONS[degradation](rgb, seed), compress_level=1))


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
    for degradation in degradations:
        with tempfile.TemporaryDirectory() as temporary:
            degraded_copies(images, degradation, Path(temporary))
            report = evaluate_folder(segmenter, temporary, masks_dir, confidence_dir=confidence_dir)
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

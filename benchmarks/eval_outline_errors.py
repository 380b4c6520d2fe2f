"""Where a model's mistakes lie on photos with exact masks: under the car, along the rest of its outline,
or far from it (model card, sessions 42 and 45: half the studio gap of the shipped model is false car under the car,
the dark shadow under the bumper between the wheels).

Photos: the model's held-out Carvana cars (its ``val_groups``) and, when the label cache holds them, the
composites of those cars (a Carvana car with its exact mask on a street photo, with a ground shadow;
``tools/outdoor_labels/composites.py``). Masked as the app masks (mirror-averaged, cleaned up, close-up,
second look past the frame's edge; ``--no-tta`` and the like as in ``eval_sources.py``). Each error
pixel goes to one region, and each region is printed as a share of the true car's area, summed over
the photos:

- false car under the car: background within ``--band`` px straight below a car pixel (a ground shadow);
- false car near the outline: other background within ``--band`` px of the car;
- false car far from the car: the rest (a piece of the backdrop, another object);
- missed car at the bottom: car within ``--band`` px straight above a background pixel;
- missed car elsewhere: the rest.

    .venv/bin/python benchmarks/eval_outline_errors.py --model default [--model RUN/last.safetensors]
        [--every 4] [--band 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.eval_sources import add_model_arguments, figures_per_model  # noqa: E402
from core.io.imageio import read_mask, read_rgb  # noqa: E402
from core.masking.cleanup import ground_below  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.training.metrics import dice  # noqa: E402

REGIONS = ("false_under", "false_near", "false_far", "missed_bottom", "missed_other")


def error_regions(mask: np.ndarray, truth: np.ndarray, band: int) -> dict[str, int]:
    """Pixel counts of a predicted mask's errors against the true one (both (H, W) bool), by region
    (``REGIONS``, the module's docstring), and ``car``, the true car's area. Each error pixel counts once."""
    car = truth.astype(np.uint8)
    column = np.ones((band + 1, 1), np.uint8)
    under = ground_below(truth, band)
    near = cv2.dilate(car, np.ones((2 * band + 1, 2 * band + 1), np.uint8)).astype(bool) & ~truth
    # anchored at the column's top row, the erosion keeps a car pixel only with ``band`` car pixels below it
    bottom = truth & ~cv2.erode(car, column, anchor=(0, 0), borderValue=1).astype(bool)
    false_car, missed = mask & ~truth, truth & ~mask
    return {
        "car": int(truth.sum()),
        "false_under": int((false_car & under).sum()),
        "false_near": int((false_car & near & ~under).sum()),
        "false_far": int((false_car & ~near).sum()),
        "missed_bottom": int((missed & bottom).sum()),
        "missed_other": int((missed & ~bottom).sum()),
    }


def outline_error_figures(segmenter, photos: Iterable[tuple[np.ndarray, np.ndarray]], band: int) -> dict[str, float]:
    """Mean Dice over ``(rgb, truth)`` photos and each region's errors as a share of the true car's area
    (summed over the photos); ``segmenter.predict(rgb).mask`` is the model's mask."""
    totals = dict.fromkeys(("car", *REGIONS), 0)
    scores = []
    for rgb, truth in photos:
        mask = segmenter.predict(rgb).mask
        for name, count in error_regions(mask, truth, band).items():
            totals[name] += count
        scores.append(dice(mask, truth))
    figures = {"photos": len(scores), "dice": float(np.mean(scores)) if scores else float("nan")}
    figures.update({name: totals[name] / max(1, totals["car"]) for name in REGIONS})
    return figures


def held_out_photos(images: Path, masks: Path, mask_name: str, held_out: set[str], every: int) -> list[tuple[Path, Path]]:
    """(photo, mask) paths of the held-out cars' photos in ``images`` (every ``every``-th, by name);
    ``mask_name`` formats a photo's stem into its mask's file name."""
    stems = sorted(path.stem for path in images.glob("*.jpg") if path.stem.split("_")[0] in held_out)
    pairs = [(images / f"{stem}.jpg", masks / mask_name.format(stem)) for stem in stems[::every]]
    return [(photo, mask) for photo, mask in pairs if mask.is_file()]


def _read(pairs: Sequence[tuple[Path, Path]]) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    for photo, mask in pairs:
        yield read_rgb(photo), read_mask(mask)


def model_figures(segmenter: Segmenter, carvana: Path, labels: Path, every: int, band: int) -> dict[str, dict]:
    """``outline_error_figures`` of the model's held-out Carvana photos and of their composites (where the
    label cache holds them), each also printed as a line."""
    held_out = set(segmenter.config.info.get("val_groups", []))
    sets = {"carvana": held_out_photos(carvana / "images", carvana / "masks", "{}_mask.gif", held_out, every)}
    composites = labels / "composites"
    if (composites / "images").is_dir():
        sets["composites"] = held_out_photos(composites / "images", composites / "masks", "{}.png", held_out, every)
    else:
        print(f"composites skipped: none in {composites} (scripts/make_outdoor_labels.sh makes them)")
    results = {}
    for name, pairs in sets.items():
        if not pairs:
            print(f"{name}: no held-out photos")
            continue
        figures = results[name] = outline_error_figures(segmenter, _read(pairs), band)
        print(f"{name}: {figures['photos']} photos, Dice {figures['dice']:.5f}; as shares of the car: "
              + ", ".join(f"{region} {figures[region]:.4f}" for region in REGIONS), flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--every", type=int, default=4, help="score every N-th held-out photo (default 4)")
    parser.add_argument("--band", type=int, default=8, help="the width of the regions along the outline, in pixels")
    args = parser.parse_args()
    carvana = args.data / "carvana512"
    if not (carvana / "images").is_dir():
        print(f"skipped: no Carvana photos in {carvana}")
        return 0
    torch.set_num_threads(2)
    figures_per_model(args, lambda segmenter: model_figures(segmenter, carvana, args.labels, max(1, args.every), args.band))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A car cut by the frame: how much of it a model keeps near the frame's edge, and what a second pass
on the photo reflected outward wins back (a measured lead, not in the app; model card, session 42).

The photos are held-out Carvana photos (the model's own ``val_groups``) with 10-30 % of the car cut
off at a random side (left, right or bottom; exact masks cut the same way). Two ways of masking:
- as the app masks (mirror-averaged, cleaned up, close-up);
- the same, then, where the mask touches a side of the frame along more than ``--touch`` of it, a
  second pass on the photo reflected outward by ``--pad`` of its size on those sides, cropped back
  (``EdgePass``): the car no longer ends at the network's border.
Prints, for both, the mean Dice, the share of the true car within 8 % of the frame's edge kept, and
the false car there (as a share of that true car).

    .venv/bin/python benchmarks/eval_frame_edge.py --model default [--angles 03,07,11,15] [--pad 0.08]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.io.imageio import read_mask, read_rgb  # noqa: E402
from core.masking.inference import Prediction, Segmenter  # noqa: E402
from core.training.evaluate_parts import near_frame_edge  # noqa: E402


def touched_sides(mask: np.ndarray, share: float) -> dict[str, bool]:
    """Whether a (H, W) bool mask covers more than ``share`` of each side of the frame."""
    return {"top": mask[0].mean() > share, "bottom": mask[-1].mean() > share,
            "left": mask[:, 0].mean() > share, "right": mask[:, -1].mean() > share}


class EdgePass(Segmenter):
    """``Segmenter`` with a second pass for a car cut by the frame: the photo reflected outward
    (``cv2.BORDER_REFLECT_101``) by ``pad`` of its height or width on each side the first mask touches,
    masked again and cropped back; the second pass's mask replaces the first. ``pad`` 0: the app's
    masks. ``second_passes`` counts the photos that took one. Ignores alpha masks."""

    pad = 0.08
    touch = 0.02
    second_passes = 0

    def predict_batch(self, images: Sequence[np.ndarray], alphas=None, *, close_up: bool | None = None) -> list[Prediction]:
        results = []
        for image in images:
            first = super().predict_batch([image], None, close_up=close_up)[0]
            sides = touched_sides(first.mask, self.touch)
            if not self.pad or not any(sides.values()):
                results.append(first)
                continue
            self.second_passes += 1
            height, width = image.shape[:2]
            top, bottom = (round(self.pad * height) if sides[side] else 0 for side in ("top", "bottom"))
            left, right = (round(self.pad * width) if sides[side] else 0 for side in ("left", "right"))
            reflected = cv2.copyMakeBorder(np.ascontiguousarray(image), top, bottom, left, right, cv2.BORDER_REFLECT_101)
            second = super().predict_batch([reflected], None, close_up=close_up)[0]
            probability = np.ascontiguousarray(second.probability[top : top + height, left : left + width])
            results.append(Prediction(probability, first.uncertainty, first.seconds + second.seconds, first.mirror, first.area))
        return results


@dataclass
class CutPhoto:
    name: str
    side: str
    rgb: np.ndarray
    truth: np.ndarray


def cut_by_frame(name: str, rgb: np.ndarray, truth: np.ndarray, rng: random.Random) -> CutPhoto:
    """The photo and its mask with 10-30 % of the car's width (left, right) or height (bottom) cut off."""
    rows, columns = np.nonzero(truth)
    if not len(rows):
        raise ValueError(f"{name}: the mask has no car")
    side, share = rng.choice(("left", "right", "bottom")), rng.uniform(0.1, 0.3)
    if side == "left":
        at = int(columns.min() + share * (columns.max() - columns.min()))
        kept = np.s_[:, at:]
    elif side == "right":
        at = int(columns.max() - share * (columns.max() - columns.min()))
        kept = np.s_[:, : max(1, at)]
    else:
        at = int(rows.max() - share * (rows.max() - rows.min()))
        kept = np.s_[: max(1, at), :]
    return CutPhoto(name, side, np.ascontiguousarray(rgb[kept]), np.ascontiguousarray(truth[kept]))


def frame_edge_figures(segmenter: Segmenter, photos: Sequence[CutPhoto]) -> dict[str, float]:
    """Mean Dice, and the true car within 8 % of the frame's edge kept and the false car there."""
    dice, kept, false_car, near_car = [], 0, 0, 0
    for photo in photos:
        mask, truth = segmenter.predict(photo.rgb).mask, photo.truth
        near = near_frame_edge(*truth.shape)
        dice.append(2 * (mask & truth).sum() / max(1, mask.sum() + truth.sum()))
        kept += int((mask & truth & near).sum())
        false_car += int((mask & ~truth & near).sum())
        near_car += int((truth & near).sum())
    return {"photos": len(photos), "dice": float(np.mean(dice)), "near_edge_kept": kept / max(1, near_car),
            "near_edge_false": false_car / max(1, near_car)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--angles", default="03,07,11,15", help="the angles of each held-out car to use")
    parser.add_argument("--pad", type=float, default=0.08)
    parser.add_argument("--touch", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not (args.data / "images").is_dir():
        print(f"skipped: no Carvana photos in {args.data}")
        return 0
    torch.set_num_threads(2)
    segmenter = EdgePass.load(args.model)
    held_out = set(segmenter.config.info.get("val_groups", []))
    angles = tuple(f"_{angle.strip()}" for angle in args.angles.split(","))
    names = sorted(path.stem for path in (args.data / "images").glob("*.jpg")
                   if path.stem.split("_")[0] in held_out and path.stem.endswith(angles))
    if not names:
        print(f"skipped: {args.model} records no held-out cars with photos in {args.data}")
        return 0
    rng = random.Random(args.seed)
    photos = [cut_by_frame(name, read_rgb(args.data / "images" / f"{name}.jpg"),
                           read_mask(args.data / "masks" / f"{name}_mask.gif"), rng) for name in names]
    for label, pad in (("as the app masks", 0.0), (f"second pass reflected {args.pad:g} on touched sides", args.pad)):
        segmenter.pad, segmenter.touch, segmenter.second_passes = pad, args.touch, 0
        figures = frame_edge_figures(segmenter, photos)
        print(f"{label}: {figures['photos']} photos, Dice {figures['dice']:.5f}, car near the edge kept "
              f"{figures['near_edge_kept']:.4f}, false car there {figures['near_edge_false']:.4f}, "
              f"second passes {segmenter.second_passes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

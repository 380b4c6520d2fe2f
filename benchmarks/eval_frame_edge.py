"""A car cut by the frame: how much of it a model keeps near the frame's edge, with and without the
app's second look past the edge (``core.masking.frame_edge``; model card, sessions 42 and 43).

The photos are held-out Carvana photos (the model's own ``val_groups``) with 10-30 % of the car cut
off at a random side (left, right or bottom; exact masks cut the same way). Masked as the app masks
(mirror-averaged, cleaned up, close-up), once without and once with ``Segmenter.frame_edge``. Prints,
for both, the mean Dice, the share of the true car within 8 % of the frame's edge kept, the false car
there (as a share of that true car), how many photos took a second pass, and the time a photo
(reading excluded, on this machine's threads: 2 here).

    .venv/bin/python benchmarks/eval_frame_edge.py --model default [--angles 03,07,11,15]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.io.imageio import read_mask, read_rgb  # noqa: E402
from core.masking.frame_edge import EdgeLook  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.training.evaluate_parts import near_frame_edge  # noqa: E402
from core.training.metrics import dice  # noqa: E402


class CountingSegmenter(Segmenter):
    """``Segmenter`` that counts the photos given a second look past the frame's edge."""

    second_looks = 0

    def look_past_edge(self, images: Sequence[np.ndarray], cleaned: Sequence[np.ndarray], doubts: Sequence[float],
                       *, mirror: bool | None = None) -> list[EdgeLook | None]:
        looks = super().look_past_edge(images, cleaned, doubts, mirror=mirror)
        self.second_looks += sum(look is not None for look in looks)
        return looks


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
    scores, kept, false_car, near_car = [], 0, 0, 0
    for photo in photos:
        mask, truth = segmenter.predict(photo.rgb).mask, photo.truth
        near = near_frame_edge(*truth.shape)
        scores.append(dice(mask, truth))
        kept += int((mask & truth & near).sum())
        false_car += int((mask & ~truth & near).sum())
        near_car += int((truth & near).sum())
    return {"photos": len(photos), "dice": float(np.mean(scores)), "near_edge_kept": kept / max(1, near_car),
            "near_edge_false": false_car / max(1, near_car)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--angles", default="03,07,11,15", help="the angles of each held-out car to use")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not (args.data / "images").is_dir():
        print(f"skipped: no Carvana photos in {args.data}")
        return 0
    torch.set_num_threads(2)
    segmenter = CountingSegmenter.load(args.model)
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
    for label, on in (("without the second look past the edge", False), ("as the app masks (with it)", True)):
        segmenter.frame_edge, segmenter.second_looks = on, 0
        tick = time.perf_counter()
        figures = frame_edge_figures(segmenter, photos)
        seconds = (time.perf_counter() - tick) / max(1, len(photos))
        print(f"{label}: {figures['photos']} photos, Dice {figures['dice']:.5f}, car near the edge kept "
              f"{figures['near_edge_kept']:.4f}, false car there {figures['near_edge_false']:.4f}, "
              f"second passes {segmenter.second_looks}, {1000 * seconds:.0f} ms a photo", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

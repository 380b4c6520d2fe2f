"""How much of the other people and vehicles in real photos a model takes for the main car.

On the car-parts test photos (never trained on), the main car is the vehicle instance
(``tools/outdoor_labels/instances.py``'s cached YOLOv5s-seg masks) holding most of the
hand-labelled car-part pixels; every other person or vehicle, outside the main car's instance
grown by 1 % of the photo's diagonal and shrunk by as much (its core), should be background.
Prints, per model, the share of those core pixels its mask (as the app makes it: mirror-averaged,
cleaned up) calls car, over all photos and per photo (how many photos keep more than 10 % of the
other objects), and the photos that keep the most.

    .venv/bin/python benchmarks/eval_main_car.py --model default [--model RUN/best.safetensors]

Needs ``bash scripts/make_outdoor_labels.sh --instances`` (the instance files); skips with a note
without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.eval_sources import add_model_arguments, figures_per_model  # noqa: E402
from core.io.imageio import read_photo  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from tools.outdoor_labels.fuse import Recipe, not_the_main_car  # noqa: E402
from tools.outdoor_labels.instances import read_instances  # noqa: E402

KEPT_OBJECT = 0.10  # a photo "keeps" other objects when its mask covers more than this share of their cores


def other_objects(parts_path: Path, instances_path: Path) -> np.ndarray | None:
    """The cores of the people and vehicles that are not the main car (bool), or None when there are none."""
    with Image.open(parts_path) as image:
        parts = np.asarray(image) > 0
    split = not_the_main_car(parts, read_instances(instances_path), Recipe())
    if split is None or not split[1].any():
        return None
    return split[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--split", choices=("test", "training"), default="test",
                        help="car-parts' test photos (never trained on) or its training photos (how well they are fit)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    images, parts = args.data / "car-parts" / args.split / "images", args.data / "car-parts" / args.split / "parts"
    instances = args.labels / ("car-parts-test" if args.split == "test" else "car-parts-train") / "instances"
    if not instances.is_dir() or not parts.is_dir():
        print(f"skipped: no instance files in {instances} (bash scripts/make_outdoor_labels.sh --instances) "
              f"or no part labels in {parts}")
        return 0
    cores = {}
    for photo in sorted(images.glob("*.jpg")):
        if (parts / f"{photo.stem}.png").exists() and (instances / f"{photo.stem}.npz").exists():
            core = other_objects(parts / f"{photo.stem}.png", instances / f"{photo.stem}.npz")
            if core is not None:
                cores[photo] = core
    print(f"{len(cores)} car-parts {args.split} photos with other people or vehicles outside the main car")
    def kept_others(segmenter: Segmenter) -> dict:
        kept = total = 0
        per_photo = {}
        for photo, core in cores.items():
            mask = segmenter.predict(read_photo(photo).rgb).mask
            if mask.shape != core.shape:
                raise ValueError(f"{photo}: the mask is {mask.shape}, the instance file {core.shape}")
            kept += int((mask & core).sum())
            total += int(core.sum())
            per_photo[photo.stem] = float((mask & core).sum() / core.sum())
        worst = sorted(per_photo.items(), key=lambda item: -item[1])[:8]
        figures = {
            "photos": len(cores), "other_pixels_kept": round(kept / max(1, total), 4),
            "photos_keeping_others": sum(share > KEPT_OBJECT for share in per_photo.values()),
            "worst": [[stem, round(share, 3)] for stem, share in worst],
        }
        print(f"{segmenter.name}: {figures['other_pixels_kept']:.1%} of the other objects' pixels kept as car; "
              f"{figures['photos_keeping_others']} of {len(cores)} photos keep more than "
              f"{KEPT_OBJECT:.0%} of them; most kept: {figures['worst'][:4]}", flush=True)
        return figures

    figures_per_model(args, kept_others)
    return 0


if __name__ == "__main__":
    sys.exit(main())

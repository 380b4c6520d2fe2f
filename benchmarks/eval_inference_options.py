"""Measure inference options of a model on its held-out validation cars.

At 512x512 (the masks' own size): bilinear upsampling of the raw probabilities, the same after
the stray-region clean-up, then also averaged with the mirrored photo (the default; ``--no-tta``
turns it off), and a guided-filter edge refinement against the photo; with Dice and speckle
and hole counts. At full resolution: photos enlarged to 1918x1280 (the Carvana originals'
size) are masked, single pass and mirror-averaged, and compared with the masks enlarged the
same way (bilinear on the 0/1 mask, cut at 0.5).

    .venv/bin/python benchmarks/eval_inference_options.py --model default --photos 150
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.io.imageio import read_mask, read_rgb  # noqa: E402
from core.masking.cleanup import remove_strays  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.models.preprocess import upsample_probability  # noqa: E402
from core.training.data import find_samples  # noqa: E402
from core.training.metrics import dice, stray_regions  # noqa: E402


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter of ``source`` by a gray ``guide``, both float32 in [0, 1]."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(array: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(array, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_guide, mean_source = box(guide), box(source)
    a = (box(guide * source) - mean_guide * mean_source) / (box(guide * guide) - mean_guide**2 + eps)
    b = mean_source - a * mean_guide
    return box(a) * guide + box(b)


def refine(rgb: np.ndarray, probability: np.ndarray, radius: int, eps: float = 1e-3) -> np.ndarray:
    """Snap the soft edge (uint8 probability) to the photo's outline near the 0.5 contour."""
    band = cv2.dilate(((probability > 8) & (probability < 247)).astype(np.uint8), np.ones((2 * radius + 1,) * 2))
    guide = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    filtered = guided_filter(guide, probability.astype(np.float32) / 255, radius, eps)
    return np.where(band > 0, np.clip(filtered * 255 + 0.5, 0, 255), probability).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--photos", type=int, default=150, help="validation photos at 512 (evenly spaced)")
    parser.add_argument("--full-photos", type=int, default=40, help="validation photos at 1918x1280")
    args = parser.parse_args()
    torch.set_num_threads(2)
    segmenter = Segmenter.load(args.model, device="cpu")
    held_out = set(segmenter.config.info.get("val_groups", []))
    samples, _ = find_samples(args.data / "images", args.data / "masks")
    samples = [s for s in samples if s.group in held_out]
    if not samples:
        print("the model records no held-out cars found in the data", file=sys.stderr)
        return 1

    names = ("no clean-up", "single pass", "mirror (the default)", "single pass, refined", "mirror, refined")
    scores: dict[str, list[float]] = {name: [] for name in names}
    strays: dict[str, np.ndarray] = {name: np.zeros(2, int) for name in names}
    for sample in samples[:: max(1, len(samples) // args.photos)][: args.photos]:
        rgb, truth = read_rgb(sample.image), read_mask(sample.mask)
        batch = segmenter.config.preprocess([rgb])
        segmenter.flip_tta = False
        small = segmenter.probabilities(batch)[0]
        segmenter.flip_tta = True
        small_mirrored = segmenter.probabilities(batch)[0]
        raw = upsample_probability(small, *truth.shape[::-1])
        plain = upsample_probability(remove_strays(small), *truth.shape[::-1])
        mirrored = upsample_probability(remove_strays(small_mirrored), *truth.shape[::-1])
        for name, probability in zip(names, (raw, plain, mirrored, refine(rgb, plain, 2), refine(rgb, mirrored, 2))):
            scores[name].append(dice(probability >= 128, truth))
            strays[name] += stray_regions(probability >= 128, truth)
    count = len(scores["single pass"])
    print(f"{segmenter.name}: validation photos at 512x512 ({count} photos)")
    for name, values in scores.items():
        print(f"  {name:22s} mean Dice {np.mean(values):.5f}, speckles {strays[name][0]}, holes {strays[name][1]}")

    width, height = 1918, 1280
    full: dict[str, list[float]] = {"single pass": [], "single pass, refined": [], "mirror (the default)": []}
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for sample in samples[:: max(1, len(samples) // args.full_photos)][: args.full_photos]:
        rgb = cv2.resize(read_rgb(sample.image), (width, height), interpolation=cv2.INTER_CUBIC)
        truth = cv2.resize(read_mask(sample.mask).astype(np.float32), (width, height)) >= 0.5
        for mirror in (False, True):
            segmenter.flip_tta = mirror
            tick = time.perf_counter()
            prediction = segmenter.predict(rgb)
            seconds[mirror].append(time.perf_counter() - tick)
            if mirror:
                full["mirror (the default)"].append(dice(prediction.mask, truth))
            else:
                full["single pass"].append(dice(prediction.mask, truth))
                full["single pass, refined"].append(dice(refine(rgb, prediction.probability, 7) >= 128, truth))
    print(f"  at 1918x1280 ({len(full['single pass'])} photos): "
          + ", ".join(f"{name} {np.mean(values):.5f}" for name, values in full.items())
          + f"; {np.median(seconds[False]) * 1000:.0f} ms per photo single pass, "
          f"{np.median(seconds[True]) * 1000:.0f} ms mirrored (median, CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

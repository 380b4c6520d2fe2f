"""Studio cars with exact masks on real outdoor backgrounds: labels whose edges are true.

The teachers' edges are approximate; a Carvana car keeps its exact mask wherever it is pasted.
Per composite (``<cache>/composites/{images,masks}/<carvana stem>.{jpg,png}``):

1. a real outdoor photo from the stanford-cars *training* split with its fused label: the car is
   painted out (inpainted at low resolution, so the hole reads as blurred background), other
   cars and objects stay (they are background in the composite, as the main-car rule says);
2. a Carvana car, cut by its exact mask, scaled to the width of the painted-out car (+-15 %) and
   standing where that car stood (bottom centre, jittered), partly out of frame when it falls so;
3. a soft ground shadow under it, a random exposure for the car, the edge antialiased by the
   scaled soft mask, then mild sensor noise and blur over the whole photo.

The file stem is the Carvana photo's, so ``core.grouping.photo_group`` gives the same car: a mix source
``split: group`` with Carvana's ``val_fraction`` and seed holds out exactly the same cars, and
no held-out Carvana car is ever trained on as a composite.

With ``--neighbours N`` (``<cache>/composites-crowd``): 1 to N other cars of the Carvana training
split parked behind and beside the main one, as on a dealer's lot, background in the mask; their
visible pixels in ``emphasis/<stem>.png``.

Usage: python -m tools.outdoor_labels.composites --carvana DIR --cache DIR --mix MIX.json
         [--every N] [--seed S] [--neighbours N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.io.imageio import read_mask, read_rgb, write_image
from core.training.data import Sample, find_samples
from core.training.training_mix import mix_samples, read_mix
from tools.outdoor_labels.files import write_atomic

WORK_WIDTH = 640  # composites are written at most this wide (the model works at 512)


def _fit_width(image: np.ndarray, width: int) -> np.ndarray:
    if image.shape[1] <= width:
        return image
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def paint_out(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``rgb`` with ``region`` (bool) filled from its surroundings (blurred, like far background)."""
    height, width = region.shape
    scale = 96 / max(height, width)
    small = cv2.resize(rgb, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(region.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_CUBIC)
    grown = cv2.dilate(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    out = rgb.copy()
    out[grown] = filled[grown]
    return out


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def _cut_car(car_rgb: np.ndarray, car_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(RGB float32, alpha float32) of the car's box."""
    top, left, bottom, right = _bbox(car_mask) or (0, 0, *car_mask.shape)
    return car_rgb[top:bottom, left:right].astype(np.float32), car_mask[top:bottom, left:right].astype(np.float32)


def _scaled(crop_rgb: np.ndarray, crop_alpha: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    size = (max(4, round(crop_rgb.shape[1] * scale)), max(4, round(crop_rgb.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return (cv2.resize(crop_rgb, size, interpolation=interpolation),
            np.clip(cv2.resize(crop_alpha, size, interpolation=interpolation), 0, 1))


def _stand(scene: np.ndarray, crop_rgb: np.ndarray, crop_alpha: np.ndarray, centre_x: float, base_y: float,
           rng: np.random.Generator) -> np.ndarray:
    """Darken a soft ground shadow into ``scene`` (float32, in place) and blend the car in with its bottom
    centre at (``centre_x``, ``base_y``), partly out of frame when it falls so; returns the car's alpha
    over the whole frame."""
    height, width = scene.shape[:2]
    car_h, car_w = crop_alpha.shape
    x0, y0 = round(centre_x - car_w / 2), round(min(base_y, height) - car_h)
    alpha = np.zeros((height, width), np.float32)
    car = np.zeros((height, width, 3), np.float32)
    sy0, sx0 = max(0, -y0), max(0, -x0)
    dy0, dx0 = max(0, y0), max(0, x0)
    dy1, dx1 = min(height, y0 + car_h), min(width, x0 + car_w)
    if dy1 > dy0 and dx1 > dx0:
        alpha[dy0:dy1, dx0:dx1] = crop_alpha[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
        car[dy0:dy1, dx0:dx1] = crop_rgb[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    # a soft ground shadow: a dark ellipse at the car's feet
    shadow = np.zeros((height, width), np.float32)
    feet_y = y0 + car_h
    axes = (max(2, round(car_w * rng.uniform(0.5, 0.58))), max(2, round(car_h * rng.uniform(0.06, 0.14))))
    cv2.ellipse(shadow, (round(centre_x), round(feet_y - axes[1] * 0.6)), axes, 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(1.0, car_w * 0.04))
    scene *= (1 - rng.uniform(0.35, 0.65) * shadow)[..., None]
    scene[:] = car * alpha[..., None] + scene * (1 - alpha[..., None])
    return alpha


def make_composite(car_rgb: np.ndarray, car_mask: np.ndarray, background: np.ndarray, old_car: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(photo uint8 RGB, mask bool): the car of ``car_rgb`` (exact ``car_mask``) standing where
    ``old_car`` (bool, same size as ``background``) stood, over ``background`` with that car painted out."""
    photo, mask, _ = make_crowd_composite(car_rgb, car_mask, background, old_car, rng, ())
    return photo, mask


def make_crowd_composite(car_rgb: np.ndarray, car_mask: np.ndarray, background: np.ndarray, old_car: np.ndarray,
                         rng: np.random.Generator, neighbours: Sequence[tuple[np.ndarray, np.ndarray]],
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo, mask, parked: bool, the neighbours' visible pixels): ``make_composite`` with each of
    ``neighbours`` ((RGB, exact mask) of another car) parked first, further back and to one side,
    smaller, touching or partly hidden by the main car, as on a dealer's lot. They are background in
    the mask (the main-car rule), so the composite teaches which car the photo is about."""
    scene = paint_out(background, old_car).astype(np.float32)
    height, width = old_car.shape
    old = _bbox(old_car) or (height // 3, width // 4, height * 9 // 10, width * 3 // 4)
    crop_rgb, crop_alpha = _cut_car(car_rgb, car_mask)
    cover = max((old[3] - old[1]) / crop_rgb.shape[1], (old[2] - old[0]) / crop_rgb.shape[0])  # hide the hole
    scale = min(cover * rng.uniform(1.0, 1.12), 0.95 * height / crop_rgb.shape[0], 1.2 * width / crop_rgb.shape[1])
    crop_rgb, crop_alpha = _scaled(crop_rgb, crop_alpha, scale)
    crop_rgb *= rng.uniform(0.8, 1.1)  # the studio light is not the lot's
    car_h, car_w = crop_alpha.shape
    # where the car stands: the old car's bottom centre, jittered by a tenth of its size
    centre_x = (old[1] + old[3]) / 2 + rng.uniform(-0.1, 0.1) * car_w
    base_y = old[2] + rng.uniform(-0.05, 0.05) * car_h
    parked = np.zeros((height, width), np.float32)
    for other_rgb, other_mask in neighbours:
        other_crop, other_alpha = _cut_car(other_rgb, other_mask)
        # further back: its feet higher in the frame, a little smaller; beside: its centre off the main car's
        other_scale = car_h * rng.uniform(0.55, 0.9) / other_crop.shape[0]
        other_crop, other_alpha = _scaled(other_crop, other_alpha, other_scale)
        other_crop *= rng.uniform(0.7, 1.1)
        side = rng.choice((-1.0, 1.0))
        other_x = centre_x + side * car_w * rng.uniform(0.3, 0.75)
        other_base = base_y - car_h * rng.uniform(0.05, 0.3)
        parked = np.maximum(parked, _stand(scene, other_crop, other_alpha, other_x, other_base, rng))
    alpha = _stand(scene, crop_rgb, crop_alpha, centre_x, base_y, rng)
    photo = scene + rng.normal(0, rng.uniform(1, 4), size=scene.shape)
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255), (0, 0), rng.uniform(0.3, 0.7))
    mask = alpha >= 0.5
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8), mask, (parked >= 0.5) & ~mask


def _outdoor_backgrounds(mix_path: Path) -> list[tuple[Path, Path]]:
    """(photo, fused mask) of the stanford-cars source's training split, as the mix splits it."""
    sources = [s for s in read_mix(mix_path) if s.name == "stanford-cars"]
    if not sources:
        raise SystemExit(f"{mix_path}: no 'stanford-cars' source to take backgrounds from")
    train, _, _ = mix_samples(sources)
    unique = {sample.image: sample.mask for sample in train}
    return sorted(unique.items())


def _training_cars(mix_path: Path) -> list[Sample]:
    """The photos of the Carvana source's training split, as the mix splits it (never a held-out car)."""
    sources = [s for s in read_mix(mix_path) if s.name == "carvana"]
    if not sources:
        raise SystemExit(f"{mix_path}: no 'carvana' source to take parked cars from")
    train, _, _ = mix_samples(sources)
    return sorted({sample.image: sample for sample in train}.values(), key=lambda s: s.image.name)


def composites_folder(cache: Path, neighbours: int) -> Path:
    """Where ``build`` writes: ``<cache>/composites``, or ``<cache>/composites-crowd`` with parked cars."""
    return cache / ("composites-crowd" if neighbours else "composites")


def build(carvana: Path, cache: Path, mix_path: Path, *, every: int = 4, seed: int = 0, neighbours: int = 0) -> dict:
    """Write the composites (about one in ``every`` Carvana photos of each car, at random angles: all
    cars, so the split holds). With ``neighbours`` > 0 they go to ``<cache>/composites-crowd`` and each
    has 1 to ``neighbours`` other cars of the Carvana training split parked behind the main one, their
    visible pixels written to ``emphasis/`` (a mix source's ``emphasis``: weigh them more)."""
    out = composites_folder(cache, neighbours)
    for sub in ("images", "masks") + (("emphasis",) if neighbours else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    backgrounds = _outdoor_backgrounds(mix_path)
    parked_cars = _training_cars(mix_path) if neighbours else []
    aspects: dict[Path, float] = {}  # background mask -> its car's box shape, read once
    samples, _ = find_samples(carvana / "images", carvana / "masks")
    chosen = _every_car(samples, every, seed)
    made = 0
    for index, sample in enumerate(chosen):
        photo = sample.image
        image_path, mask_path = out / "images" / f"{photo.stem}.jpg", out / "masks" / f"{photo.stem}.png"
        emphasis_path = out / "emphasis" / f"{photo.stem}.png"
        if image_path.exists() and mask_path.exists() and (not neighbours or emphasis_path.exists()):
            made += 1
            continue
        rng = np.random.default_rng([seed, index])
        car_mask = read_mask(sample.mask)
        background_photo, background_mask = _matching_background(backgrounds, aspects, car_mask, rng)
        background = _fit_width(read_rgb(background_photo), WORK_WIDTH)
        old_car = cv2.resize(read_mask(background_mask).astype(np.uint8), background.shape[1::-1],
                             interpolation=cv2.INTER_NEAREST) > 0
        car_rgb = read_rgb(photo)
        if rng.random() < 0.5:  # the studio shoots one side; the lot sees both
            car_rgb, car_mask = car_rgb[:, ::-1], car_mask[:, ::-1]
        others = []
        for _ in range(int(rng.integers(1, neighbours + 1)) if neighbours else 0):
            other = parked_cars[int(rng.integers(0, len(parked_cars)))]
            while other.group == sample.group:
                other = parked_cars[int(rng.integers(0, len(parked_cars)))]
            other_rgb, other_mask = read_rgb(other.image), read_mask(other.mask)
            if rng.random() < 0.5:
                other_rgb, other_mask = other_rgb[:, ::-1], other_mask[:, ::-1]
            others.append((other_rgb, other_mask))
        composite, mask, parked = make_crowd_composite(car_rgb, car_mask, background, old_car, rng, others)
        if neighbours:  # the parked cars' pixels, for the mix's ``emphasis``
            write_image(emphasis_path, parked.astype(np.uint8) * 255)
        write_image(mask_path, mask.astype(np.uint8) * 255)
        write_image(image_path, composite, quality=92)
        made += 1
        if made % 100 == 0:
            print(f"composites: {made}/{len(chosen)}", flush=True)
    report = {"composites": made, "every": every, "seed": seed, "backgrounds": len(backgrounds),
              "neighbours": neighbours}
    write_atomic(json.dumps(report, indent=1).encode(), out / "report.json")
    return report


def _every_car(samples: list[Sample], every: int, seed: int) -> list[Sample]:
    """About one in ``every`` photos of each car, at random angles, and at least one of every car."""
    by_car: dict[str, list] = {}
    for sample in sorted(samples, key=lambda s: s.image.name):
        by_car.setdefault(sample.group, []).append(sample)
    chosen = []
    for number, car in enumerate(sorted(by_car)):
        photos = by_car[car]
        picks = np.random.default_rng([seed, number]).permutation(len(photos))[: max(1, round(len(photos) / every))]
        chosen += [photos[i] for i in sorted(picks)]
    return chosen


def _aspect(mask: np.ndarray) -> float:
    top, left, bottom, right = _bbox(mask) or (0, 0, 1, 1)
    return (right - left) / max(1, bottom - top)


def _matching_background(backgrounds: list[tuple[Path, Path]], aspects: dict[Path, float], car_mask: np.ndarray,
                         rng: np.random.Generator, candidates: int = 24) -> tuple[Path, Path]:
    """Of ``candidates`` random backgrounds, the one whose car is shaped most like this car
    (width over height of the box), so the pasted car hides most of the painted-out one;
    ``aspects`` caches each background's shape."""
    want = np.log(_aspect(car_mask))
    best, best_gap = backgrounds[0], np.inf
    for index in rng.choice(len(backgrounds), size=min(candidates, len(backgrounds)), replace=False):
        photo, mask = backgrounds[int(index)]
        if mask not in aspects:
            aspects[mask] = _aspect(read_mask(mask))
        gap = abs(np.log(aspects[mask]) - want)
        if gap < best_gap:
            best, best_gap = (photo, mask), gap
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carvana", type=Path, required=True, help="carvana512 folder (images/, masks/)")
    parser.add_argument("--cache", type=Path, required=True, help="the label cache (stanford-cars labels inside)")
    parser.add_argument("--mix", type=Path, required=True, help="the training mix (its stanford-cars split)")
    parser.add_argument("--every", type=int, default=4, help="one composite per N Carvana photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--neighbours", type=int, default=0,
                        help="park 1 to N other training cars behind each main car (background in the mask); "
                             "written to <cache>/composites-crowd")
    args = parser.parse_args(argv)
    report = build(args.carvana, args.cache, args.mix, every=args.every, seed=args.seed, neighbours=args.neighbours)
    print(f"composites: {report['composites']} written to {composites_folder(args.cache, args.neighbours)} "
          f"over {report['backgrounds']} outdoor backgrounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

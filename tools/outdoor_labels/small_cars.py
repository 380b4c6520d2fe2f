"""A test set of cars standing small in wide outdoor frames, with exact masks: a check, never trained on.

The training photos mostly show a car filling the frame; street and video frames often do not.
Per photo (``<cache>/small-cars/{images,masks}/<carvana stem>_s<k>.{jpg,png}``): a 16:9 frame
(``FRAME``) cut from a held-out stanford-cars photo whose own car is painted out (with every pixel
its label does not trust as background: a strip of it the teachers missed would be a second car
that the set's mask calls background), and a held-out
Carvana car pasted into it by ``composites.make_composite`` (exact mask, ground shadow, camera noise)
at a width of ``WIDTH_SHARE`` of the frame, standing on the lower part of it. Held out means: of
the model given (by default the shipped one), its ``val_groups``, so no stage of it trained on
any car or background used here. Seeded: the same command writes the same set. ``report.json``
names each photo's car and background, and its ``set_id`` fingerprints them: a new shipped model
holds out other photos, so a rebuild can be another set (``eval_sources`` prints the id).

Usage: python -m tools.outdoor_labels.small_cars --carvana DIR --cache DIR [--model M] [--per-car N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from core.io.imageio import read_mask, read_rgb, write_image
from core.models.checkpoint import read_config
from core.models.model_store import resolve_model
from core.training.data import find_samples, read_confidence
from tools.outdoor_labels.composites import make_composite, paint_out
from tools.outdoor_labels.files import write_atomic

FRAME = (854, 480)  # width, height: a 16:9 frame at the size of a small video
WIDTH_SHARE = (0.2, 0.55)  # of the frame's width, for the car's box
MAX_HEIGHT_SHARE = 0.8  # of the frame's height, for the car's box (a front view is tall)


def held_out(model: str | None) -> tuple[set[str], list[str]]:
    """(Carvana car ids, stanford-cars photo stems) the model held out."""
    groups = read_config(resolve_model(model)).info.get("val_groups", [])
    cars = {group for group in groups if ":" not in group}
    stanford = sorted(group.split(":", 1)[1] for group in groups if group.startswith("stanford-cars:"))
    return cars, stanford


def not_surely_background(labels: Path, stem: str, shape: tuple[int, int]) -> np.ndarray:
    """bool (``shape``): the pixels of a stanford-cars label that are car, or not trusted as background
    (its confidence map below full, where there is one)."""
    region = read_mask(labels / "masks" / f"{stem}.png")
    confidence_path = labels / "confidence" / f"{stem}.png"
    if confidence_path.is_file():
        region = region | (read_confidence(confidence_path, region.shape) < 1.0)
    if region.shape != shape:
        region = cv2.resize(region.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    return region


def wide_frame(photo: np.ndarray, its_car: np.ndarray) -> np.ndarray:
    """``photo`` with ``its_car`` painted out, scaled to cover ``FRAME`` and cut to it at the centre."""
    scene = paint_out(photo, its_car)
    width, height = FRAME
    scale = max(width / scene.shape[1], height / scene.shape[0])
    size = (max(width, round(scene.shape[1] * scale)), max(height, round(scene.shape[0] * scale)))
    scene = cv2.resize(scene, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (scene.shape[0] - height) // 2, (scene.shape[1] - width) // 2
    return np.ascontiguousarray(scene[top : top + height, left : left + width])


def small_car(car_rgb: np.ndarray, car_mask: np.ndarray, frame: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(photo, mask): the car placed small in ``frame`` (see the module docstring)."""
    height, width = frame.shape[:2]
    rows, cols = np.flatnonzero(car_mask.any(axis=1)), np.flatnonzero(car_mask.any(axis=0))
    aspect = (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)  # height over width
    box_width = rng.uniform(*WIDTH_SHARE) * width
    box_height = min(box_width * aspect, MAX_HEIGHT_SHARE * height)
    box_width = box_height / aspect
    centre = rng.uniform(box_width / 2, width - box_width / 2)
    base = rng.uniform(max(0.55 * height, box_height + 0.05 * height), 0.97 * height)
    place = np.zeros((height, width), bool)
    place[int(base - box_height) : int(base), int(centre - box_width / 2) : int(centre + box_width / 2)] = True
    if rng.random() < 0.5:
        car_rgb, car_mask = car_rgb[:, ::-1], car_mask[:, ::-1]
    return make_composite(car_rgb, car_mask, frame, place, rng)


def set_id(made_from: dict[str, dict[str, str]], seed: int) -> str:
    """A short fingerprint of what a set was made from (each photo's car and background, the seed and
    the geometry): two builds with the same id hold the same photos if the stanford-cars labels that
    decide what is painted out are the same (the labels' own content is not in the id)."""
    recipe = {"made_from": made_from, "seed": seed, "frame": FRAME, "width_share": WIDTH_SHARE,
              "max_height_share": MAX_HEIGHT_SHARE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def build(carvana: Path, stanford_labels: Path, cache: Path, *, model: str | None = None, per_car: int = 2,
          seed: int = 17) -> dict:
    """Write ``per_car`` photos for every held-out Carvana car into ``<cache>/small-cars``, replacing
    the set there whole (no photo of an earlier build stays); returns the report (also written),
    which names each photo's car and background and the set's ``set_id``."""
    final = cache / "small-cars"
    out = cache / "small-cars.part"
    shutil.rmtree(out, ignore_errors=True)  # an interrupted build's leftovers
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    cars, stanford = held_out(model)
    stanford = [stem for stem in stanford if (stanford_labels / "masks" / f"{stem}.png").is_file()]
    if not cars or not stanford:
        raise SystemExit(f"{model or 'default'}: no held-out Carvana cars or stanford-cars labels to build from")
    samples, _ = find_samples(carvana / "images", carvana / "masks")
    by_car: dict[str, list] = {}
    for sample in sorted(samples, key=lambda s: s.image.name):
        if sample.group in cars:
            by_car.setdefault(sample.group, []).append(sample)
    made_from: dict[str, dict[str, str]] = {}
    for number, car in enumerate(sorted(by_car)):
        for k in range(per_car):
            rng = np.random.default_rng([seed, number, k])
            sample = by_car[car][int(rng.integers(len(by_car[car])))]
            stem = f"{sample.image.stem}_s{k}"
            image_path, mask_path = out / "images" / f"{stem}.jpg", out / "masks" / f"{stem}.png"
            background = stanford[int(rng.integers(len(stanford)))]
            photo = read_rgb(stanford_labels / "images" / f"{background}.jpg")
            its_car = not_surely_background(stanford_labels, background, photo.shape[:2])
            composite, mask = small_car(read_rgb(sample.image), read_mask(sample.mask), wide_frame(photo, its_car), rng)
            write_image(mask_path, mask.astype(np.uint8) * 255)
            write_image(image_path, composite, quality=92)
            made_from[stem] = {"car": sample.image.name, "background": background}
    report = {"photos": len(made_from), "cars": len(by_car), "per_car": per_car, "seed": seed,
              "held_out_of": model or "default", "frame": list(FRAME), "width_share": list(WIDTH_SHARE),
              "set_id": set_id(made_from, seed), "made_from": made_from}
    write_atomic(json.dumps(report, indent=1).encode(), out / "report.json")
    replaced = cache / "small-cars.old"
    shutil.rmtree(replaced, ignore_errors=True)
    if final.exists():
        final.rename(replaced)
    out.rename(final)
    shutil.rmtree(replaced, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carvana", type=Path, required=True, help="carvana512 folder (images/, masks/)")
    parser.add_argument("--cache", type=Path, required=True, help="the label cache (stanford-cars labels inside)")
    parser.add_argument("--model", default=None, help="whose held-out cars and photos to use (default: the shipped model)")
    parser.add_argument("--per-car", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    report = build(args.carvana, args.cache / "stanford-cars" / "labels", args.cache, model=args.model,
                   per_car=args.per_car, seed=args.seed)
    print(f"small-cars: {report['photos']} photos of {report['cars']} held-out cars written to "
          f"{args.cache / 'small-cars'} (set {report['set_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

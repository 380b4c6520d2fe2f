"""Fuse the cached teacher maps into training labels we trust (cheap; rerun after a recipe change).

Per photo, from ``<cache>/<source>/teachers/<stem>.{isnet,u2netp}.png`` (and, for car-parts, the
hand-drawn part map), writes ``<cache>/<source>/labels/``:

- ``images/<stem>.jpg``: a link to the photo;
- ``masks/<stem>.png``: the car, 0 or 255 (IS-Net's map cut at 0.5, the main car only, labelled
  car parts added);
- ``confidence/<stem>.png``: the loss weight of each pixel, 0..255 (0: unknown, ignored);
- ``emphasis/<stem>.png`` (car-parts; with ``--instances`` every source where there is some): the
  hand-labelled mirror and wheel pixels, 255, which the training weighs more (the mix's
  ``emphasis``): they are small, and the parts a cut-out most often loses; with ``--instances`` also
  the cores of other people and vehicles taught as background (``FusedLabel.taught_other_objects``): the
  shipped model kept half of them as car on lots although its labels said background;
- ``report.json``: what was kept and why photos were dropped.

The recipe (see ``Recipe``): IS-Net is the main opinion (0.93 outdoor), U^2-Net-p the second (0.80).
A photo is dropped when the two disagree wildly, the car is tiny or fills the frame, or the
mask misses the labelled car parts. In a kept photo, pixels near IS-Net's 0.5 are unknown, and so
are background pixels either teacher gives some chance of being car (trimmed mirrors); pixels
IS-Net calls car and U^2-Net-p not weigh less; objects apart from the main car are unknown
(they may be another car, or a piece of this one cut off by a pole). With
``--instances``, where ``<cache>/<source>/instances/<stem>.npz`` exists (instances.py), people and other vehicles joined
to the main car are cut from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from core.masking.cleanup import enclosed_background
from tools.outdoor_labels.files import write_atomic, write_png
from tools.outdoor_labels.instances import VEHICLES, read_instances


@dataclass(frozen=True)
class Recipe:
    min_teacher_iou: float = 0.50  # IoU of the two teachers' masks (U^2-Net-p is often the one wrong)
    min_car_share: float = 0.04  # of the photo
    max_car_share: float = 0.97
    min_parts_kept: float = 0.93  # share of labelled part pixels inside the mask (car-parts only)
    unsure_band: float = 0.25  # |p - 0.5| below this is unknown
    max_unsure_share: float = 0.15  # of the car's area
    disagree_weight: float = 0.6  # confidence where IS-Net says car and U^2-Net-p not (the reverse: soft_background)
    min_object_share: float = 0.002  # objects smaller than this (of the photo) are background specks
    # A background pixel (IS-Net < 0.5) where either teacher gives at least this is unknown, not
    # background: the teachers trim mirrors, mostly to a low but not zero probability.
    soft_background: float = 0.1
    # Part ids (car-parts' parts.json) written to the emphasis map: left_mirror, right_mirror, wheel.
    emphasis_parts: tuple[int, ...] = (14, 15, 18)
    # Instance masks (instances.py): the vehicle covering most of the main object is the main car;
    # other vehicles and people outside it, grown by this share of the photo's diagonal (instance
    # outlines are coarse), are not car: their core is taught as background, their rim is unknown.
    instance_margin: float = 0.01
    min_main_overlap: float = 0.3  # of the main object's area, for a vehicle to be the main car
    min_cut_share: float = 0.002  # of the photo: smaller pieces of other objects joined to the car stay


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _main_car(binary: np.ndarray, parts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(main car, other objects): the largest connected object, with any object holding part labels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(binary), np.zeros_like(binary)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = {1 + int(np.argmax(areas))}
    if parts is not None:
        keep |= {int(v) for v in np.unique(labels[parts & binary]) if v}
    main = np.isin(labels, list(keep))
    return main, binary & ~main


Instances = tuple[np.ndarray, np.ndarray, np.ndarray]  # classes, scores, masks (instances.read_instances)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def not_the_main_car(main: np.ndarray, instances: Instances, recipe: Recipe) -> tuple[np.ndarray, np.ndarray] | None:
    """(other objects, their core) as bool maps: the people and vehicles that are not the main car,
    outside its own instance grown by the margin; None when no vehicle instance is the main object."""
    classes, _, masks = instances
    vehicles = [k for k in range(len(classes)) if int(classes[k]) in VEHICLES]
    if not vehicles or not main.any():
        return None
    overlaps = [int((masks[k] & main).sum()) for k in vehicles]
    best = vehicles[int(np.argmax(overlaps))]
    if max(overlaps) < recipe.min_main_overlap * main.sum():
        return None
    margin = max(1, round(recipe.instance_margin * float(np.hypot(*main.shape))))
    grown = cv2.dilate(masks[best].astype(np.uint8), _disc(margin)).astype(bool)
    others = np.zeros_like(main)
    for k in range(len(classes)):
        if k != best:
            others |= masks[k]
    others &= ~grown
    core = cv2.erode(others.astype(np.uint8), _disc(margin)).astype(bool)
    return others, core


class FusedLabel(NamedTuple):
    mask: np.ndarray  # uint8 0/255
    confidence: np.ndarray  # uint8, 0 unknown .. 255 trusted
    stats: dict  # stats["drop"] names why the photo is not trusted
    # bool: the cores of people and vehicles apart from the main car that the label fully trusts as
    # background (all False without instances); the training weighs them more (the emphasis map)
    taught_other_objects: np.ndarray


def fuse_photo(isnet: np.ndarray, u2netp: np.ndarray, parts: np.ndarray | None, recipe: Recipe,
               instances: Instances | None = None) -> FusedLabel:
    """The label of one photo from its two teachers' maps (and its hand-labelled ``parts``).

    With ``instances``, people and other vehicles joined to the main car are cut from it
    (``not_the_main_car``), unless they hold labelled car parts."""
    car_is, car_u2 = isnet >= 0.5, u2netp >= 0.5
    union = (car_is | car_u2).sum()
    iou = float((car_is & car_u2).sum() / union) if union else 0.0
    main, others = _main_car(car_is, parts)
    area = main.size
    stats = {"teacher_iou": round(iou, 4), "car_share": round(float(main.sum() / area), 4)}
    unsure = np.abs(isnet - 0.5) < recipe.unsure_band
    stats["unsure_share"] = round(float(unsure.sum() / max(1, main.sum())), 4)
    drop = None
    if parts is not None and parts.any():
        stats["parts_kept"] = round(float((parts & main).sum() / parts.sum()), 4)
        if stats["parts_kept"] < recipe.min_parts_kept:
            drop = "misses labelled car parts"
    if iou < recipe.min_teacher_iou:
        drop = "teachers disagree"
    elif stats["car_share"] < recipe.min_car_share:
        drop = "no car, or a tiny one"
    elif stats["car_share"] > recipe.max_car_share:
        drop = "the car fills the photo"
    elif stats["unsure_share"] > recipe.max_unsure_share:
        drop = "too many unsure pixels"
    stats["drop"] = drop
    mask = main.copy()
    confidence = np.ones(mask.shape, np.float32)
    confidence[car_is & ~car_u2] = recipe.disagree_weight
    confidence[unsure] = 0.0
    confidence[~car_is & (np.maximum(isnet, u2netp) >= recipe.soft_background)] = 0.0
    big_others = others & ~_small_objects(others, recipe.min_object_share)
    confidence[big_others] = 0.0
    split = not_the_main_car(main, instances, recipe) if instances is not None else None
    core = np.zeros(mask.shape, bool)
    if split is not None:
        not_car, core = split
        cut = mask & not_car
        if parts is not None and (cut & parts).sum() > 0.01 * max(1, parts.sum()):  # they hold car parts: car
            stats["instance_cut_share"] = 0.0
        else:
            # A piece the rest of the car would enclose (someone seen through the glass, a
            # reflection) is the car's, whatever its instance mask missed.
            not_car &= ~(enclosed_background(mask & ~not_car) & cut)
            cut = mask & not_car
            stats["instance_cut_share"] = round(float(cut.sum() / area), 4)
            if cut.sum() >= recipe.min_cut_share * area:
                mask &= ~not_car
                confidence[not_car] = 0.0
                confidence[core & not_car] = 1.0
            else:  # a sliver: leave the car as it was, but teach the others' cores
                confidence[core & ~mask] = 1.0
    if parts is not None:
        mask |= parts
        confidence[parts] = 1.0
    confidence_bytes = np.round(confidence * 255).astype(np.uint8)
    taught = core & ~mask & (confidence_bytes == 255)
    return FusedLabel((mask * 255).astype(np.uint8), confidence_bytes, stats, taught)


def emphasis_map(part_ids: np.ndarray | None, shape: tuple[int, int], recipe: Recipe) -> np.ndarray:
    """uint8 0/255 of the pixels labelled as one of ``recipe.emphasis_parts`` (all 0 without labels)."""
    if part_ids is None:
        return np.zeros(shape, np.uint8)
    return np.isin(part_ids, recipe.emphasis_parts).astype(np.uint8) * 255


def _small_objects(binary: np.ndarray, share: float) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    small = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] < share * binary.size]
    return np.isin(labels, small)


def fuse_source(cache: Path, source: str, images: Path, parts_dir: Path | None, recipe: Recipe,
                use_instances: bool = False) -> dict:
    teachers = cache / source / "teachers"
    out = cache / source / "labels"
    emphasised = parts_dir is not None or use_instances
    subfolders = ("images", "masks", "confidence") + (("emphasis",) if emphasised else ())
    for sub in subfolders:
        (out / sub).mkdir(parents=True, exist_ok=True)
    if not emphasised and (out / "emphasis").is_dir():  # an earlier --instances run's maps would still be read
        shutil.rmtree(out / "emphasis")
    report: dict = {"recipe": asdict(recipe), "instances": use_instances, "kept": 0, "dropped": {}, "photos": {}}
    for isnet_path in sorted(teachers.glob("*.isnet.png")):
        stem = isnet_path.name[: -len(".isnet.png")]
        u2_path = teachers / f"{stem}.u2netp.png"
        photo = images / f"{stem}.jpg"
        if not u2_path.exists() or not photo.exists():
            continue
        part_ids = None
        if parts_dir is not None and (parts_dir / f"{stem}.png").exists():
            with Image.open(parts_dir / f"{stem}.png") as image:
                part_ids = np.asarray(image)
        parts = part_ids > 0 if part_ids is not None else None
        instance_path = cache / source / "instances" / f"{stem}.npz"
        instances = read_instances(instance_path) if use_instances and instance_path.exists() else None
        mask, confidence, stats, taught_other_objects = fuse_photo(_read(isnet_path), _read(u2_path), parts, recipe,
                                                                   instances)
        report["photos"][stem] = stats
        targets = [out / "masks" / f"{stem}.png", out / "confidence" / f"{stem}.png", out / "images" / f"{stem}.jpg"]
        if emphasised:
            targets.append(out / "emphasis" / f"{stem}.png")
        if stats["drop"]:
            report["dropped"][stats["drop"]] = report["dropped"].get(stats["drop"], 0) + 1
            for target in targets:
                target.unlink(missing_ok=True)
            continue
        report["kept"] += 1
        if stats.get("instance_cut_share", 0.0) >= recipe.min_cut_share:
            report["main_car_cut"] = report.get("main_car_cut", 0) + 1
        write_png(mask, targets[0])
        write_png(confidence, targets[1])
        if emphasised:
            emphasis = emphasis_map(part_ids, mask.shape, recipe)
            emphasis[taught_other_objects] = 255
            if parts_dir is not None or emphasis.any():  # a photo without a map has no emphasis
                write_png(emphasis, targets[3])
                report["emphasised"] = report.get("emphasised", 0) + 1
            else:
                targets[3].unlink(missing_ok=True)
        if not targets[2].is_symlink():
            targets[2].symlink_to(photo.resolve())
    write_atomic(json.dumps(report, indent=1).encode(), out / "report.json")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--source", action="append", required=True, metavar="NAME=IMAGES[:PARTS]",
                        help="a source's photo folder, and for car-parts its part-label folder")
    parser.add_argument("--instances", action="store_true",
                        help="cut people and other vehicles joined to the main car and emphasise their cores as "
                             "background (instances.py's files)")
    args = parser.parse_args(argv)
    for item in args.source:
        name, _, folders = item.partition("=")
        images, _, parts = folders.partition(":")
        report = fuse_source(args.cache, name, Path(images), Path(parts) if parts else None, Recipe(),
                             use_instances=args.instances)
        total = report["kept"] + sum(report["dropped"].values())
        print(f"{name}: kept {report['kept']} of {total}; dropped: {report['dropped']}; "
              f"other objects cut from the car in {report.get('main_car_cut', 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

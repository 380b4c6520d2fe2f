"""How much of the hand-labelled car parts each teacher keeps (from the cached teacher maps).

The student learns the teachers' habits: a part the teachers trim (mirrors) is trimmed in every
stanford-cars label, where no hand label puts it back. Usage:

    .venv/bin/python -m tools.outdoor_labels.teacher_parts --cache ~/.cache/maskingnet-labels \\
        --source car-parts-train=../shared/data/car-parts/training/parts \\
        --source car-parts-test=../shared/data/car-parts/test/parts
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from tools.outdoor_labels.fuse import Recipe, fuse_photo

TEACHERS = ("isnet", "u2netp")
PART_GROUPS = {"mirrors": (14, 15), "wheels": (18,)}  # ids of ../shared/data/car-parts/parts.json


def _labelled_photos(teachers: Path, parts: Path) -> Iterator[tuple[dict[str, np.ndarray], list[np.ndarray]]]:
    """Per photo with both teachers' maps: ({"all" | "mirrors" | "wheels": labelled pixels},
    [each teacher's probability map, 0..1, in the order of ``TEACHERS``])."""
    for part_path in sorted(parts.glob("*.png")):
        paths = [teachers / f"{part_path.stem}.{teacher}.png" for teacher in TEACHERS]
        if not all(path.exists() for path in paths):
            continue
        with Image.open(part_path) as image:
            labels = np.asarray(image)
        maps = []
        for path in paths:
            with Image.open(path) as image:
                maps.append(np.asarray(image.convert("L"), np.float32) / 255.0)
        yield {"all": labels > 0, **{g: np.isin(labels, ids) for g, ids in PART_GROUPS.items()}}, maps


def teacher_part_recall(teachers: Path, parts: Path) -> dict[str, dict[str, float]]:
    """{teacher: {"all" | "mirrors" | "wheels": share of labelled pixels the teacher's map (>= 0.5) keeps}}."""
    kept = {teacher: {group: 0 for group in ("all", *PART_GROUPS)} for teacher in TEACHERS}
    total = {group: 0 for group in ("all", *PART_GROUPS)}
    for selections, maps in _labelled_photos(teachers, parts):
        for group, selected in selections.items():
            total[group] += int(selected.sum())
            for teacher, probability in zip(TEACHERS, maps):
                kept[teacher][group] += int((selected & (probability >= 0.5)).sum())
    return {teacher: {group: kept[teacher][group] / total[group] for group in total if total[group]}
            for teacher in TEACHERS}


def taught_as_background(teachers: Path, parts: Path, recipe: Recipe) -> dict[str, float]:
    """{"all" | "mirrors" | "wheels": share of labelled pixels a fused label without the hand labels
    (as every stanford-cars label is) teaches as background (mask 0, confidence above 0)}."""
    taught = {group: 0 for group in ("all", *PART_GROUPS)}
    total = dict(taught)
    for selections, (isnet, u2netp) in _labelled_photos(teachers, parts):
        mask, confidence, _, _ = fuse_photo(isnet, u2netp, None, recipe)
        background = (mask == 0) & (confidence > 0)
        for group, selected in selections.items():
            total[group] += int(selected.sum())
            taught[group] += int((selected & background).sum())
    return {group: taught[group] / total[group] for group in total if total[group]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--source", action="append", required=True, metavar="NAME=PARTS")
    args = parser.parse_args(argv)
    for item in args.source:
        name, _, parts = item.partition("=")
        for teacher, shares in teacher_part_recall(args.cache / name / "teachers", Path(parts)).items():
            print(f"{name} {teacher}: " + ", ".join(f"{group} {share:.4f}" for group, share in shares.items()))
        shares = taught_as_background(args.cache / name / "teachers", Path(parts), Recipe())
        print(f"{name} fused label taught as background: "
              + ", ".join(f"{group} {share:.4f}" for group, share in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from pathlib import Path

import numpy as np
from PIL import Image

TEACHERS = ("isnet", "u2netp")
PART_GROUPS = {"mirrors": (14, 15), "wheels": (18,)}  # ids of ../shared/data/car-parts/parts.json


def teacher_part_recall(teachers: Path, parts: Path) -> dict[str, dict[str, float]]:
    """{teacher: {"all" | "mirrors" | "wheels": share of labelled pixels the teacher's map (>= 0.5) keeps}}."""
    kept = {teacher: {group: 0 for group in ("all", *PART_GROUPS)} for teacher in TEACHERS}
    total = {group: 0 for group in ("all", *PART_GROUPS)}
    for part_path in sorted(parts.glob("*.png")):
        maps = [teachers / f"{part_path.stem}.{teacher}.png" for teacher in TEACHERS]
        if not all(path.exists() for path in maps):
            continue
        with Image.open(part_path) as image:
            labels = np.asarray(image)
        selections = {"all": labels > 0, **{g: np.isin(labels, ids) for g, ids in PART_GROUPS.items()}}
        for group, selected in selections.items():
            total[group] += int(selected.sum())
        for teacher, path in zip(TEACHERS, maps):
            with Image.open(path) as image:
                car = np.asarray(image.convert("L")) >= 128
            for group, selected in selections.items():
                kept[teacher][group] += int((selected & car).sum())
    return {teacher: {group: kept[teacher][group] / total[group] for group in total if total[group]}
            for teacher in TEACHERS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--source", action="append", required=True, metavar="NAME=PARTS")
    args = parser.parse_args(argv)
    for item in args.source:
        name, _, parts = item.partition("=")
        for teacher, shares in teacher_part_recall(args.cache / name / "teachers", Path(parts)).items():
            print(f"{name} {teacher}: " + ", ".join(f"{group} {share:.4f}" for group, share in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A model's figures per data source, the way the model card reports them.

- carvana: mean Dice on the held-out Carvana cars (exact masks), mirror-averaged as the app masks;
- stanford-cars: mean Dice on the model's held-out stanford-cars photos against the teacher
  labels, over the trusted pixels only (agreement with the labels, not truth);
- car-parts test (100 photos never trained on): Dice against teacher labels (trusted pixels), also
  by how wide the car stands in the photo (the stanford-cars photos are cropped to the car; street
  photos are not), and the share of hand-labelled car-part pixels kept, all parts and wheels and
  mirrors apart, and those within 8 % of the frame's edge (a car cut by the frame) apart (truth,
  but recall only);
- small-cars: mean Dice on held-out Carvana cars pasted small into wide outdoor frames (exact masks;
  ``tools/outdoor_labels/small_cars.py``): how a car far from the camera comes out; ``small_cars_set``
  names the set (its ``set_id``): compare figures on one set only.

    .venv/bin/python benchmarks/eval_sources.py --model default --model RUN/best.safetensors [--json FILE]
        [--held-out-of MODEL] [--trained-before MODEL] [--only carvana|stanford-cars|car-parts-test|small-cars]
        [--no-tta] [--no-close-up] [--no-frame-edge] [--no-studio-outline]

Labels come from ``scripts/make_outdoor_labels.sh`` (``$MASKINGNET_LABELS``, default
``~/.cache/maskingnet-labels``); a source whose labels are missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.masking.inference import Segmenter  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402
from core.training.evaluate_parts import evaluate_parts, read_part_names  # noqa: E402
from core.training.training_mix import labels_folder, trained_groups  # noqa: E402


def held_out_groups(info: dict, *, held_out: set[str] | None = None, seen: set[str] = frozenset()) -> set[str]:
    """The groups a model held out (its ``val_groups``, or ``held_out``: another model's, to compare
    two models on the same photos) that neither it, nor an earlier stage (``trained_before``), nor
    ``seen`` trained on. A mix's groups carry their source's name ("stanford-cars:stanford_00012"), a
    folder's samples do not: each held-out group is given in both forms."""
    seen = set(seen) | trained_groups(info)
    held_out = set(info.get("val_groups", [])) if held_out is None else held_out
    bare_seen = {group.split(":", 1)[-1] for group in seen if ":" in group}
    return {form for group in held_out - seen for form in (group, group.split(":", 1)[-1])} - bare_seen


SOURCES = ("carvana", "stanford-cars", "car-parts-test", "small-cars")


def dice_sources(info: dict, data: Path, labels: Path, *, seen: set[str] = frozenset(),
                 held_out: set[str] | None = None) -> dict[str, tuple[Path, Path, dict]]:
    """The photos each Dice source is scored on, as ``{source: (images, masks, options)}`` for
    ``evaluate_folder(segmenter, images, masks, **options)``: the held-out Carvana cars of ``info``
    (or ``held_out``), its held-out stanford-cars photos (``held_out_groups``) and car-parts test
    against the teacher labels (trusted pixels), the small cars. A source whose labels are missing,
    or that holds no held-out photo, is left out."""
    studio_groups = {g for g in (info.get("val_groups", []) if held_out is None else held_out) if ":" not in g}
    stems = {group.split(":", 1)[1] for group in held_out_groups(info, held_out=held_out, seen=seen)
             if group.startswith("stanford-cars:")}
    stanford, test = labels / "stanford-cars" / "labels", labels / "car-parts-test" / "labels"
    sources = {
        "carvana": (data / "carvana512" / "images", data / "carvana512" / "masks", {"groups": studio_groups}),
        "stanford-cars": (stanford / "images", stanford / "masks",
                          {"confidence_dir": stanford / "confidence", "stems": stems}),
        "car-parts-test": (test / "images", test / "masks", {"confidence_dir": test / "confidence"}),
        "small-cars": (labels / "small-cars" / "images", labels / "small-cars" / "masks", {}),
    }
    empty = {"carvana": not studio_groups, "stanford-cars": not stems}
    return {name: spec for name, spec in sources.items() if spec[1].is_dir() and not empty.get(name, False)}


CAR_WIDTH_BINS = (0.0, 0.5, 0.7, 0.9, 1.0)  # the car's width (its label's extent) as a share of the photo's


def dice_by_car_width(scores: dict[str, float], masks: Path) -> dict[str, dict]:
    """Mean Dice and photo count per bin of the car's width share (each label mask's extent)."""
    bins: dict[str, list[float]] = {}
    for stem, score in scores.items():
        with Image.open(masks / f"{stem}.png") as image:
            car = np.asarray(image.convert("L")) > 127
        columns = np.flatnonzero(car.any(axis=0))
        share = (columns[-1] - columns[0] + 1) / car.shape[1] if columns.size else 0.0
        upper = next(i for i in range(1, len(CAR_WIDTH_BINS)) if share <= CAR_WIDTH_BINS[i] or i == len(CAR_WIDTH_BINS) - 1)
        bins.setdefault(f"{CAR_WIDTH_BINS[upper - 1]:.1f}-{CAR_WIDTH_BINS[upper]:.1f}", []).append(score)
    return {name: {"photos": len(values), "dice": round(float(np.mean(values)), 4)} for name, values in sorted(bins.items())}


def small_cars_set_id(folder: Path) -> str:
    """The small-cars set's ``set_id`` from its ``report.json`` (which photos it holds), or
    'unknown' for a set built before the id or a report that cannot be read."""
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        return "unknown"
    set_id = report.get("set_id") if isinstance(report, dict) else None
    return set_id if isinstance(set_id, str) else "unknown"


def source_figures(segmenter: Segmenter, data: Path, labels: Path, *, studio: bool = True,
                   seen: set[str] = frozenset(), held_out: set[str] | None = None,
                   only: set[str] | None = None) -> dict:
    """The figures of one model per source (see the module docstring); None where labels are missing.
    ``studio=False`` leaves out the Carvana figures (for a caller that has them already); ``seen``:
    groups an earlier stage trained on, left out of the held-out figures; ``held_out``: score the
    held-out photos of another model (its ``val_groups``) instead of this one's; ``only``: the
    sources to score (of ``SOURCES``; all when None)."""
    only = set(SOURCES if only is None else only)
    if not studio:
        only.discard("carvana")
    figures: dict = {}
    sources = dice_sources(segmenter.config.info, data, labels, seen=seen, held_out=held_out)
    reports = {name: evaluate_folder(segmenter, images, masks, **options)
               for name, (images, masks, options) in sources.items() if name in only}
    if "carvana" in reports:
        report = reports["carvana"]
        figures.update(carvana_dice=report.dice, carvana_photos=len(report.scores), carvana_worst=report.worst())
    if "stanford-cars" in only:
        report = reports.get("stanford-cars")
        figures["stanford_dice_vs_labels"], figures["stanford_photos"] = (
            (report.dice, len(report.scores)) if report else (None, 0))
    if "small-cars" in reports:
        report = reports["small-cars"]
        figures.update(small_cars_dice=report.dice, small_cars_photos=len(report.scores), small_cars_worst=report.worst(),
                       small_cars_set=small_cars_set_id(labels / "small-cars"))
    if "car-parts-test" not in only:
        return figures
    if "car-parts-test" in reports:
        report = reports["car-parts-test"]
        figures.update(car_parts_test_dice_vs_labels=report.dice, car_parts_test_labelled_photos=len(report.scores),
                       car_parts_test_worst=report.worst(),
                       car_parts_test_by_car_width=dice_by_car_width(report.scores, sources["car-parts-test"][1]))
    parts = evaluate_parts(segmenter, data / "car-parts" / "test" / "images", data / "car-parts" / "test" / "parts",
                           part_names=read_part_names(data / "car-parts" / "parts.json"))
    summary = parts.to_dict()
    figures.update(car_parts_recall=summary["recall"], wheels_recall=summary["wheels"],
                   mirrors_recall=summary["mirrors"], near_edge_recall=summary["near_edge"],
                   car_parts_worst=summary["worst"],
                   car_parts_recall_by_part={name: round(kept, 4) for name, kept in summary["per_part"].items()})
    return figures


def held_out_of(spec: str) -> tuple[set[str], set[str]]:
    """(held_out, seen) for ``source_figures``: the model ``spec``'s ``val_groups`` and the groups its
    earlier stages trained on (``trained_before``), to score other models on the same photos."""
    info = Segmenter.load(spec, device="cpu").config.info
    return set(info.get("val_groups", [])), set(info.get("trained_before", []))


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every per-model figures script shares: --model (repeatable), --data, --labels,
    --no-tta, --no-close-up, --no-frame-edge, --no-studio-outline, --no-context-look, --json."""
    parser.add_argument("--model", action="append", required=True, help="model file, run folder or name (repeatable)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--labels", type=Path, default=labels_folder())
    parser.add_argument("--no-tta", action="store_true", help="single pass instead of mirror-averaged")
    parser.add_argument("--no-close-up", action="store_true", help="no second pass on a crop around a small car")
    parser.add_argument("--no-frame-edge", action="store_true",
                        help="no second pass on the photo reflected outward where the frame cuts the car")
    parser.add_argument("--no-studio-outline", action="store_true",
                        help="leave the model's studio outline expert unused (core.models.outline_expert)")
    parser.add_argument("--no-context-look", action="store_true",
                        help="no second look at a smaller size to clear large background regions (core.masking.context_look)")
    parser.add_argument("--json", type=Path, help="also write the figures here")


def figures_per_model(args: argparse.Namespace, figures: Callable[[Segmenter], dict]) -> dict[str, dict]:
    """``figures`` of each ``--model``, loaded as ``add_model_arguments`` asks; printed as JSON one
    line per model, and written to ``--json`` when given."""
    results = {}
    for spec in args.model:
        segmenter = Segmenter.load(spec, device="cpu", flip_tta=not args.no_tta, close_up=not args.no_close_up,
                                   frame_edge=not args.no_frame_edge, studio_outline=not args.no_studio_outline,
                                   context_look=not args.no_context_look)
        results[spec] = figures(segmenter)
        print(spec, json.dumps(results[spec]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--no-studio", action="store_true", help="leave out the Carvana figures (the slowest)")
    parser.add_argument("--only", action="append", choices=SOURCES,
                        help="score only this source (repeatable; default: all)")
    parser.add_argument("--held-out-of", metavar="MODEL",
                        help="score every model on this model's held-out photos (to compare models on the same photos)")
    parser.add_argument("--trained-before", action="append", default=[], metavar="MODEL",
                        help="leave out of the held-out figures what this model (the one training started from) "
                             "was trained on (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    held_out, seen = None, set()
    if args.held_out_of:
        held_out, seen = held_out_of(args.held_out_of)
    for spec in args.trained_before:
        seen |= trained_groups(Segmenter.load(spec, device="cpu").config.info)
    figures_per_model(args, lambda segmenter: source_figures(
        segmenter, args.data, args.labels, studio=not args.no_studio, seen=seen, held_out=held_out,
        only=set(args.only) if args.only else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())

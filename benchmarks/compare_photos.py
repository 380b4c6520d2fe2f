"""Which photos a change makes better or worse: two models' Dice photo by photo, and overlays of those that moved.

A mean hides what a seller sees: a change that mends one white van's doors and paints one car's shadow
on the road may leave the mean where it was. For two models (``--model A --model B``) this scores every
photo of the sources ``eval_sources.py`` scores (the held-out stanford-cars photos and car-parts test
against the teacher labels on their trusted pixels, the small cars against exact masks; the held-out
photos of ``--held-out-of``, by default A's), and prints per source both means, how many photos moved
by more than ``--least-change`` either way, and which. With ``--overlays DIR`` it writes one PNG per
moved photo: the photo, then each model's mask over it (red: car the label does not have; blue: car the
label has and the mask does not).

    .venv/bin/python benchmarks/compare_photos.py --model default --model RUN/best.safetensors
        [--only stanford-cars|car-parts-test|small-cars] [--held-out-of MODEL] [--least-change 0.001]
        [--overlays DIR] [--json FILE]

Needs the labels of ``scripts/make_outdoor_labels.sh``; a source whose labels are missing is left out
with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.eval_sources import dice_sources, held_out_of  # noqa: E402
from core.io.atomic import atomic_path  # noqa: E402
from core.io.imageio import encode_png, read_mask, read_photo  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.training.data import find_samples  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402
from core.training.training_mix import labels_folder  # noqa: E402

PHOTO_SOURCES = ("stanford-cars", "car-parts-test", "small-cars")  # eval_sources' sources scored photo by photo
ONLY_MASK = (255, 0, 0)  # car in the mask, not in the label
ONLY_LABEL = (0, 80, 255)  # car in the label, not in the mask
OVERLAY_WIDTH = 480  # each panel's width in an overlay


def photo_changes(before: dict[str, float], after: dict[str, float], least_change: float) -> dict[str, list]:
    """The photos scored in both whose Dice rose (``better``) or fell (``worse``) by more than
    ``least_change``, as ``[stem, change]`` pairs, the largest change first."""
    moved = sorted(((after[stem] - before[stem], stem) for stem in before.keys() & after.keys()),
                   key=lambda item: (-abs(item[0]), item[1]))
    return {"better": [[stem, round(change, 4)] for change, stem in moved if change > least_change],
            "worse": [[stem, round(change, 4)] for change, stem in moved if change < -least_change]}


def mask_overlay(rgb: np.ndarray, mask: np.ndarray, label: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with the pixels where ``mask`` and ``label`` (H, W) bool disagree tinted:
    ``ONLY_MASK`` where only the mask calls car, ``ONLY_LABEL`` where only the label does."""
    out = rgb.astype(np.float32)
    for where, colour in ((mask & ~label, ONLY_MASK), (~mask & label, ONLY_LABEL)):
        out[where] = 0.4 * out[where] + 0.6 * np.array(colour, np.float32)
    return out.round().astype(np.uint8)


def overlay_panels(rgb: np.ndarray, label: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The photo and one ``mask_overlay`` per mask side by side, each ``OVERLAY_WIDTH`` wide."""
    height = max(1, round(rgb.shape[0] * OVERLAY_WIDTH / rgb.shape[1]))
    panels = [rgb] + [mask_overlay(rgb, mask, label) for mask in masks]
    return np.concatenate([np.asarray(Image.fromarray(panel).resize((OVERLAY_WIDTH, height), Image.BILINEAR))
                           for panel in panels], axis=1)


def per_photo_dice(segmenter: Segmenter, sources: dict[str, tuple[Path, Path, dict]]) -> dict[str, dict[str, float]]:
    """Each source's ``{photo stem: Dice}`` as ``evaluate_folder`` scores it (``sources``: ``dice_sources``'s)."""
    return {name: evaluate_folder(segmenter, images, masks, **options).scores
            for name, (images, masks, options) in sources.items()}


def write_overlays(folder: Path, segmenters: list[Segmenter], sources: dict[str, tuple[Path, Path, dict]],
                   changes: dict[str, dict[str, list]]) -> int:
    """One PNG per moved photo in ``folder``: ``<source>_<better|worse>_<stem>.png`` (``overlay_panels``
    with each segmenter's mask, in order). Returns how many it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, moved in changes.items():
        images, masks, _ = sources[name]
        samples = {sample.image.stem: sample for sample in find_samples(images, masks)[0]}
        for way in ("better", "worse"):
            for stem, _ in moved[way]:
                rgb, label = read_photo(samples[stem].image).rgb, read_mask(samples[stem].mask)
                panels = overlay_panels(rgb, label, [segmenter.predict(rgb).mask for segmenter in segmenters])
                with atomic_path(folder / f"{name}_{way}_{stem}.png") as temp:
                    temp.write_bytes(encode_png(panels))
                written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="model file, run folder or name (twice: A, B)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--labels", type=Path, default=labels_folder())
    parser.add_argument("--only", action="append", choices=PHOTO_SOURCES, help="this source only (repeatable)")
    parser.add_argument("--held-out-of", metavar="MODEL", help="score both on this model's held-out photos (default: A's)")
    parser.add_argument("--least-change", type=float, default=0.001, help="a photo moved when its Dice changed by more")
    parser.add_argument("--overlays", type=Path, metavar="DIR", help="write an overlay of each photo that moved here")
    parser.add_argument("--json", type=Path, help="also write every photo's Dice and the changes here")
    args = parser.parse_args()
    if len(args.model) != 2:
        parser.error("give --model twice: the model before and the model after")
    torch.set_num_threads(2)
    segmenters = [Segmenter.load(spec, device="cpu") for spec in args.model]
    held_out, seen = held_out_of(args.held_out_of or args.model[0])
    sources = {name: spec for name, spec in dice_sources(segmenters[0].config.info, args.data, args.labels,
                                                         seen=seen, held_out=held_out).items()
               if name in (args.only or PHOTO_SOURCES)}
    for name in sorted(set(args.only or PHOTO_SOURCES) - set(sources)):
        print(f"{name}: skipped (no labels in {args.labels}: bash scripts/make_outdoor_labels.sh)")
    scores = [per_photo_dice(segmenter, sources) for segmenter in segmenters]
    changes = {name: photo_changes(scores[0][name], scores[1][name], args.least_change) for name in sources}
    for name, moved in changes.items():
        means = [float(np.mean(list(score[name].values()))) for score in scores]
        print(f"{name}: {len(scores[0][name])} photos, mean {means[0]:.5f} -> {means[1]:.5f}; "
              f"{len(moved['better'])} better, {len(moved['worse'])} worse by more than {args.least_change:g}", flush=True)
        for way in ("better", "worse"):
            if moved[way]:
                print(f"  {way}: " + ", ".join(f"{stem} {change:+.3f}" for stem, change in moved[way]))
    if args.overlays:
        print(f"{write_overlays(args.overlays, segmenters, sources, changes)} overlays in {args.overlays}")
    if args.json:
        args.json.write_text(json.dumps({"models": args.model, "scores": dict(zip(args.model, scores)),
                                         "changes": changes}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

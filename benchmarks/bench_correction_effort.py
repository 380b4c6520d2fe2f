"""How many actions does a user need to correct the model's mask? Plain brush against the smart tools.

A simulated user (no GUI) corrects the model's mask toward the true one. At each step it finds
the largest wrong region (a connected part of the mask that is car where the truth is background,
"extra", or the reverse, "missing") and applies one action there:

- plain: a stroke of the plain brush (missing) or eraser (extra) along the region's middle, with
  the usual radius (``--radius``, default 1 % of the photo's longer side) and, when the region is
  much thinner or wider, also with one that fits its width (the better of the two counts as one
  action: the user picks the brush size for what they see);
- smart: the best of the same plain strokes, a Smart Edges brush / eraser, a Refine Edge and a
  Cut to Edges stroke along the same middle (same radii), a Flip Region click at the region's most interior
  pixel, Re-mask in Box around the region (regions at least 8 % of the longer side), Snap Outline
  (the whole outline at once) and, as the first action only, Car in Box with a box around the car
  the user sees (its extent and 3 % around): the user sees each tool's result and keeps the best,
  as a person who knows the tools would pick one.

The user knows only what is on the screen: where the wrong regions are (the largest one is where
it acts) and where the car is; the tools never see the true mask. An action that does not raise
the Dice is undone (it still counts) and that region is skipped from then on. The count stops when
the Dice reaches 0.99 and 0.995; a photo that does not get there in 20 actions (``--max-actions``;
or runs out of regions) counts as 20 and as given up.

    .venv/bin/python benchmarks/bench_correction_effort.py --images DIR --masks DIR [--limit N] [--model M]
        [--held-out] [--composite] [--radius R] [--fixed-radius] [--no-box] [--no-car-box] [--max-actions N]

``--held-out`` keeps the model's validation cars or photos (of any source of its mix) that no earlier
training stage used; ``--composite`` pastes the cars onto
``core/training/composite.py`` backgrounds first (the stand-in for outdoor photos); ``--fixed-radius``
is the first version's user (one radius for every region). The last line is one JSON object:
{"photos", "plain", "smart", ...} (mean actions to Dice 0.99).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.eval_sources import held_out_groups  # noqa: E402
from core.io.imageio import read_mask, read_photo  # noqa: E402
from core.masking.mask_edit import BRUSH, ERASER, MaskEditor, Rect  # noqa: E402
from core.masking.smart_cut import cut_stroke  # noqa: E402
from core.masking.smart_tools import REFINE, EdgeGuide, box_values, region_values, smart_stroke  # noqa: E402
from core.masking.smart_whole import car_in_box_values, snap_edges_values  # noqa: E402
from core.training.data import find_samples  # noqa: E402
from core.training.metrics import dice  # noqa: E402

TARGETS = (0.99, 0.995)
SIZED = ("plain stroke", "smart stroke", "refine stroke", "cut stroke")  # actions tried at each of the user's brush radii
ONCE = ("car box",)  # actions tried as the first one only: a box around the whole car is where a user starts
MAX_ACTIONS = 20  # the user gives up here; --max-actions sees past it (capped counts understate savings)
BOX_MIN_SHARE = 0.08  # the simulated user boxes regions at least this share of the photo's longer side
WIDEST = 0.08  # the widest brush radius the user picks, a share of the photo's longer side
CAR_BOX_MARGIN = 0.03  # the user's box around the car: the car's extent and this share of it around


@dataclass
class Region:
    kind: str  # 'missing' (should be car) or 'extra' (should be background)
    pixels: np.ndarray  # (H, W) bool

    @property
    def tool(self) -> str:
        return BRUSH if self.kind == "missing" else ERASER


@dataclass
class Run:
    counts: dict[float, int] = field(default_factory=dict)  # target -> actions
    tools: dict[str, int] = field(default_factory=dict)  # tool -> times chosen
    start: float = 0.0  # Dice of the model's mask
    final: float = 0.0  # Dice when the user stopped (both targets reached, or 20 actions)


def wrong_regions(mask: np.ndarray, truth: np.ndarray, skip: list[tuple[int, int]]) -> list[Region]:
    """Wrong regions, largest first, leaving out those holding a skipped point."""
    found = []
    for kind, wrong in (("missing", truth & ~mask), ("extra", mask & ~truth)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(wrong.astype(np.uint8), connectivity=8)
        skipped = {labels[y, x] for x, y in skip}
        for label in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:8] + 1:
            if label not in skipped:
                found.append((stats[label, cv2.CC_STAT_AREA], Region(kind, labels == label)))
    return [region for _, region in sorted(found, key=lambda item: -item[0])]


def centre(region: np.ndarray) -> tuple[int, int]:
    """The region's most interior pixel (x, y)."""
    distance = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    y, x = np.unravel_index(np.argmax(distance), distance.shape)
    return int(x), int(y)


def middle(region: np.ndarray, step: float) -> list[tuple[float, float]]:
    """A stroke along the region's middle: along its main axis, the most interior pixel of
    each slice ``step`` long; one point for a small region."""
    rows, cols = np.nonzero(region)
    points = np.stack([cols, rows], axis=1).astype(np.float32)
    mean = points.mean(axis=0)
    _, _, axes = np.linalg.svd(points - mean, full_matrices=False)
    along = (points - mean) @ axes[0]
    distance = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1][rows, cols]
    path = []
    for start in np.arange(along.min(), along.max() + 1e-6, step):
        inside = (along >= start) & (along < start + step)
        if inside.any():
            best = np.flatnonzero(inside)[np.argmax(distance[inside])]
            path.append((float(cols[best]) + 0.5, float(rows[best]) + 0.5))
    return path


def radii(region: np.ndarray, radius: float, longest: int) -> list[float]:
    """The brush radii a user tries on ``region``: the usual one and, when the region is much
    thinner or wider, one that fits its width (what the user sees; same for both users)."""
    distance = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 3)
    fitted = min(max(1.0, float(distance.max()) - 0.5), WIDEST * longest)  # a brush as wide as the region
    return [radius] if abs(fitted - radius) <= 0.2 * radius else [radius, fitted]


def plain_action(editor: MaskEditor, region: Region, radius: float, **_) -> None:
    editor.begin_stroke(region.tool, 2 * radius)
    for x, y in middle(region.pixels, radius):
        editor.stroke_to(x, y)
    editor.end_stroke()


def smart_actions(guide: EdgeGuide, segmenter, photo_alpha, use_box: bool, car_box: Rect | None) -> dict:
    def stroke(editor: MaskEditor, region: Region, radius: float) -> None:
        smart_stroke(editor, guide, region.tool, 2 * radius, middle(region.pixels, radius))

    def refine(editor: MaskEditor, region: Region, radius: float) -> None:
        smart_stroke(editor, guide, REFINE, 2 * radius, middle(region.pixels, radius))

    def cut(editor: MaskEditor, region: Region, radius: float) -> None:
        cut_stroke(editor, guide, region.kind == "missing", 2 * radius, middle(region.pixels, radius))

    def click(editor: MaskEditor, region: Region, radius: float) -> None:
        found = region_values(guide, editor.alpha, *centre(region.pixels))
        if found is not None:
            editor.patch(*found, "Flip Region")

    def box(editor: MaskEditor, region: Region, radius: float) -> None:
        rows, cols = np.nonzero(region.pixels)
        extent = max(np.ptp(rows), np.ptp(cols))
        if extent < BOX_MIN_SHARE * max(region.pixels.shape):
            return  # a user boxes parts, not slivers
        pad = max(16, int(0.25 * extent))
        rect = Rect(int(cols.min()) - pad, int(rows.min()) - pad, int(cols.max()) + pad + 1, int(rows.max()) + pad + 1)
        editor.patch(*box_values(segmenter, guide.rgb, rect, photo_alpha), "Re-mask Box")

    def car(editor: MaskEditor, region: Region, radius: float) -> None:
        editor.patch(*car_in_box_values(guide, editor.alpha, car_box), "Car in Box")

    def edges(editor: MaskEditor, region: Region, radius: float) -> None:
        editor.patch(*snap_edges_values(guide, editor.alpha), "Snap Outline")

    actions = {"plain stroke": plain_action, "smart stroke": stroke, "refine stroke": refine, "cut stroke": cut, "click": click,
               "snap outline": edges}
    if use_box:
        actions["box"] = box
    if car_box is not None:
        actions["car box"] = car
    return actions


def user_car_box(truth: np.ndarray) -> Rect | None:
    """The box a user draws around the car they see: its extent and a small margin."""
    rows, cols = np.nonzero(truth)
    if not len(rows):
        return None
    pad = int(CAR_BOX_MARGIN * max(np.ptp(rows), np.ptp(cols))) + 2
    return Rect(int(cols.min()) - pad, int(rows.min()) - pad, int(cols.max()) + pad + 1,
                int(rows.max()) + pad + 1).clip(truth.shape[1], truth.shape[0])


def correct(mask: np.ndarray, truth: np.ndarray, actions: dict, radius: float, *, fit: bool = True,
            max_actions: int = MAX_ACTIONS) -> Run:
    """The simulated user with the given actions (name -> function(editor, region, radius))."""
    editor = MaskEditor(mask)
    run = Run()
    score = run.start = dice(editor.mask, truth)
    skip: list[tuple[int, int]] = []
    done = 0
    while True:
        for target in TARGETS:
            if target not in run.counts and score >= target:
                run.counts[target] = done
        if len(run.counts) == len(TARGETS) or done >= max_actions:
            break
        regions = wrong_regions(editor.mask, truth, skip)
        if not regions:
            break
        region = regions[0]
        best: tuple[float, str, np.ndarray | None] = (score, "", None)
        sizes = radii(region.pixels, radius, max(truth.shape)) if fit else [radius]
        for name, action in actions.items():
            if name in ONCE and done:
                continue
            for size in sizes if name in SIZED else sizes[:1]:
                action(editor, region, size)
                if editor.can_undo:  # the action changed something: look, then take it back
                    after = dice(editor.mask, truth)
                    if after > best[0]:
                        best = (after, name, editor.alpha.copy())
                    editor.undo()
        done += 1
        if best[2] is None:
            skip.append(centre(region.pixels))
            continue
        editor.replace(best[2])
        editor.clear_history()
        score = best[0]
        run.tools[best[1]] = run.tools.get(best[1], 0) + 1
    for target in TARGETS:
        run.counts.setdefault(target, max_actions)
    run.final = score
    return run


def composite_set(samples, folder: Path):
    from core.training.composite import CompositeRecipe, build_composite_set

    return build_composite_set(samples, folder, CompositeRecipe(seed=1, kind_seed=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--masks", required=True, type=Path)
    parser.add_argument("--limit", type=int, default=40, help="photos, spread evenly over the set (0: all)")
    parser.add_argument("--model", default=None, help="model (default: the shipped 'default')")
    parser.add_argument("--held-out", action="store_true", help="only the model's held-out validation cars")
    parser.add_argument("--composite", action="store_true",
                        help="paste the cars onto core/training/composite.py backgrounds (the outdoor stand-in)")
    parser.add_argument("--radius", type=float, default=0.0, help="brush radius in pixels (default: 1%% of the longer side)")
    parser.add_argument("--no-box", action="store_true", help="leave re-mask inside a box out of the smart tools")
    parser.add_argument("--fixed-radius", action="store_true",
                        help="one brush radius for every region (default: also one that fits the region's width)")
    parser.add_argument("--no-car-box", action="store_true", help="leave Car in Box out of the smart tools")
    parser.add_argument("--max-actions", type=int, default=MAX_ACTIONS,
                        help=f"actions before the user gives up (default {MAX_ACTIONS}, the issue's protocol)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from core.masking.inference import Segmenter

    segmenter = Segmenter.load(args.model, device=args.device)
    samples, _ = find_samples(args.images, args.masks)
    if args.held_out:
        groups = held_out_groups(segmenter.config.info)
        samples = [s for s in samples if s.group in groups or Path(s.image).stem in groups]  # by car or by photo
    if args.limit and len(samples) > args.limit:
        samples = [samples[int(i * len(samples) / args.limit)] for i in range(args.limit)]
    if not samples:
        print("no photos with masks", file=sys.stderr)
        return 1
    temp = tempfile.TemporaryDirectory()
    if args.composite:
        samples = composite_set(samples, Path(temp.name))
    label = "composited onto core/training/composite.py backgrounds (outdoor stand-in)" if args.composite else "as they are"
    print(f"{len(samples)} photos from {args.images} {label}; model {segmenter.name}")
    print(f"{'photo':28} {'Dice':>7} {'plain .99':>9} {'.995':>5} {'smart .99':>9} {'.995':>5}  smart tools used")
    plain_runs, smart_runs, tick = [], [], time.perf_counter()
    for sample in samples:
        photo = read_photo(sample.image)
        truth = read_mask(sample.mask)
        prediction = segmenter.predict(photo.rgb, photo.alpha)
        radius = args.radius or max(2.0, 0.01 * max(truth.shape))
        guide = EdgeGuide(photo.rgb, prediction.probability)
        plain = correct(prediction.mask, truth, {"plain stroke": plain_action}, radius, fit=not args.fixed_radius,
                        max_actions=args.max_actions)
        car_box = None if args.no_car_box else user_car_box(truth)
        smart = correct(prediction.mask, truth, smart_actions(guide, segmenter, photo.alpha, not args.no_box, car_box),
                        radius, fit=not args.fixed_radius, max_actions=args.max_actions)
        plain_runs.append(plain)
        smart_runs.append(smart)
        used = ", ".join(f"{k} {v}" for k, v in sorted(smart.tools.items()))
        print(f"{sample.name[:28]:28} {dice(prediction.mask, truth):7.4f} {plain.counts[0.99]:9d} {plain.counts[0.995]:5d} "
              f"{smart.counts[0.99]:9d} {smart.counts[0.995]:5d}  {used}", flush=True)

    def mean(runs: list[Run], target: float) -> float:
        return statistics.fmean(run.counts[target] for run in runs)

    def gave_up(runs: list[Run], target: float) -> int:
        return sum(run.counts[target] >= args.max_actions for run in runs)

    print()
    print("| tools | actions to Dice 0.99 | actions to Dice 0.995 | gave up (0.99 / 0.995) | Dice at the end |")
    print("|---|---|---|---|---|")
    start = statistics.fmean(run.start for run in plain_runs)
    for name, runs in (("plain brush / eraser", plain_runs), ("smart tools", smart_runs)):
        print(f"| {name} | {mean(runs, 0.99):.2f} | {mean(runs, 0.995):.2f} | "
              f"{gave_up(runs, 0.99)} / {gave_up(runs, 0.995)} | {start:.4f} → {statistics.fmean(r.final for r in runs):.4f} |")
    tools: dict[str, int] = {}
    for run in smart_runs:
        for key, value in run.tools.items():
            tools[key] = tools.get(key, 0) + value
    print(f"smart actions kept: {tools}; {time.perf_counter() - tick:.0f} s")
    result = {"photos": len(samples), "plain": round(mean(plain_runs, 0.99), 3), "smart": round(mean(smart_runs, 0.99), 3),
              "plain_995": round(mean(plain_runs, 0.995), 3), "smart_995": round(mean(smart_runs, 0.995), 3),
              "dice_start": round(start, 5), "plain_dice_end": round(statistics.fmean(r.final for r in plain_runs), 5),
              "smart_dice_end": round(statistics.fmean(r.final for r in smart_runs), 5),
              "radius": args.radius or "1% of the longer side", "fitted_radius": not args.fixed_radius,
              "composite": args.composite, "model": segmenter.name, "max_actions": args.max_actions,
              "smart_tools": tools}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

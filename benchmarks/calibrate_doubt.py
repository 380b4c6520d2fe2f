"""Does "Masked, check" point at the masks that need checking? Doubt scores against the Dice.

For each set of photos with masks (confidence maps optional: teacher labels are scored on their
trusted pixels) it masks every photo as the app does (mirror-averaged) and scores the mask. Then,
over all sets, for the app's doubt (``core.masking.doubt.doubt_score``) and for candidate scores,
it prints how well each separates bad masks (Dice under ``--bad``) from good ones (the AUC: the
chance a bad mask scores above a good one), and for the app's score the share of bad and of good
masks each threshold flags (``CHECK_DOUBT`` is the app's threshold).

    .venv/bin/python benchmarks/calibrate_doubt.py --model default --set NAME=IMAGES:MASKS[:CONFIDENCE] ...
        [--held-out] [--limit N] [--bad 0.9]

``--held-out`` keeps only what the model held out (its ``val_groups``): for the set called
``carvana`` its held-out cars, for a set named as a source it trained on (``stanford-cars``) that
source's held-out photos; a set it never trained on (``car-parts-test``) is scored whole. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.masking.doubt import CHECK_DOUBT  # noqa: E402
from core.masking.inference import Prediction, Segmenter  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402

THRESHOLDS = (0.02, 0.03, 0.05, 0.08, 0.10, 0.12, 0.15, 0.18, 0.20, 0.22, 0.25, 0.28, 0.30, 0.35, 0.40)


def candidate_scores(prediction: Prediction) -> dict[str, float]:
    """The app's doubt and the alternatives it is compared with (larger = less sure)."""
    probability = prediction.probability
    undecided_narrow = float(np.mean((probability > 76) & (probability < 179)))
    area = max(prediction.area or 0.0, 0.02)
    return {"app doubt": prediction.doubt, "mirror disagreement": prediction.mirror or 0.0,
            "undecided 0.1-0.9": prediction.uncertainty, "undecided 0.3-0.7": undecided_narrow,
            "undecided 0.1-0.9 per car area": prediction.uncertainty / area,
            "mirror disagreement per car area": (prediction.mirror or 0.0) / area}


def auc(bad: np.ndarray, good: np.ndarray) -> float:
    """The chance that a bad mask's score is above a good one's (ties count half); nan if a side is empty."""
    if not len(bad) or not len(good):
        return float("nan")
    above = (bad[:, None] > good[None, :]).mean()
    ties = (bad[:, None] == good[None, :]).mean()
    return float(above + ties / 2)


def score_set(segmenter: Segmenter, images: str, masks: str, confidence: str | None, *, stems: set[str] | None,
              groups: set[str] | None, limit: int) -> list[tuple[str, float, dict[str, float]]]:
    """(photo, Dice, candidate scores) for each photo of the set, scored as ``maskingnet eval`` scores."""
    candidates: dict[str, dict[str, float]] = {}
    report = evaluate_folder(segmenter, images, masks, limit=limit, groups=groups, stems=stems,
                             confidence_dir=confidence,
                             observe=lambda name, prediction: candidates.__setitem__(name, candidate_scores(prediction)))
    return [(name, score, candidates[name]) for name, score in sorted(report.scores.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--set", action="append", required=True, metavar="NAME=IMAGES:MASKS[:CONFIDENCE]")
    parser.add_argument("--held-out", action="store_true", help="only the photos the model held out")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos a set (0: all)")
    parser.add_argument("--bad", type=float, default=0.9, help="a mask under this Dice needs the user's check")
    parser.add_argument("--catch", type=float, default=0.9,
                        help="the suggested threshold is the highest that flags at least this share of the bad masks")
    parser.add_argument("--json", type=Path, help="also write every photo's Dice and scores here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    segmenter = Segmenter.load(args.model, device="cpu", flip_tta=True)
    info = segmenter.config.info
    held_out = set(info.get("val_groups", []))
    trained_sources = {g.split(":", 1)[0] for g in info.get("train_groups", []) if ":" in g}
    results: dict = {"model": args.model, "bad_dice": args.bad, "check_doubt": CHECK_DOUBT, "sets": {}}
    rows = []
    for item in args.set:
        name, _, folders = item.partition("=")
        images, masks, *confidence = folders.split(":")
        stems = groups = None
        if args.held_out and name == "carvana":
            groups = {g for g in held_out if ":" not in g}
        elif args.held_out and name in trained_sources:
            stems = {g.split(":", 1)[1] for g in held_out if g.startswith(f"{name}:")}
        set_rows = score_set(segmenter, images, masks, confidence[0] if confidence else None, stems=stems,
                             groups=groups, limit=args.limit)
        rows += [(name, *row) for row in set_rows]
        scores = np.array([r[1] for r in set_rows])
        doubts = np.array([r[2]["app doubt"] for r in set_rows])
        results["sets"][name] = {"photos": len(set_rows), "mean_dice": round(float(scores.mean()), 4),
                                 "bad": int((scores < args.bad).sum()),
                                 "doubt_p10_p50_p90": [round(float(v), 4) for v in np.quantile(doubts, [0.1, 0.5, 0.9])],
                                 "flagged": round(float((doubts > CHECK_DOUBT).mean()), 3)}
        print(f"{name}: {json.dumps(results['sets'][name])}", flush=True)
    scores = np.array([r[2] for r in rows])
    is_bad = scores < args.bad
    outdoor = np.array([r[0] != "carvana" for r in rows])
    print(f"\nall sets: {len(rows)} photos, {int(is_bad.sum())} under Dice {args.bad}")
    print("| score | AUC, all sets | AUC, sets other than carvana |\n|---|---:|---:|")
    results["auc"], results["auc_without_carvana"] = {}, {}
    for candidate in rows[0][3]:
        values = np.array([r[3][candidate] for r in rows])
        results["auc"][candidate] = round(auc(values[is_bad], values[~is_bad]), 3)
        results["auc_without_carvana"][candidate] = round(
            auc(values[is_bad & outdoor], values[~is_bad & outdoor]), 3)
        print(f"| {candidate} | {results['auc'][candidate]:.3f} | {results['auc_without_carvana'][candidate]:.3f} |")
    print("\n| app doubt above | bad masks flagged | good masks flagged |\n|---:|---:|---:|")
    doubts = np.array([r[3]["app doubt"] for r in rows])
    results["thresholds"] = {}
    for threshold in THRESHOLDS:
        flagged = doubts > threshold
        caught = float(flagged[is_bad].mean()) if is_bad.any() else float("nan")
        needless = float(flagged[~is_bad].mean()) if (~is_bad).any() else float("nan")
        results["thresholds"][str(threshold)] = [round(caught, 3), round(needless, 3)]
        print(f"| {threshold} | {caught:.0%} | {needless:.0%} |")
    catching = [t for t in THRESHOLDS if results["thresholds"][str(t)][0] >= args.catch]
    results["suggested"] = max(catching) if catching else None
    print(f"\nthe highest threshold that flags at least {args.catch:.0%} of the bad masks: {results['suggested']}")
    if args.json:
        args.json.write_text(json.dumps({**results, "photos": [
            {"set": name, "photo": photo, "dice": score, **scores} for name, photo, score, scores in rows]}, indent=1))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Would a mirror pass only on uncertain photos keep the mirror pass's gain at less cost?

Masks every held-out photo of ``eval_sources.py``'s sources twice, single pass and averaged with
the mirrored photo (as the app does by default), and records per photo both scores and the first
pass's uncertainty (``Prediction.uncertainty``: the share of working-size pixels between 0.1 and
0.9). Then, for thresholds t, it prints the figures of "mirror pass only where the uncertainty is
above t" and the share of photos that would get it (the mirror pass doubles the model time), and how
well the uncertainty predicts each photo's gain (correlation). Two scores that leave out the far
background are tried too (``SCORES``): the unsure share inside the car's box, and in a band around its
outline; for each, the share of each source's gain kept when the more unsure half of the outdoor
photos gets the mirror pass.

- Dice sources: held-out Carvana cars (exact masks), held-out stanford-cars and car-parts test
  (teacher labels, trusted pixels), small cars (exact masks);
- car-parts test, the hand-labelled part pixels kept: all parts, wheels and mirrors (pooled pixels).

    .venv/bin/python benchmarks/eval_mirror_gate.py --model default [--json FILE] [--from-json FILE]

Needs ``scripts/make_outdoor_labels.sh``'s labels (``$MASKINGNET_LABELS``) for the outdoor sources;
a source whose labels are missing is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

DICE_SOURCES = ("carvana", "stanford-cars", "car-parts-test", "small-cars")
PART_GROUPS = ("all", "wheel", "mirror")  # "all", and the parts whose names hold the word
THRESHOLDS = (0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15)
SCORES = ("uncertainty", "box", "band")
OUTDOOR = ("stanford-cars", "car-parts-test", "parts")


def near_car_scores(probability: np.ndarray) -> dict[str, float]:
    """From a photo's (H, W) uint8 probability: the share of unsure pixels (0.1-0.9) inside the car's
    box grown by 5 % of the width (``box``) and within 7 px of its outline at a width of 512 (``band``)."""
    height, width = probability.shape
    p = cv2.resize(probability, (512, max(1, round(512 * height / width))), interpolation=cv2.INTER_AREA)
    car = p >= 128
    unsure = (p > 25) & (p < 230)
    box = np.ones_like(car)
    if car.any():
        ys, xs = np.nonzero(car)
        pad = round(0.05 * 512)
        box = np.zeros_like(car)
        box[max(ys.min() - pad, 0) : ys.max() + pad + 1, max(xs.min() - pad, 0) : xs.max() + pad + 1] = True
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    band = (cv2.dilate(car.astype(np.uint8), kernel) > 0) & ~(cv2.erode(car.astype(np.uint8), kernel) > 0)
    return {"box": float(unsure[box].mean()), "band": float(unsure[band].mean()) if band.any() else 0.0}


def gated_figures(photos: dict, threshold: float, score: str = "uncertainty") -> dict:
    """The figures with the mirror pass only where the first pass's ``score`` is above ``threshold``.

    ``photos``: ``{source: {stem: {"uncertainty": u, "single": x, "mirror": y}}}`` for the Dice sources
    (x, y: Dice) and ``{"parts": {stem: {"uncertainty": u, "single": counts, "mirror": counts}}}``,
    counts ``{part name: [kept pixels, labelled pixels]}``. Returns each Dice source's mean, the pooled
    share of part pixels kept per ``PART_GROUPS`` (``parts_all``, ...), and ``mirrored_share``.
    """
    figures: dict = {}
    mirrored = total = 0
    for source, rows in photos.items():
        if not rows:
            continue
        chosen = []
        for row in rows.values():
            use = row[score] > threshold
            mirrored += use
            total += 1
            chosen.append(row["mirror"] if use else row["single"])
        if source != "parts":
            figures[source] = float(np.mean(chosen))
            continue
        for group in PART_GROUPS:
            kept = labelled = 0
            for counts in chosen:
                for name, (k, n) in counts.items():
                    if group == "all" or group in name:
                        kept += k
                        labelled += n
            figures[f"parts_{group}"] = kept / labelled if labelled else None
    figures["mirrored_share"] = mirrored / total if total else 0.0
    return figures


def gain_correlation(rows: dict, score: str = "uncertainty") -> float | None:
    """Correlation of the first pass's ``score`` with the mirror pass's gain over a Dice source's
    photos (None for fewer than 3 photos or no spread)."""
    if len(rows) < 3:
        return None
    uncertainty = np.array([row[score] for row in rows.values()])
    gain = np.array([row["mirror"] - row["single"] for row in rows.values()])
    if np.ptp(uncertainty) == 0 or np.ptp(gain) == 0:
        return None
    return float(np.corrcoef(uncertainty, gain)[0, 1])


def measure(model: str, data: Path, labels: Path) -> dict:
    """Per-photo figures of ``model`` single pass and mirror-averaged (see the module docstring)."""
    import torch

    from benchmarks.eval_sources import dice_sources
    from core.masking.inference import Segmenter
    from core.models.checkpoint import read_config
    from core.models.model_store import resolve_model
    from core.training.evaluate import evaluate_folder
    from core.training.evaluate_parts import evaluate_parts, read_part_names

    torch.set_num_threads(2)
    photos: dict = {source: {} for source in (*DICE_SOURCES, "parts")}
    sources = dice_sources(read_config(resolve_model(model)).info, data, labels)  # the info, not the weights
    parts_photos, parts_labels = data / "car-parts" / "test" / "images", data / "car-parts" / "test" / "parts"
    names = read_part_names(data / "car-parts" / "parts.json") if parts_labels.is_dir() else {}
    scores: dict[str, dict] = {}  # each photo's first-pass scores, as the evaluations observe them

    def observe(stem: str, prediction) -> None:
        scores[stem] = {"uncertainty": prediction.uncertainty, **near_car_scores(prediction.probability)}

    for mode in ("single", "mirror"):
        segmenter = Segmenter.load(model, device="auto", flip_tta=(mode == "mirror"))
        for source, (images, masks, options) in sources.items():
            scores.clear()
            report = evaluate_folder(segmenter, images, masks, **options, observe=observe)
            for stem, score in report.scores.items():
                row = photos[source].setdefault(stem, {})
                row[mode] = score
                if mode == "single":
                    row.update(scores[stem])
            print(f"{mode}: {source} {len(report.scores)} photos, {report.dice:.5f}", flush=True)
        if not parts_labels.is_dir():
            continue
        scores.clear()
        parts = evaluate_parts(segmenter, parts_photos, parts_labels, part_names=names, observe=observe)
        for stem, counts in parts.photo_parts.items():
            row = photos["parts"].setdefault(stem, {})
            row[mode] = {names.get(part, str(part)): list(kept) for part, kept in counts.items()}
            if mode == "single":
                row.update(scores[stem])
        print(f"{mode}: car-parts test parts {len(photos['parts'])} photos", flush=True)
    return photos


def report(photos: dict) -> str:
    """The table of gated figures by threshold, and the uncertainty's correlation with the gain."""
    columns = [source for source in DICE_SOURCES if photos.get(source)] + [f"parts_{g}" for g in PART_GROUPS]
    lines = ["| t | photos with a mirror pass | " + " | ".join(columns) + " |",
             "|---:|---:|" + "---:|" * len(columns)]
    for label, threshold in (("always", -np.inf), *((f"{t:g}", t) for t in THRESHOLDS), ("never", np.inf)):
        figures = gated_figures(photos, threshold)
        cells = [f"{figures[c]:.5f}" if figures.get(c) is not None else "-" for c in columns]
        lines.append(f"| {label} | {figures['mirrored_share']:.0%} | " + " | ".join(cells) + " |")
    for source in DICE_SOURCES:
        rows = photos.get(source) or {}
        if rows:
            uncertainty = [row["uncertainty"] for row in rows.values()]
            correlation = gain_correlation(rows)
            lines.append(f"{source}: median uncertainty {np.median(uncertainty):.4f}; correlation with the mirror "
                         f"pass's gain {'-' if correlation is None else f'{correlation:.2f}'}")
    outdoor = {source: photos[source] for source in OUTDOOR if photos.get(source)}
    if not outdoor or any(score not in row for rows in outdoor.values() for row in rows.values() for score in SCORES):
        return "\n".join(lines)
    always, never = gated_figures(outdoor, -np.inf), gated_figures(outdoor, np.inf)
    lines.append("The more unsure half of the outdoor photos mirrored, by score: share of each figure's gain kept "
                 "(correlation with the gain)")
    for score in SCORES:
        median = float(np.median([row[score] for rows in outdoor.values() for row in rows.values()]))
        half = gated_figures(outdoor, median, score)
        cells = []
        for key in (*(source for source in outdoor if source != "parts"), *(f"parts_{g}" for g in PART_GROUPS)):
            if key not in always or always[key] is None or always[key] == never[key]:
                continue
            kept = (half[key] - never[key]) / (always[key] - never[key])
            correlation = gain_correlation(outdoor[key], score) if key in outdoor else None
            cells.append(f"{key} {kept:.0%}" + ("" if correlation is None else f" ({correlation:.2f})"))
        lines.append(f"  {score}: {half['mirrored_share']:.0%} mirrored; " + ", ".join(cells))
    return "\n".join(lines)


def main() -> int:
    from core.training.training_mix import labels_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="model file, run folder or name")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--labels", type=Path, default=labels_folder())
    parser.add_argument("--json", type=Path, help="also write the per-photo figures here")
    parser.add_argument("--from-json", type=Path, help="report on per-photo figures written before; mask nothing")
    args = parser.parse_args()
    if args.from_json:
        try:
            photos = json.loads(args.from_json.read_text())
        except (OSError, ValueError) as error:
            raise SystemExit(f"{args.from_json}: cannot read the per-photo figures ({error})") from None
    else:
        photos = measure(args.model, args.data, args.labels)
        if args.json:
            args.json.write_text(json.dumps(photos))
    print(report(photos))
    return 0


if __name__ == "__main__":
    sys.exit(main())

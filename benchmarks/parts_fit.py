"""Does training on the car-parts photos keep their hand-labelled mirrors? (the model card's sessions 35-39)

For each model: on the first ``--photos`` car-parts *training* photos (by name) whose part labels hold a
mirror, as a training mix splits them (``--mix``, split as the model was), the share of labelled part
pixels its single pass keeps at the working size (eval mode, float32; part maps resized to the working size,
nearest), all parts and mirrors apart, pooled over the photos; and the training objective on the same
photos, unaugmented (``core.training.train.training_objective`` with ``--recipe``'s loss weights). A
model that fits these labels better while keeping fewer mirrors trades one for the other.

    MASKINGNET_DATA=../shared/data .venv/bin/python benchmarks/parts_fit.py --model default \\
        --model RUN/last.safetensors [--photos 150] [--json FILE]

Needs the fused car-parts training labels of ``scripts/make_outdoor_labels.sh`` (``$MASKINGNET_LABELS``).
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
import torch  # noqa: E402

from core.io.imageio import read_gray  # noqa: E402
from core.models.checkpoint import load_model  # noqa: E402
from core.models.device import select_device  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402
from core.training.data import cache_samples  # noqa: E402
from core.training.evaluate_parts import read_part_names  # noqa: E402
from core.training.recipes import read_recipe  # noqa: E402
from core.training.train import TrainConfig, predict_cached, training_objective  # noqa: E402
from core.training.training_mix import mix_samples, read_mix  # noqa: E402

MIX = ROOT / "resources" / "recipes" / "outdoor-mix-car-parts-only.json"
RECIPE = ROOT / "resources" / "recipes" / "outdoor-512-polish.json"


def mirror_parts(names: dict[int, str]) -> list[int]:
    """The part numbers whose names hold "mirror"."""
    return [k for k, name in names.items() if "mirror" in name]


def kept_shares(probabilities: list[np.ndarray], part_maps: list[np.ndarray], names: dict[int, str]) -> dict[str, float]:
    """Pooled share of labelled pixels with probability >= 0.5: ``all`` parts and ``mirrors`` (parts
    named with "mirror"). ``probabilities``: (S, S) in [0, 1]; ``part_maps``: (S, S) part numbers."""
    mirrors = mirror_parts(names)
    kept = {"all": [0, 0], "mirrors": [0, 0]}
    for probability, parts in zip(probabilities, part_maps, strict=True):
        car = probability >= 0.5
        for key, where in (("all", parts > 0), ("mirrors", np.isin(parts, mirrors))):
            kept[key][0] += int((car & where).sum())
            kept[key][1] += int(where.sum())
    return {key: k / n if n else float("nan") for key, (k, n) in kept.items()}


def first_with_mirrors(samples: list, parts_dir: Path, names: dict[int, str], count: int) -> list:
    """The first ``count`` distinct samples (by photo name) whose part map in ``parts_dir`` holds a mirror."""
    mirrors = mirror_parts(names)
    chosen = []
    for sample in sorted({s.image: s for s in samples}.values(), key=lambda s: s.image.stem):
        path = parts_dir / f"{sample.image.stem}.png"
        if path.is_file() and np.isin(read_gray(path), mirrors).any():
            chosen.append(sample)
            if len(chosen) == count:
                break
    return chosen


def fit_figures(spec: str, data: Path, mix: Path, recipe: Path, photos: int) -> dict:
    """One model's figures (see the module docstring)."""
    model, config = load_model(resolve_model(spec))
    device = select_device("auto")
    model = model.to(device).to(memory_format=torch.channels_last)
    dtype = None  # float32 on every machine, so figures compare across machines (the card's were float32)
    train, _, _ = mix_samples(read_mix(mix), start_info=config.info)
    parts_dir = data / "car-parts" / "training" / "parts"
    names = read_part_names(data / "car-parts" / "parts.json")
    chosen = first_with_mirrors(train, parts_dir, names, photos)
    if not chosen:
        raise SystemExit(f"{parts_dir}: no training photos with mirror labels among the mix's")
    cached = cache_samples(chosen, config.preprocess)
    size = config.preprocess.size
    part_maps = [cv2.resize(read_gray(parts_dir / f"{s.image.stem}.png"), (size, size), interpolation=cv2.INTER_NEAREST)
                 for s in cached.samples]
    probabilities = list(predict_cached(model, cached, config.preprocess, device, dtype))
    loss_config = TrainConfig(**{**read_recipe(recipe), "size": size})
    return {"photos": len(cached), **kept_shares(probabilities, part_maps, names),
            "objective": training_objective(model, cached, loss_config, config.preprocess, device, dtype)}


def main() -> int:
    from core.training.training_mix import labels_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="model file, run folder or name (repeatable)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--mix", type=Path, default=MIX, help="the training mix whose car-parts photos are scored")
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="the recipe whose loss weights the objective uses")
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not (labels_folder() / "car-parts-train" / "labels" / "masks").is_dir():
        raise SystemExit(f"{labels_folder()}: no car-parts training labels (run scripts/make_outdoor_labels.sh)")
    torch.set_num_threads(2)
    results = {}
    for spec in args.model:
        results[spec] = fit_figures(spec, args.data, args.mix, args.recipe, args.photos)
        figures = results[spec]
        print(f"{spec}: {figures['photos']} photos; parts kept {figures['all']:.4f}, mirrors {figures['mirrors']:.4f}, "
              f"objective {figures['objective']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

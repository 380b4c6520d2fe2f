"""Does fine-tuning on a few corrected photos of a new kind help on other photos of that kind?

Builds a reproducible new kind of photos by pasting Carvana cars (with their masks) onto
procedural backgrounds (gradients, textures, bricks, clutter, outdoor scenes; real photos too
with --photos DIR) under one camera look, then:

1. picks cars the starting model never trained on (its training split: by car, 20 %, seed 0),
2. simulates the user's corrections on N fine-tuning photos (the starting model's mask vs the
   true mask: the changed pixels weight the loss, as in the app),
3. fine-tunes with the same engine as the app's dialog (core.training.finetune), timing it,
4. measures Dice on held-out cars of the new kind (and on their original studio photos)
   before and after.

    nice -n 10 .venv/bin/python benchmarks/bench_finetune.py [--model MODEL] [--lr 5e-4] [--no-weight]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from core.io.imageio import encode_png, read_mask  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402
from core.training.composite import BACKGROUND_KINDS, CompositeRecipe, build_composite_set, find_photos, nice_kinds  # noqa: E402
from core.training.data import Sample, find_samples, split_by_group  # noqa: E402
from core.training.finetune import FinetuneSettings, evaluate_model, finetune, plan_split  # noqa: E402

ANGLES = ("01", "03", "05", "07", "09", "11", "13", "15")
DEFAULT_KINDS = "gradient,texture,bricks,clutter,scene"


def simulate_corrections(model: Path, samples: list[Sample], out_dir: Path, device: str) -> list[Sample]:
    """Weight maps where the starting model's mask differs from the truth (what the user paints)."""
    from core.io.atomic import write_bytes_atomic
    from core.io.imageio import read_photo
    from core.masking.inference import Segmenter

    out_dir.mkdir(parents=True, exist_ok=True)
    segmenter = Segmenter.load(model, device=device)
    corrected = []
    for sample in samples:
        prediction = segmenter.predict(read_photo(sample.image).rgb)
        changed = np.not_equal(prediction.mask, read_mask(sample.mask)).astype(np.uint8) * 255
        weight = out_dir / f"{sample.name}_changed.png"
        write_bytes_atomic(weight, encode_png(changed))
        corrected.append(Sample(image=sample.image, mask=sample.mask, group=sample.group, weight=weight))
    return corrected


@dataclass
class NewKind:
    """The benchmark's photos: a new kind to fine-tune on (``train_set``), other cars of it to test
    on (``test_set``) and those cars' studio originals (``test_source``)."""

    train_set: list[Sample]
    test_set: list[Sample]
    test_source: list[Sample]
    kinds: tuple[str, ...]  # the backgrounds drawn


def make_new_kind(data: Path, work: Path, *, seed: int = 0, train_photos: int = 16, test_cars: int = 20,
                  test_angles: int = 4, kinds: str = DEFAULT_KINDS, photos: Path | None = None) -> NewKind:
    """Paste Carvana cars the default recipe holds out (by car, 20 %, seed 0) onto backgrounds of one
    look, into ``work``: one photo each of ``train_photos`` cars, ``test_angles`` photos each of
    ``test_cars`` other cars. Seeded. ``ValueError`` when there are too few such cars."""
    samples, _ = find_samples(data / "images", data / "masks")
    _, unseen = split_by_group(samples, 0.2, seed=0)  # the cars the default recipe holds out
    by_car: dict[str, list[Sample]] = {}
    for sample in unseen:
        by_car.setdefault(sample.group, []).append(sample)
    cars = sorted(by_car)
    random.Random(seed).shuffle(cars)
    if len(cars) < train_photos + test_cars:
        raise ValueError(f"only {len(cars)} unseen cars; lower --train-photos/--test-cars")
    rng = random.Random(seed + 1)
    train_source = [rng.choice(by_car[car]) for car in cars[:train_photos]]
    angles = ANGLES[:: max(1, len(ANGLES) // test_angles)][:test_angles]
    test_source = [s for car in cars[train_photos : train_photos + test_cars]
                   for s in by_car[car] if s.name[-2:] in angles]
    chosen = nice_kinds(kinds)
    backgrounds = find_photos(photos) if photos else []
    train_set = build_composite_set(train_source, work / "finetune",
                                    CompositeRecipe(kinds=chosen, seed=seed + 100, kind_seed=seed, photos=backgrounds))
    test_set = build_composite_set(test_source, work / "test",
                                   CompositeRecipe(kinds=chosen, seed=seed + 200, kind_seed=seed, photos=backgrounds))
    return NewKind(train_set, test_set, test_source, tuple(chosen))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PROJECT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--model", default=None, help="starting model (default: the shipped 'default')")
    parser.add_argument("--train-photos", type=int, default=16, help="photos of the new kind to fine-tune on (1 per car)")
    parser.add_argument("--test-cars", type=int, default=20)
    parser.add_argument("--test-angles", type=int, default=4, help="photos per test car")
    parser.add_argument("--kinds", default=DEFAULT_KINDS,
                        help=f"backgrounds, from {', '.join(BACKGROUND_KINDS)}")
    parser.add_argument("--photos", type=Path, help="a folder of real photos without cars to use as backgrounds too")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=None, help="working size (default: the model's)")
    parser.add_argument("--no-weight", action="store_true", help="do not weight the corrected pixels")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="folder for the generated photos and the run (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    if not (args.data / "images").is_dir():
        print(f"the Carvana data is not at {args.data}; pass --data", file=sys.stderr)
        return 2
    model_spec = args.model or "default"
    model = resolve_model(model_spec)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    import torch

    print(f"starting model: {model} | device {args.device}, {torch.get_num_threads()} threads | work folder {work}")

    started = time.monotonic()
    try:
        new_kind = make_new_kind(args.data, work, seed=args.seed, train_photos=args.train_photos,
                                 test_cars=args.test_cars, test_angles=args.test_angles, kinds=args.kinds,
                                 photos=args.photos)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    train_set, test_set, test_source = new_kind.train_set, new_kind.test_set, new_kind.test_source
    print(f"new kind: {len(train_set)} fine-tuning photos of {len(train_set)} cars, {len(test_set)} test photos of "
          f"{args.test_cars} other cars; backgrounds {', '.join(new_kind.kinds)}{' + photos' if args.photos else ''} "
          f"({time.monotonic() - started:.1f} s)")

    started = time.monotonic()
    before_new = evaluate_model(model, test_set, args.device)
    before_studio = evaluate_model(model, test_source, args.device)
    eval_seconds = time.monotonic() - started
    corrected = simulate_corrections(model, train_set, work / "corrections", args.device)

    settings = FinetuneSettings(name="bench", base_model=str(model), epochs=args.epochs, lr=args.lr, size=args.size,
                                batch_size=args.batch_size, device=args.device, weight_corrections=not args.no_weight,
                                seed=args.seed)
    plan = plan_split(corrected, settings.val_fraction, seed=settings.seed)
    print(f"fine-tuning on {len(plan.train)} photos, validating on {len(plan.val)} ({plan.note}); "
          f"{args.epochs} epochs, lr {args.lr}, batch {args.batch_size}, corrected pixels weighted: {not args.no_weight}")
    run_dir = work / "run"
    result = None
    started = time.monotonic()
    for event in finetune(settings, plan, run_dir):
        if event.kind == "train" and event.train is not None and event.train.kind == "epoch":
            train_event = event.train
            val = f"{train_event.val_dice:.4f}" if train_event.val_dice is not None else "n/a"
            print(f"  epoch {train_event.epoch}/{train_event.epochs}: loss {train_event.loss:.4f}, validation Dice {val}, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
        elif event.kind in ("baseline", "evaluated"):
            print(f"  {event.message}", flush=True)
        elif event.kind == "done":
            result = event.result
    finetune_seconds = time.monotonic() - started
    assert result is not None
    after_new = evaluate_model(result.best_path, test_set, args.device)
    after_studio = evaluate_model(result.best_path, test_source, args.device)

    def stats(scores: list[float]) -> str:
        return f"{np.mean(scores):.4f} (worst {np.min(scores):.4f})"

    figures = {
        "model": str(model), "device": args.device, "threads": torch.get_num_threads(),
        "train_photos": len(plan.train), "val_photos": len(plan.val), "test_photos": len(test_set),
        "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "weighted": not args.no_weight,
        "kinds": list(new_kind.kinds), "seed": args.seed,
        "dice_new_kind_before": float(np.mean(before_new)), "dice_new_kind_after": float(np.mean(after_new)),
        "dice_studio_before": float(np.mean(before_studio)), "dice_studio_after": float(np.mean(after_studio)),
        "finetune_seconds": round(finetune_seconds, 1), "eval_seconds_per_set": round(eval_seconds / 2, 1),
        "best_epoch": result.best_epoch,
    }
    print()
    print(f"held-out photos of the new kind ({len(test_set)}): Dice {stats(before_new)} -> {stats(after_new)}")
    print(f"the same cars in the studio     ({len(test_source)}): Dice {stats(before_studio)} -> {stats(after_studio)}")
    print(f"fine-tuning took {finetune_seconds:.0f} s on {result.device} (incl. validation; "
          f"kept epoch {result.best_epoch})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

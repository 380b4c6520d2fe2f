"""Which epoch's weights should a fine-tune keep? Scores rules for picking them on photos the run never saw.

The app keeps the epoch with the best validation Dice, measured on the few photos held out of the
user's corrections (3 in ``bench_finetune.py``'s setup), so the pick is noisy. Per seed this runs
``bench_finetune.py``'s setup (a new kind of photos, simulated corrections, the app's engine and
preset), keeps every epoch's weights, and scores the weights each rule (``RULES``) picks on the 80
test photos of the new kind and on the same cars' studio photos. Prints a row per seed and the mean
and worst seed per rule.

    nice -n 10 .venv/bin/python benchmarks/bench_finetune_epochs.py --model default --seed 0 --seed 1 [...]

About 6.5 minutes a seed on a 2-core CPU. Each rule's weights are scored once; a rule that picks
the same epoch as another reuses its figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.bench_finetune import make_new_kind, simulate_corrections  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402
from core.training.averaging import save_average  # noqa: E402
from core.training.finetune import FinetuneSettings, evaluate_model, finetune, kept_epoch, plan_split  # noqa: E402

TOLERANCE = 0.005  # of validation Dice, for the "latest within" rule


def best(val: dict[int, float]) -> list[int]:
    """The epoch the app keeps (``finetune.kept_epoch``: the first with the best validation Dice)."""
    return [kept_epoch([{"epoch": epoch, "val_dice": val[epoch]} for epoch in sorted(val)])]


def last(val: dict[int, float]) -> list[int]:
    return [max(val)]


def second_half(val: dict[int, float]) -> list[int]:
    """The epochs after the learning rate halves (``finetune.train_config``: at half the epochs)."""
    epochs = max(val)
    return [epoch for epoch in sorted(val) if epoch > (epochs + 1) // 2]


def best_of_second_half(val: dict[int, float]) -> list[int]:
    return best({epoch: val[epoch] for epoch in second_half(val)})


def latest_within_tolerance(val: dict[int, float]) -> list[int]:
    top = max(val.values())
    return [max(epoch for epoch, dice in val.items() if dice >= top - TOLERANCE)]


def average_of_last_six(val: dict[int, float]) -> list[int]:
    return sorted(val)[-6:]


# name -> the epochs whose weights it keeps (one epoch: its weights; several: their average)
RULES: dict[str, Callable[[dict[int, float]], list[int]]] = {
    "best validation epoch (the app's)": best,
    "last epoch": last,
    "best of the second half": best_of_second_half,
    f"latest within {TOLERANCE} of the best": latest_within_tolerance,
    "average of the last 6 epochs": average_of_last_six,
    "average of the second half": second_half,
}


def run_seed(model: Path, data: Path, work: Path, seed: int, epochs: int, device: str) -> dict:
    """One seed: fine-tune, keep every epoch, score each rule's weights. Returns the figures."""
    new_kind = make_new_kind(data, work, seed=seed)
    corrected = simulate_corrections(model, new_kind.train_set, work / "corrections", device)
    settings = FinetuneSettings(name="epochs", base_model=str(model), epochs=epochs, device=device, seed=seed)
    plan = plan_split(corrected, settings.val_fraction, seed=seed)
    if not plan.val:
        raise ValueError("no validation photos: the rules need some")
    kept, val = work / "epochs", {}
    kept.mkdir(parents=True, exist_ok=True)
    for event in finetune(settings, plan, work / "run"):
        if event.kind == "train" and event.train is not None and event.train.kind == "epoch":
            shutil.copy(work / "run" / "last.safetensors", kept / f"epoch{event.train.epoch:03d}.safetensors")
            val[event.train.epoch] = event.train.val_dice
            print(f"  seed {seed}, epoch {event.train.epoch}: validation Dice {event.train.val_dice:.4f}", flush=True)

    def score(path: Path) -> dict[str, float]:
        return {"new_kind": float(np.mean(evaluate_model(path, new_kind.test_set, device))),
                "studio": float(np.mean(evaluate_model(path, new_kind.test_source, device)))}

    figures: dict = {"seed": seed, "validation": val, "before": score(model), "rules": {}}
    scored: dict[tuple[int, ...], dict[str, float]] = {}
    for name, rule in RULES.items():
        picked = tuple(rule(val))
        if picked not in scored:
            paths = [kept / f"epoch{epoch:03d}.safetensors" for epoch in picked]
            if len(paths) > 1:
                save_average(work / "average.safetensors", paths)
                paths = [work / "average.safetensors"]
            scored[picked] = score(paths[0])
        figures["rules"][name] = {"epochs": list(picked), **scored[picked]}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PROJECT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--model", default="default", help="starting model (default: the shipped one)")
    parser.add_argument("--seed", type=int, action="append", help="repeatable (default: 0)")
    parser.add_argument("--epochs", type=int, default=24, help="the CPU preset's 24 by default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not (args.data / "images").is_dir():
        print(f"the Carvana data is not at {args.data}; pass --data", file=sys.stderr)
        return 2
    model = resolve_model(args.model)
    rows = []
    for seed in args.seed or [0]:
        with tempfile.TemporaryDirectory(prefix=f"bench-epochs-{seed}-") as work:
            try:
                rows.append(run_seed(model, args.data, Path(work), seed, args.epochs, args.device))
            except ValueError as error:
                print(f"seed {seed}: {error}", file=sys.stderr)
                return 2
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{len(rows)} seed(s), starting model {model}; before: new kind "
          f"{np.mean([r['before']['new_kind'] for r in rows]):.4f}, studio {np.mean([r['before']['studio'] for r in rows]):.4f}")
    print("| rule | new kind after: mean (worst seed) | studio after: mean | epochs kept per seed |")
    print("|---|---|---|---|")
    for name in RULES:
        new = [r["rules"][name]["new_kind"] for r in rows]
        studio = [r["rules"][name]["studio"] for r in rows]
        kept = ", ".join("+".join(map(str, r["rules"][name]["epochs"])) if len(r["rules"][name]["epochs"]) == 1
                         else f"{r['rules'][name]['epochs'][0]}-{r['rules'][name]['epochs'][-1]}" for r in rows)
        print(f"| {name} | {np.mean(new):.4f} ({min(new):.4f}) | {np.mean(studio):.4f} | {kept} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How much of a model's studio gap its last layers alone can close (model card, session 48).

Retrains the last ``--stages`` decoder stages and the classifier of a model on photos with exact masks
(the model's own ``val_groups`` left out), everything else frozen, batch norms keeping the model's
statistics. A share ``--composite`` of the photos show the car pasted on a procedural background
(``core.training.composite``: gradient or texture; the shipped model handles those, unlike its clutter
and scenes). With ``--parts DIR`` (car-parts training: ``DIR/images``, ``DIR/parts``; paired and read as
``maskingnet eval --parts`` does) a share ``--parts-share`` of the photos are real ones whose
hand-labelled part pixels are taught as car and the rest left unknown (so the street keeps its car
while the studio's outline is pulled in). Cosine learning rate from
``--lr``, Adam, the training loss of ``maskingnet train``.
Writes ``OUT/head.safetensors`` and ``OUT/progress.json`` every ``--every`` steps (a second run
with the same OUT and ``--stages`` resumes; Adam's moments start afresh) and ``OUT/model.safetensors``
(the whole model) at the end. A probe, not a training stage: judge its model with
``eval_outline_errors.py`` and ``maskingnet eval --parts``.

    .venv/bin/python benchmarks/probe_head_retrain.py --model default --out runs/head
        [--images ../shared/data/carvana512/images --masks ../shared/data/carvana512/masks]
        [--stages 2] [--steps 600] [--batch 4] [--lr 2e-4] [--composite 0.3] [--every 50] [--seed 48]
        [--parts ../shared/data/car-parts/training --parts-share 0.3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core.errors import MaskingNetError  # noqa: E402
from core.io.atomic import write_bytes_atomic  # noqa: E402
from core.io.imageio import read_mask, read_rgb  # noqa: E402
from core.io.records import RecordError, read_json  # noqa: E402
from core.models.checkpoint import ModelConfig, load_model, read_safetensors, save_model, save_tensors  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402
from core.training.composite import composite, make_background  # noqa: E402
from core.training.data import Sample, find_samples  # noqa: E402
from core.training.evaluate_parts import part_label_pairs, read_part_labels  # noqa: E402
from core.training.train import segmentation_loss  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BACKGROUNDS = ("gradient", "texture")
HEAD, PROGRESS, MODEL = "head.safetensors", "progress.json", "model.safetensors"


def head_prefixes(model: nn.Module, stages: int) -> tuple[str, ...]:
    """Names' prefixes of the last ``stages`` decoder stages and the classifier."""
    count = len(model.decoder)
    if not 1 <= stages <= count:
        raise ValueError(f"--stages must be 1 to {count}, got {stages}")
    return tuple(f"decoder.{index}." for index in range(count - stages, count)) + ("classifier.",)


def freeze_all_but(model: nn.Module, prefixes: Sequence[str]) -> list[nn.Parameter]:
    """Parameters whose names start with one of ``prefixes`` train; the rest are frozen, so autograd
    records nothing before the first trained layer. Returns the trained ones."""
    trained = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(tuple(prefixes)))
        if parameter.requires_grad:
            trained.append(parameter)
    return trained


def draw_batch(samples: Sequence[Sample], config: ModelConfig, count: int, pick: random.Random,
               rng: np.random.Generator, composite_share: float, parts: Sequence[tuple[Path, Path]] = (),
               parts_share: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` photos, some pasted on a procedural background, some (``parts_share``) car-parts photos,
    half mirrored: the network's input, the share of car per working pixel and each pixel's weight
    (0 = unknown: the unlabelled pixels of a car-parts photo)."""
    images, targets, weights = [], [], []
    for _ in range(count):
        from_parts = bool(parts) and rng.random() < parts_share
        if from_parts:
            image, labels = parts[int(rng.integers(len(parts)))]
            rgb = read_rgb(image)
            mask = read_part_labels(labels, rgb.shape) > 0  # any labelled part (1-18) is car
            known = mask
        else:
            sample = pick.choice(samples)
            rgb, mask = read_rgb(sample.image), read_mask(sample.mask)
            known = np.ones_like(mask)
        if not from_parts and rng.random() < composite_share:  # a Carvana car pasted elsewhere
            kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
            rgb = composite(rgb, mask, make_background(kind, rgb.shape[0], rgb.shape[1], rng))
        if rng.random() < 0.5:
            rgb, mask, known = rgb[:, ::-1], mask[:, ::-1], known[:, ::-1]
        images.append(config.preprocess.resize(np.ascontiguousarray(rgb)))
        targets.append(config.preprocess.resize_mask(np.ascontiguousarray(mask)))
        weights.append((config.preprocess.resize_mask(np.ascontiguousarray(known)) >= 0.999).astype(np.float32))
    return (config.preprocess.to_tensor(images), torch.from_numpy(np.stack(targets)),
            torch.from_numpy(np.stack(weights)))


def resume(model: nn.Module, out: Path, prefixes: Sequence[str]) -> int:
    """Load a run's saved head into ``model``; returns its step. ``ValueError`` (one line naming the file)
    for a progress record or head file that is not this probe's, with these ``prefixes``."""
    progress_file, head_file = out / PROGRESS, out / HEAD
    try:
        progress = read_json(progress_file)
        step, saved = progress["step"], progress["prefixes"]
    except (RecordError, TypeError, KeyError) as error:
        raise ValueError(f"{progress_file}: not a progress record of this probe ({error})") from None
    if not isinstance(step, int) or step < 0 or saved != list(prefixes):
        raise ValueError(f"{progress_file}: step {step!r} of {saved!r}; this run trains {list(prefixes)}: "
                         f"give another --out or the same --stages")
    head = read_safetensors(head_file)[0]
    expected = {name for name in model.state_dict() if name.startswith(tuple(prefixes))}
    if set(head) != expected:
        raise ValueError(f"{head_file}: holds other layers than {', '.join(prefixes)}")
    model.load_state_dict(head, strict=False)
    return step


def retrain_head(args: argparse.Namespace) -> Path:
    """Run (or resume) the probe; returns the written model file."""
    model, config = load_model(resolve_model(args.model))
    model.eval()  # batch norms keep the model's statistics, trained or not
    held_out = set(config.info.get("val_groups", []))
    samples = [s for s in find_samples(args.images, args.masks)[0] if s.group not in held_out]
    if not samples:
        raise ValueError(f"{args.images}: no photos with masks outside the model's held-out cars")
    parts = part_label_pairs(args.parts / "images", args.parts / "parts") if args.parts else []
    prefixes = head_prefixes(model, args.stages)
    trained = freeze_all_but(model, prefixes)
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    args.out.mkdir(parents=True, exist_ok=True)
    step = 0
    if (args.out / HEAD).exists() and (args.out / PROGRESS).exists():
        step = resume(model, args.out, prefixes)
        print(f"resumed at step {step}", flush=True)
    print(f"{len(samples)} photos; training {sum(p.numel() for p in trained)} parameters of {', '.join(prefixes)}",
          flush=True)
    pick, rng = random.Random(args.seed * 1000 + step), np.random.default_rng([args.seed, step])
    losses: list[float] = []
    while step < args.steps:
        x, target, weight = draw_batch(samples, config, args.batch, pick, rng, args.composite, parts, args.parts_share)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * step / args.steps))
        loss = segmentation_loss(model(x), target, weight, 0.5)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        if step % 10 == 0:
            print(f"step {step} loss {np.mean(losses[-10:]):.5f}", flush=True)
        if step % args.every == 0 or step == args.steps:
            head = {name: tensor for name, tensor in model.state_dict().items() if name.startswith(prefixes)}
            save_tensors(args.out / HEAD, head, {})
            write_bytes_atomic(args.out / PROGRESS, json.dumps(
                {"step": step, "loss": float(np.mean(losses[-args.every:])), "prefixes": list(prefixes)}).encode())
    config.info.update(name=f"{Path(str(args.model)).stem}-head{args.stages}",
                       head_retrain={"stages": args.stages, "steps": args.steps, "lr": args.lr,
                                     "composite": args.composite, "seed": args.seed,
                                     "parts_share": args.parts_share if parts else 0.0})
    save_model(args.out / MODEL, model, config)
    print(f"wrote {args.out / MODEL}", flush=True)
    return args.out / MODEL


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=Path, default=DATA / "carvana512" / "images")
    parser.add_argument("--masks", type=Path, default=DATA / "carvana512" / "masks")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--composite", type=float, default=0.3)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=48)
    parser.add_argument("--parts", type=Path, help="car-parts photos (images/, parts/): labelled pixels taught as car")
    parser.add_argument("--parts-share", type=float, default=0.3)
    args = parser.parse_args(argv)
    if min(args.steps, args.batch, args.every) < 1 or not 0 <= args.parts_share <= 1 or not 0 <= args.composite <= 1:
        parser.error("--steps, --batch and --every must be at least 1; --composite and --parts-share 0 to 1")
    if not args.images.is_dir() or not args.masks.is_dir():
        print(f"{args.images} or {args.masks}: no such folder", file=sys.stderr)
        return 1
    try:
        retrain_head(args)
    except (FileNotFoundError, ValueError, MaskingNetError) as error:  # one line naming the file or folder
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

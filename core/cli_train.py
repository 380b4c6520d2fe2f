"""``maskingnet train``: train or fine-tune from folders of photos and masks."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # torch loads only when a command runs, so --help stays instant
    from core.training.train import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=Path, help="folder of photos (needs --masks; or use --corrections)")
    parser.add_argument("--masks", type=Path, help="folder of masks")
    parser.add_argument("--mix", type=Path, help="JSON file of several data sets, each split and weighted on its own "
                        "(instead of --images/--masks; see core/training/training_mix.py)")
    parser.add_argument("-o", "--out", required=True, type=Path, help="run folder (checkpoints; resumes if present)")
    parser.add_argument("--recipe", type=Path,
                        help='JSON file of TrainConfig fields; {"extends": "other.json", ...} changes another recipe '
                             "of its folder (flags given override it)")
    parser.add_argument("--arch", help="network: unet, segnet, arc1, arc2, arc3, maskingnet")
    parser.add_argument("--width", type=int, help="channels of the first stage (the study: 64)")
    parser.add_argument("--size", type=int, help="working size in pixels, a multiple of 32")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--lr-halve-every", type=int)
    parser.add_argument("--val-fraction", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto, cuda, mps or cpu")
    parser.add_argument("--init", help="checkpoint or model name to fine-tune from")
    parser.add_argument("--widen-to", type=int, metavar="WIDTH",
                        help="with --init: widen its network to WIDTH first, computing the same (more to learn with)")
    parser.add_argument("--widen-fresh", action="store_true",
                        help="with --widen-to: the added channels start random and only they train; the old "
                             "network's answers stay as they were until they do")
    parser.add_argument("--old-entries-lr", type=float, metavar="LR",
                        help="with --widen-fresh: the old network's weights train too, at this learning rate")
    parser.add_argument("--max-steps-per-epoch", type=int)
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--vgg-init", help="ImageNet VGG-16-BN weights for a new width-64 encoder: a local "
                        "vgg16_bn file (.pth or .safetensors), or 'torchvision' (its cache, else a download)")
    parser.add_argument("--corrections", action="store_true",
                        help="also train on the masks corrected in the app (their corrected pixels weigh more)")
    parser.add_argument("--correction-weight", type=float, help="extra loss weight of corrected pixels (0: none)")
    parser.add_argument("--save-as", metavar="NAME",
                        help="when training finishes, save the best weights as the model version NAME (not made "
                             "active), with a model card comparing it with --init on the validation photos")


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The recipe file's fields, then the flags given; raises ValueError for bad values."""
    from core.training.train import TrainConfig

    config = TrainConfig()
    recipe: dict = {}
    if args.recipe:
        from core.training.recipes import read_recipe

        recipe = read_recipe(args.recipe)
        config = replace(config, **recipe)
    overrides = {
        name: getattr(args, name)
        for name in ("arch", "width", "size", "epochs", "batch_size", "lr", "lr_halve_every", "val_fraction",
                     "seed", "device", "max_steps_per_epoch", "correction_weight", "vgg_init", "widen_to",
                     "old_entries_lr")
        if getattr(args, name) is not None
    }
    if args.init:
        from core.models.checkpoint import read_config
        from core.models.model_store import resolve_model

        init_path = resolve_model(args.init)
        overrides["init"] = str(init_path)
        if "size" not in overrides and "size" not in recipe:  # fine-tune at the size the model knows
            overrides["size"] = read_config(init_path).preprocess.size
    if args.no_augment:
        overrides["augment"] = False
    if args.widen_fresh:
        overrides["widen_fresh"] = True
    config = replace(config, **overrides)
    if config.size % 32 or config.size < 32:
        raise ValueError(f"--size {config.size} is not a positive multiple of 32")
    for name in ("width", "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}")
    from core.models.networks import MODEL_NAMES

    if config.arch not in MODEL_NAMES:
        raise ValueError(f"unknown --arch {config.arch!r}; valid names: {', '.join(MODEL_NAMES)}")
    if config.vgg_init and (config.arch == "unet" or config.width != 64 or config.init):
        raise ValueError("--vgg-init fits a new segnet, arc1-3 or maskingnet of --width 64 (not unet, not with --init)")
    if config.widen_to is not None and not config.init:
        raise ValueError("--widen-to widens the network of --init: give --init too")
    if config.widen_fresh and config.widen_to is None:
        raise ValueError("--widen-fresh says how --widen-to widens: give --widen-to too")
    if config.old_entries_lr is not None and not config.widen_fresh:
        raise ValueError("--old-entries-lr is the rate of the old entries of --widen-fresh: give --widen-fresh too")
    if config.old_entries_lr is not None and config.old_entries_lr < 0:
        raise ValueError(f"--old-entries-lr must be at least 0, got {config.old_entries_lr}")
    return config


def run(args: argparse.Namespace) -> int:
    from core.training.data import find_samples, split_by_group

    config = build_config(args)
    if args.save_as:
        from core.models.model_versions import check_name

        check_name(args.save_as)  # before hours of training, not after
    if args.mix is not None:
        if args.images is not None or args.masks is not None or args.corrections:
            raise ValueError("--mix names every data set: leave out --images, --masks and --corrections")
        from core.models.checkpoint import read_config
        from core.training.training_mix import mix_samples, read_mix

        # continuing a model: never train on what it held out, whatever the labels gained or lost since
        start_info = read_config(config.init).info if config.init else None
        train_samples, val_samples, notes = mix_samples(read_mix(args.mix), start_info=start_info)
        for note in notes:
            print(note, flush=True)
        return _train_and_save(args, config, train_samples, val_samples)
    if (args.images is None) != (args.masks is None) or (args.images is None and not args.corrections):
        raise ValueError("give --images and --masks (a folder of photos and one of masks), or --corrections, or both")
    samples, unmatched = find_samples(args.images, args.masks) if args.images is not None else ([], [])
    if unmatched:
        print(f"note: {len(unmatched)} photo(s) have no mask and are left out, e.g. {unmatched[0]}", file=sys.stderr)
    if args.corrections:
        from core.store.corrections import CorrectionStore
        from core.training.finetune import correction_items

        store = CorrectionStore()
        corrected = [item.sample for item in correction_items(store)]
        for problem in store.problems:  # damaged corrections are skipped, each named once
            print(f"note: {problem}", file=sys.stderr)
        print(f"{len(corrected)} photo(s) corrected in the app", flush=True)
        samples += corrected
    if not samples:
        raise ValueError(f"{args.images or 'the corrections'}: no photos with masks"
                         + (f" in {args.masks}" if args.masks else ""))
    train_samples, val_samples = split_by_group(samples, config.val_fraction, seed=config.seed)
    print(f"{len(train_samples)} training photos ({len({s.group for s in train_samples})} groups), "
          f"{len(val_samples)} validation photos ({len({s.group for s in val_samples})} groups)", flush=True)
    return _train_and_save(args, config, train_samples, val_samples)


def _train_and_save(args: argparse.Namespace, config: TrainConfig, train_samples: list, val_samples: list) -> int:
    from core.training.train import train

    finished = stopped = False
    with _stop_on_interrupt() as stop_requested:
        for event in train(config, train_samples, val_samples, args.out, should_stop=stop_requested):
            finished = finished or event.kind == "done"
            stopped = stopped or event.kind == "stopped"
            _print_event(event)
    if stopped:
        print(f"to resume, run the same command again (the run folder {args.out} keeps the state)", flush=True)
        return 130
    if args.save_as and finished:
        from core.training.finetune import version_from_run

        version = version_from_run(args.out, args.save_as, config, train_samples, val_samples, base_model=args.init)
        before, after = version.val_dice_before, version.val_dice_after
        figures = (f"; validation Dice {before:.4f} -> {after:.4f}" if before is not None and after is not None
                   else f"; validation Dice {after:.4f}" if after is not None else "")
        print(f"saved as the model version {version.name!r} ({version.folder}){figures}; "
              f"use it with --model {version.name} or from the app's Model menu", flush=True)
    return 0


def _print_event(event) -> None:
    if event.kind == "step":
        if event.message:
            print(event.message, flush=True)
        if event.step % 50 == 0 or event.step == event.steps_per_epoch:
            eta = f"{event.eta_s / 60:.0f} min left" if event.eta_s is not None else ""
            print(f"epoch {event.epoch}/{event.epochs} step {event.step}/{event.steps_per_epoch} "
                  f"loss {event.loss:.4f} lr {event.lr:.2e} {eta}", flush=True)
    elif event.kind == "epoch":
        dice_text = f"{event.val_dice:.5f}" if event.val_dice is not None else "n/a"
        by_source = (event.history[-1].get("val_dice_by_source") if event.history else None) or {}
        if by_source:
            dice_text += " (" + ", ".join(f"{name} {value:.5f}" for name, value in by_source.items()) + ")"
        print(f"epoch {event.epoch} done: loss {event.loss:.4f}, validation Dice {dice_text}, "
              f"{event.elapsed_s / 60:.1f} min", flush=True)
    else:
        print(event.message, flush=True)


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C asks training to stop after the current step (the state is saved);
    a second one interrupts at once. Yields the ``should_stop`` callable."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def on_interrupt(signum, frame) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        print("\nstopping after this step, saving the state (Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)

"""Ship a trained run as the default model: copy its best checkpoint into resources/models
and write the model card from figures measured here and now.

    .venv/bin/python scripts/ship_default_model.py RUN_DIR [RUN_DIR ...] [--data ../shared/data/carvana512]
        [--after-shipped] [--average RUN_DIR [RUN_DIR ...]] [--outline-expert RUN_DIR_OR_FILE]
        [--context-network RUN_DIR_OR_FILE [RUN_DIR_OR_FILE ...]] [--context-rule JSON]

Several run folders are the stages of one model, in order (each started from the one
before): the last one's best checkpoint ships, and the card lists every stage. With
``--after-shipped`` the runs continue the shipped model: its recorded stages come first (with no
run folder, the shipped model itself is the last stage). With ``--average``, what ships is the
average of the last stage's weights and those runs' best weights, equal shares
(``core.training.averaging``); each averaged run is listed as a stage of its own, with the stage
it started from.
A model trained on a mix (``train --mix``) also gets its figures per source
(``benchmarks/eval_sources.py``: outdoor labels, car-part recall). With ``--outline-expert`` the
shipped file also holds that checkpoint's network (the studio-only stage 4 in ``train_default.sh``) as
its studio outline expert (``core.models.outline_expert``); without it, re-measuring the shipped model
(``--after-shipped`` and no run folder) keeps the expert it holds. Every figure is measured with the
expert, and the studio Dice without it too. ``--context-network`` names the runs (in order, each started
from the one before) that trained the context network (``core.models.context_network``): the last one's
best weights ship in the same file under ``--context-rule`` (``ContextNetworkRule`` fields as JSON; its
defaults where left out), and the card lists those runs; re-measuring keeps the one it holds and its rule.

The card's hand-written part (everything below the line '<!-- notes -->') is kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.masking.inference import Segmenter  # noqa: E402
from core.models.checkpoint import load_model, load_networks, read_config, save_model  # noqa: E402
from core.models.context_network import ContextNetworkRule  # noqa: E402
from core.models.model_store import resolve_model, shipped_model_path  # noqa: E402
from core.models.networks import count_parameters  # noqa: E402
from core.models.outline_expert import OutlineExpertRule  # noqa: E402
from core.training.evaluate import evaluate_folder  # noqa: E402
from core.training.training_mix import SPLIT_SEED, labels_folder  # noqa: E402

NOTES_MARKER = "<!-- notes -->"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_per_image(segmenter: Segmenter, size: int = 512, runs: int = 20) -> float:
    """Median seconds to mask one size x size photo, end to end (preprocess, model, upsample)."""
    rgb = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    segmenter.predict(rgb)
    times = []
    for _ in range(runs):
        tick = time.perf_counter()
        segmenter.predict(rgb)
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def fixed_subset(val_groups: list[str]) -> list[str]:
    """16 validation photos, one per car, angles 01..16 in turn: the test's reproducibility check."""
    return [f"{car}_{index % 16 + 1:02d}" for index, car in enumerate(sorted(val_groups)[:16])]


TRAIN_SCRIPT = ROOT / "scripts" / "train_default.sh"


CONTEXT_RECIPE_PREFIX = "resources/recipes/context-"


def stage_recipes(script: Path = TRAIN_SCRIPT, context_network: bool = False) -> list[tuple[str, str | None]]:
    """(recipe, mix or None) of each training stage of ``scripts/train_default.sh``, in order: the main
    network's stages, or with ``context_network`` the context network's runs (recipes named ``context-*``)."""
    stages = []
    for command in script.read_text().replace("\\\n", " ").splitlines():
        if " train " in command and "--recipe" in command:
            words = command.split()
            recipe = words[words.index("--recipe") + 1]
            if recipe.startswith(CONTEXT_RECIPE_PREFIX) == context_network:
                mix = words[words.index("--mix") + 1] if "--mix" in words else None
                stages.append((recipe, mix))
    return stages


def recipe_files_words(stages: list[tuple[str, str | None]]) -> str:
    """The card's list of recipe files, each with its mix."""
    return ", ".join(f"`{recipe}`" + (f" (mix `{mix}`)" if mix else "") for recipe, mix in stages)


def display_path(path: Path) -> str:
    """The path relative to the project where it lies inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stage_lines(number: int, stage: dict) -> list[str]:
    """One training stage in the card: its recipe and its validation Dice per epoch."""
    recipe = {key: value for key, value in stage["train_config"].items() if key != "init"}
    start = stage.get("starts_from", number - 1)
    if not stage["train_config"].get("init"):
        origin = ", from scratch"
    else:
        origin = f", starting from stage {start}" if start else ", starting from another model"
    if stage.get("averaged"):
        origin += " (averaged into the shipped weights)"
    return [
        f"### Stage {number}: working size {recipe['size']}" + origin,
        "```json",
        json.dumps(recipe),
        "```",
        f"{stage.get('epochs_done')} epochs, {stage.get('train_seconds', 0) / 3600:.2f} h.",
        "",
        *history_table(stage.get("history", [])),
        "",
        *skipped_line(stage.get("history", [])),
    ]


def context_rule_argument(text: str) -> ContextNetworkRule:
    """``--context-rule``: a JSON object of ``ContextNetworkRule`` fields."""
    try:
        return ContextNetworkRule.from_dict(json.loads(text))
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(f"not a context network rule: {error}") from None


def context_margin_words(rule: ContextNetworkRule) -> str:
    """The card's words for the rule's ``region_margin`` (none for 0)."""
    unit = "logit" if rule.region_margin == 1 else "logits"
    return (f" that it calls background by at least {rule.region_margin:g} {unit} on average"
            if rule.region_margin else "")


def context_fill_words(rule: ContextNetworkRule) -> str:
    """The card's words for the rule's ``fill_region`` (none for 0)."""
    return (f", and filling the regions of at least {rule.fill_region:g} of the working area that the main network "
            "calls background, the context answer car and the car surrounds" if rule.fill_region else "")


def context_stage_lines(number: int, stage: dict) -> list[str]:
    """One training run of the context network in the card, as ``stage_lines`` writes a stage."""
    lines = stage_lines(number, stage)
    init = stage["train_config"].get("init")
    origin = "the shipped main network" if number == 1 else f"context network run {number - 1}"
    lines[0] = (f"### Context network, run {number}: working size {stage['train_config']['size']}, starting from "
                + (origin if init else "scratch") + (f" (`{stage['file']}`)" if stage.get("file") else ""))
    return lines


def history_table(history: list[dict]) -> list[str]:
    """Loss and validation Dice per epoch; per source too for a stage trained on a mix."""
    sources = sorted({name for h in history for name in h.get("val_dice_by_source", {})})
    if not sources:
        return ["| epoch | train loss | validation Dice (512x512) |", "|---:|---:|---:|",
                *[f"| {h['epoch']} | {h['loss']:.4f} | {h['val_dice']:.5f} |" for h in history]]
    header = "| epoch | train loss | mean of the sources | " + " | ".join(sources) + " |"
    rows = [f"| {h['epoch']} | {h['loss']:.4f} | {h['val_dice']:.5f} | "
            + " | ".join(f"{h.get('val_dice_by_source', {}).get(name, float('nan')):.5f}" for name in sources) + " |"
            for h in history]
    return [header, "|---:" * (3 + len(sources)) + "|", *rows]


def skipped_line(history: list[dict]) -> list[str]:
    """A sentence on the training steps skipped for non-finite gradients, where there were any."""
    skipped = history[-1].get("skipped_steps", 0) if history else 0
    if not skipped:
        return []
    return [f"{skipped} training steps were skipped because their loss or gradients were not finite "
            "(the weights were left unchanged on those steps; see the notes).", ""]


def source_lines(figures: dict) -> list[str]:
    """The card's lines for the figures per source (empty for a studio-only model)."""
    if not figures:
        return []

    def number(key: str) -> str:
        value = figures.get(key)
        return f"{value:.4f}" if isinstance(value, float) else "n/a (labels missing)"

    by_width = figures.get("car_parts_test_by_car_width") or {}
    width_line = ["  - by how wide the car stands in the photo: " + "; ".join(
        f"{name} of the width, {entry['dice']:.4f} ({entry['photos']} photos)" for name, entry in by_width.items())
    ] if by_width else []
    by_part = figures.get("car_parts_recall_by_part") or {}
    least_kept = sorted(by_part.items(), key=lambda item: item[1])[:4]
    parts_line = ["  - the parts kept least: " + ", ".join(f"{name} {kept:.4f}" for name, kept in least_kept)
                  ] if least_kept else []
    return [
        f"- Outdoor, car-parts test (100 real photos never trained on), Dice against the teacher labels over the "
        f"trusted pixels: **{number('car_parts_test_dice_vs_labels')}** "
        f"({figures.get('car_parts_test_labelled_photos', 0)} photos whose labels passed the filter)",
        *width_line,
        f"- Outdoor, car-parts test, share of the hand-labelled car-part pixels kept: {number('car_parts_recall')} "
        f"(wheels {number('wheels_recall')}, mirrors {number('mirrors_recall')})",
        *parts_line,
        f"- Outdoor, held-out stanford-cars photos, Dice against the teacher labels (trusted pixels): "
        f"{number('stanford_dice_vs_labels')} ({figures.get('stanford_photos', 0)} photos no stage trained on)",
        f"- Small in a wide outdoor frame (held-out Carvana cars pasted into 854x480 frames, exact masks; "
        f"`tools/outdoor_labels/small_cars.py`): {number('small_cars_dice')} ({figures.get('small_cars_photos', 0)} photos, set "
        f"{figures.get('small_cars_set', 'unknown')})",
        "  (rerun: `.venv/bin/python benchmarks/eval_sources.py --model default`)",
    ]


def stage_record(info: dict, **extra) -> dict:
    """What the card and the shipped file keep of one stage's checkpoint ``info``."""
    return {"train_config": info["train_config"], "history": info.get("history", []),
            "train_seconds": info.get("train_seconds", 0.0), "epochs_done": info.get("epochs_done"), **extra}


def averaged_stages(runs: list[Path], first_number: int, stage_runs: list[Path]) -> list[dict]:
    """The stage records of the averaged ``runs``: each with the number of the stage (among
    ``stage_runs``, numbered from ``first_number``) whose weights it started from, 0 if none."""
    numbers = {run.resolve(): first_number + index for index, run in enumerate(stage_runs)}
    stages = []
    for run in runs:
        info = read_config(run / "best.safetensors").info
        init = info["train_config"].get("init")
        start = numbers.get(Path(init).resolve().parent, 0) if init else 0
        if init and not start and Path(init).is_file():  # a shipped model's file: its last stage
            start = len(read_config(init).info.get("stages", []))
        stages.append(stage_record(info, starts_from=start, averaged=True))
    return stages


def recipe_sentence(stages: list[dict], average_shipped: bool = False) -> str:
    """How the stages follow each other, and which weights ship (``average_shipped``: the last stage
    averaged with the model shipped before it)."""
    averaged = [number for number, stage in enumerate(stages, 1) if stage.get("averaged")]
    if not averaged:
        return f"{len(stages)} stage(s), each starting from the one before" + (
            "; the shipped weights are the average of the last stage and the model shipped before it, equal shares"
            if average_shipped else "")
    last_chained = averaged[0] - 1
    runs = ", ".join(str(number) for number in averaged)
    mean = f"the average of stage {last_chained} and stages {runs}, equal shares (`maskingnet average`)"
    chain = (f"{len(stages)} stages: stages 2-{last_chained} each start from the one before; stages {runs} are "
             f"runs from an earlier stage (named below)")
    later = range(averaged[-1] + 1, len(stages) + 1)
    if not later:
        return f"{chain}, and the shipped weights are {mean}"
    return (f"{chain}; stage {later[0]} starts from {mean}, each later stage from the one before" + (
        f"; the shipped weights are the average of stage {len(stages)} and that earlier average, equal shares"
        if average_shipped else f"; stage {len(stages)} ships"))


def expert_origin(expert_info: dict, shipped_info: dict, path: Path) -> str:
    """Where the outline expert comes from: "stage N" when its recorded stages are the shipped model's
    first N (the network the later stages started from), else its file."""
    own = [stage.get("train_seconds") for stage in expert_info.get("stages", [])]
    shipped = [stage.get("train_seconds") for stage in shipped_info.get("stages", [])]
    if own and shipped[:len(own)] == own:
        return f"stage {len(own)}"
    return display_path(path)


def averaged_with_previous(shipped_info: dict) -> bool:
    """Whether a shipped model's weights are its last stage averaged with the model shipped before it
    (``--average-shipped``): as its record says, or for a record without it, as its ``averaged_from`` does."""
    if "average_shipped" in shipped_info:
        return bool(shipped_info["average_shipped"])
    return any(entry.get("file") == shipped_model_path().name for entry in shipped_info.get("averaged_from", []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=Path, nargs="*",
                        help="training run folders, one per stage in order (the last one's best weights ship, or --checkpoint)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "carvana512")
    parser.add_argument("--labels", type=Path, default=labels_folder(),
                        help="the outdoor labels (scripts/make_outdoor_labels.sh), for a model trained on a mix")
    parser.add_argument("--out", type=Path, default=shipped_model_path())
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which weights of the last run ship (best: the best mean validation Dice)")
    parser.add_argument("--after-shipped", action="store_true",
                        help="the runs continue the shipped model: list its recorded stages first")
    parser.add_argument("--average-shipped", action="store_true",
                        help="ship the average of the last stage and the model shipped now (equal shares)")
    parser.add_argument("--average", type=Path, nargs="+", default=[], metavar="RUN_DIR",
                        help="ship the average of the last stage and these runs' best weights (equal shares)")
    parser.add_argument("--outline-expert", metavar="RUN_DIR_OR_FILE",
                        help="ship this checkpoint's network as the studio outline expert (the studio-only stage 4)")
    parser.add_argument("--context-network", metavar="RUN_DIR_OR_FILE", nargs="+", default=[],
                        help="ship the last of these runs' network as the context network (the runs in order)")
    parser.add_argument("--context-rule", metavar="JSON", type=context_rule_argument, default=ContextNetworkRule(),
                        help='the context network\'s rule, e.g. \'{"own_share": 0.5, "region_margin": 1.0}\'')
    args = parser.parse_args()
    if not args.runs and not args.after_shipped:
        parser.error("give the run folders of the stages, or --after-shipped")
    if args.average_shipped and (args.average or not args.runs):
        parser.error("--average-shipped needs run folders and no --average")

    shipped_info = read_config(shipped_model_path()).info if args.after_shipped else {}
    # no run folder: the shipped weights are measured again as they are, averaged or not
    average_shipped = args.average_shipped or (not args.runs and averaged_with_previous(shipped_info))
    earlier = [dict(stage) for stage in shipped_info.get("stages", [])]
    if args.runs:
        base = args.runs[-1] / f"{args.checkpoint}.safetensors"
        stages = earlier + [stage_record(read_config(run / "best.safetensors").info) for run in args.runs[:-1]]
        stages.append(stage_record(read_config(base).info))
    else:  # the shipped model is the last stage (its record already lists it)
        base, stages = shipped_model_path(), earlier
    averaged_with = [run / "best.safetensors" for run in args.average] if args.average else (
        [shipped_model_path()] if args.average_shipped else [])
    remeasured = not args.runs and not averaged_with  # the shipped model measured again keeps its helper networks
    kept_expert = kept_context = None
    if averaged_with:
        from core.training.averaging import average_checkpoints

        model, config = average_checkpoints([base, *averaged_with])
    elif remeasured:
        model, kept_expert, kept_context, config = load_networks(base)
    else:
        model, config = load_model(base)
    expert, rule = kept_expert, config.outline_expert  # a rule without its network is dropped below
    if args.outline_expert:
        expert_path = resolve_model(args.outline_expert)
        expert, expert_config = load_model(expert_path)
        if (expert_config.arch, expert_config.width, expert_config.preprocess) != (
                config.arch, config.width, config.preprocess):
            parser.error(f"{expert_path}: the outline expert must be the shipped network's architecture, width and "
                         "preprocessing")
        rule = OutlineExpertRule()
        config = replace(config, info={**config.info, "outline_expert_from": expert_origin(
            expert_config.info, config.info, expert_path)})
    config = replace(config, outline_expert=rule if expert is not None else None)
    context_network, context_rule = kept_context, config.context_network
    if args.context_network:
        context_paths = [resolve_model(run) for run in args.context_network]
        context_network, context_config = load_model(context_paths[-1])
        if (context_config.arch, context_config.width, context_config.preprocess.mean, context_config.preprocess.std) \
                != (config.arch, config.width, config.preprocess.mean, config.preprocess.std):
            parser.error(f"{context_paths[-1]}: the context network must be the shipped network's architecture, width "
                         "and normalisation")
        context_rule = args.context_rule
        config = replace(config, info={**config.info, "context_network_stages": [
            stage_record(read_config(path).info, file=display_path(path)) for path in context_paths]})
    elif not remeasured:  # new weights: the context network trained beside the old ones does not ship with them unasked
        config = replace(config, info={key: value for key, value in config.info.items()
                                       if key != "context_network_stages"})
    config = replace(config, context_network=context_rule if context_network is not None else None)
    if args.average:
        stages += averaged_stages(args.average, len(earlier) + 1, args.runs)
    if args.after_shipped:
        from core.training.training_mix import trained_groups

        # what the starting model saw, so held-out figures leave it out as the label sets grow
        own = set(config.info["train_groups"])
        config = replace(config, info={**config.info, "trained_before": sorted(
            (trained_groups(shipped_info) | trained_groups(config.info)) - own)})
    images, masks = args.data / "images", args.data / "masks"
    studio_val = sorted(g for g in config.info["val_groups"] if ":" not in g)
    studio_train = sorted(g for g in config.info["train_groups"] if ":" not in g)
    other_sources = sorted({g.split(":", 1)[0] for g in config.info["train_groups"] if ":" in g})
    torch.set_num_threads(2)
    # as the app, the CLI and the batch mask (averaged with the mirrored photo, small cars looked at
    # closer, cars cut by the frame looked at past it), and single-pass
    segmenter = Segmenter(model, config, device="cpu", name="default", flip_tta=True, outline_expert=expert,
                          context_network=context_network)
    report = evaluate_folder(segmenter, images, masks, groups=set(studio_val))
    seconds = time_per_image(segmenter)
    without_expert = None
    if expert is not None:
        plain = Segmenter(model, config, device="cpu", name="default", flip_tta=True, outline_expert=expert,
                          studio_outline=False, context_network=context_network)
        without_expert = evaluate_folder(plain, images, masks, groups=set(studio_val))
        plain_seconds = time_per_image(plain)
    single_pass = Segmenter(model, config, device="cpu", name="default", flip_tta=False, close_up=False,
                            frame_edge=False)
    single_report = evaluate_folder(single_pass, images, masks, groups=set(studio_val))
    single_seconds = time_per_image(single_pass)
    subset = fixed_subset(studio_val)
    by_source = {}
    if other_sources:
        from benchmarks.eval_sources import source_figures

        by_source = source_figures(segmenter, args.data.parent, args.labels, studio=False)  # scored above
    subset_dice = float(np.mean([report.scores[name] for name in subset]))
    info = dict(config.info)
    info.update(
        name="default",
        # figures re-measured on the shipped model itself keep the date it shipped (a new helper network: a new file)
        shipped=shipped_info.get("shipped")
        if not args.runs and not args.outline_expert and not args.context_network and shipped_info.get("shipped")
        else time.strftime("%Y-%m-%d"),
        stages=stages,
        average_shipped=average_shipped,
        metrics={"val_dice_512": round(report.dice, 6), "val_photos": len(report.scores), "mirror_averaged": True,
                 "val_dice_512_single_pass": round(single_report.dice, 6),
                 "cpu_seconds_per_512_single_pass": round(single_seconds, 4),
                 "worst": report.worst(),
                 "speckles": sum(report.speckles.values()), "holes": sum(report.holes.values()),
                 "subset": subset, "subset_dice": round(subset_dice, 6),
                 "cpu_seconds_per_512": round(seconds, 4), "cpu": cpu_name(),
                 **({"val_dice_512_without_outline_expert": round(without_expert.dice, 6),
                     "cpu_seconds_per_512_without_outline_expert": round(plain_seconds, 4)} if without_expert else {}),
                 **({"by_source": by_source} if by_source else {})},
    )
    shipped = replace(config, info=info)
    save_model(args.out, model, shipped, outline_expert=expert, context_network=context_network)
    card_path = args.out.with_suffix(".md")
    notes = ""
    if card_path.is_file() and NOTES_MARKER in card_path.read_text():
        notes = card_path.read_text().split(NOTES_MARKER, 1)[1]
    recipe = info["train_config"]
    context_stages = info.get("context_network_stages", []) if context_network is not None else []
    lines = [
        "# Model card: the default MaskingNet",
        "",
        f"- File: `{display_path(args.out)}` ({args.out.stat().st_size / 1e6:.1f} MB, safetensors; "
        "configuration in its metadata)",
        f"- Architecture: {config.arch}, width {config.width} ({count_parameters(model):,} parameters), "
        f"{config.num_classes} classes",
        f"- Working size: {config.preprocess.size}x{config.preprocess.size} (photos are squeezed to a square, "
        "probabilities are upsampled bilinearly to the photo's own size)",
        f"- Normalisation: mean {config.preprocess.mean}, std {config.preprocess.std}",
        *([f"- Studio outline expert (`core.models.outline_expert`): a second network of the same architecture "
           f"and width, the weights of {info.get('outline_expert_from', 'another checkpoint')}; it draws the outline "
           f"within {rule.band} working pixels of the main network's, its logits weighing {rule.share}, where both "
           f"masks agree at a Dice of at least {rule.agreement} (with the mirror pass; `--no-studio-outline` leaves "
           "it out)"] if expert is not None else []),
        *([f"- Context network (`core.models.context_network`): a third network of the same architecture and "
           f"width, the main network trained further on crowded lots at the context look's size (its runs at the "
           f"end of the recipe); the context look's answer is {context_rule.own_share} x the main network's smaller "
           f"look + {1 - context_rule.own_share:g} x the context network's (looking at "
           f"{context_rule.size_share:g} x the working size), weighing {context_rule.weight} where it clears large "
           f"regions{context_margin_words(context_rule)}{context_fill_words(context_rule)} (`--no-context-look` "
           "leaves both looks out)"]
          if context_network is not None else []),
        "",
        "## Data",
        f"`../shared/data/carvana512`: {len(studio_train)} training cars, {len(studio_val)} validation cars, split "
        f"by car id (seed {SPLIT_SEED if other_sources else recipe['seed']}, validation share 0.2). "
        "No validation car was trained on.",
        *(["Other sources (training mixes of stages 5 on, split alike): "
           + "; ".join(f"{name}: {sum(g.startswith(name + ':') for g in info['train_groups'])} training photos, "
                       f"{sum(g.startswith(name + ':') for g in info['val_groups'])} validation photos (split by photo)"
                       for name in other_sources)] if other_sources else []),
        "",
        "Validation cars: " + ", ".join(f"`{g}`" for g in studio_val),
        "",
        "Training cars: " + ", ".join(f"`{g}`" for g in studio_train),
        "",
        "## Recipe",
        recipe_sentence(stages, average_shipped) + "; the checked-in recipes are "
        + recipe_files_words(stage_recipes()[:len(stages)])
        + ("; the context network's, " + recipe_files_words(stage_recipes(context_network=True)[:len(context_stages)])
           if context_stages else "") + ".",
        "Reproduce (resumes if interrupted):",
        "```",
        "bash scripts/train_default.sh",
        "```",
        f"Training in all: {sum(stage.get('train_seconds', 0) for stage in stages + context_stages) / 3600:.2f} h on "
        f"{info.get('device')} ({cpu_name()}), bf16 autocast, channels-last, data decoded in memory.",
        "",
        *[line for number, stage in enumerate(stages, 1) for line in stage_lines(number, stage)],
        *[line for number, stage in enumerate(context_stages, 1) for line in context_stage_lines(number, stage)],
        "## Figures (measured by `scripts/ship_default_model.py`)",
        f"- Validation mean Dice at 512x512 over {len(report.scores)} photos of held-out cars, as the app, "
        f"the CLI and the batch mask (averaged with the mirrored photo): **{report.dice:.5f}**",
        "  (rerun: `.venv/bin/maskingnet eval --images ../shared/data/carvana512/images "
        "--masks ../shared/data/carvana512/masks --held-out`)",
        *([f"- The same without the studio outline expert (`--no-studio-outline`): {without_expert.dice:.5f}"]
          if without_expert else []),
        f"- Single pass, without the mirror, the close-up or the look past the frame's edge "
        f"(`--no-tta --no-close-up --no-frame-edge`): {single_report.dice:.5f}",
        f"- Clean masks: {report.stray_summary()} (a speckle is a predicted car region touching no car "
        "pixel of the truth; a hole is a predicted background region touching no background pixel of the truth)",
        f"- CPU time per 512x512 photo, end to end, 2 threads: {seconds * 1000:.0f} ms with the mirror, "
        f"{single_seconds * 1000:.0f} ms single pass ({cpu_name()})"
        + (f"; {plain_seconds * 1000:.0f} ms with the mirror and without the studio outline expert"
           if without_expert else ""),
        *source_lines(by_source),
        "",
        "The 5 worst validation photos:",
        "",
        "| photo | Dice |",
        "|---|---:|",
        *[f"| {name} | {score:.5f} |" for name, score in report.worst()],
        "",
        NOTES_MARKER,
    ]
    card_path.write_text("\n".join(lines) + (notes if notes else "\n"))
    print(report.summary())
    print(f"single pass: mean Dice {single_report.dice:.5f}, {single_seconds * 1000:.1f} ms per 512x512 photo")
    print(f"{seconds * 1000:.1f} ms per 512x512 photo; wrote {args.out} and {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hard examples for the context network: the training photos whose context network is furthest from their label.

The context network (``core.models.context_network``) answers, with the main network's smaller look, which large
regions of a mask are cleared or filled. Where both call an advert's mountains, clouds, a workshop's shelves or a
person beside the car car, so does the mask (card, "Session 57"), and no rule mends what every look shares. This
scores the training photos of a mix's teacher-labelled sources (those with a confidence map), split as the model
was (none it held out), by the Dice of the context network's own look against the label on the label's trusted
pixels, and links the worst ``--share`` of them into
``<cache>/<out>/{images,masks,confidence,emphasis}`` as ``<source>__<stem>``: a mix lists them again as a source
of its own (``resources/recipes/context-mix-hard.json``), so they count more in training.

``<out>/report.json`` holds every scored photo's Dice and the share of its wrong pixels that the context network
calls car where the label says background (high: an advert or a parked car taken for car; low: the car's own
parts missed, or a label that holds a person beside the car), and the threshold. Rerunning rebuilds the folder
(the links only; the labels stay where ``make_outdoor_labels.sh`` put them).

Usage: python -m tools.outdoor_labels.hard_examples --mix resources/recipes/context-mix-crowd.json
    [--model default] [--cache DIR] [--share 0.12] [--out hard-context] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.io.imageio import read_mask, read_rgb
from core.masking.inference import Segmenter
from core.models.checkpoint import read_config
from core.models.model_store import resolve_model
from core.models.networks.blocks import logits_at, smaller_input_size
from core.training.data import Sample, read_confidence
from core.training.metrics import dice
from core.training.training_mix import labels_folder, mix_samples, read_mix
from tools.outdoor_labels.files import write_atomic

SEPARATOR = "__"  # between a linked photo's source and its stem
TRUSTED = 0.5  # a label pixel counts where its confidence is above this (as eval_sources scores)


@dataclass(frozen=True)
class Scored:
    """A photo's score: the Dice of the context network's look, and the share of its wrong pixels that it
    calls car where the label says background (1: it only adds car, 0: it only misses car)."""

    sample: Sample
    dice: float
    false_car: float = 0.0

    @property
    def name(self) -> str:
        """The photo's name among the linked ones: ``<source>__<stem>``."""
        return f"{self.sample.source}{SEPARATOR}{self.sample.name}"


def teacher_labelled(samples: list[Sample]) -> list[Sample]:
    """Each photo once (the mix lists a training photo ``repeat`` times), of the sources with confidence maps."""
    seen: dict[tuple[str, str], Sample] = {}
    for sample in samples:
        if sample.confidence is not None:
            seen.setdefault((sample.source, sample.name), sample)
    return list(seen.values())


@torch.no_grad()
def context_score(segmenter: Segmenter, sample: Sample) -> Scored | None:
    """The score of the context network's own look (as the app looks, at its rule's share of the working size,
    without the mirror look: a ranking needs no polish) against ``sample``'s label on its trusted pixels, at
    the working size; None for a photo with nothing trusted, or a model without a context network."""
    network, rule = segmenter.context_network, segmenter.config.context_network
    if network is None or rule is None:
        return None
    truth = read_mask(sample.mask)
    trusted = read_confidence(sample.confidence, truth.shape) > TRUSTED if sample.confidence else np.ones_like(truth)
    preprocess = segmenter.config.preprocess
    truth_small = preprocess.resize_mask(truth) > 0.5
    trusted_small = preprocess.resize_mask(trusted) > 0.99  # wholly trusted working pixels
    side = smaller_input_size(preprocess.size, rule.size_share)
    if side is None or not trusted_small.any():
        return None
    batch = preprocess([read_rgb(sample.image)]).to(segmenter.device)
    logits = logits_at(network, batch, side)
    car, truth_small = (logits[0, 1] > logits[0, 0]).cpu().numpy()[trusted_small], truth_small[trusted_small]
    wrong = int((car != truth_small).sum())
    return Scored(sample, dice(car, truth_small), int((car & ~truth_small).sum()) / wrong if wrong else 0.0)


def hardest(ranked: list[Scored], share: float) -> list[Scored]:
    """The worst ``share`` of ``ranked`` (scores sorted lowest Dice first; at least one where any is scored)."""
    return ranked[: max(1, round(len(ranked) * share))] if ranked else []


def link_examples(picked: list[Scored], out: Path) -> None:
    """Rebuild ``out/{images,masks,confidence,emphasis}`` as links to the picked photos' files."""
    for kind in ("images", "masks", "confidence", "emphasis"):
        shutil.rmtree(out / kind, ignore_errors=True)
        (out / kind).mkdir(parents=True)
    for item in picked:
        sample = item.sample
        files = {"images": (sample.image, sample.image.suffix), "masks": (sample.mask, ".png"),
                 "confidence": (sample.confidence, ".png"), "emphasis": (sample.weight, ".png")}
        for kind, (path, suffix) in files.items():
            if path is not None:
                os.symlink(path.resolve(), out / kind / f"{item.name}{suffix}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mix", required=True, type=Path, help="the training mix whose photos are scored")
    parser.add_argument("--model", default="default", help="the model whose context answer scores them")
    parser.add_argument("--cache", type=Path, default=None, help="the labels folder (default: $MASKINGNET_LABELS)")
    parser.add_argument("--share", type=float, default=0.12, help="the share of the scored photos linked")
    parser.add_argument("--out", default="hard-context", help="folder name inside the cache")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N photos (a trial)")
    args = parser.parse_args(argv)
    if not 0 < args.share <= 1:
        parser.error("--share must be above 0 and at most 1")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model_path = resolve_model(args.model)
    try:
        train, _, _ = mix_samples(read_mix(args.mix), start_info=read_config(model_path).info)
    except (ValueError, FileNotFoundError) as error:
        print(f"hard_examples: {error}", file=sys.stderr)
        return 1
    samples = teacher_labelled(train)[: args.limit]
    segmenter = Segmenter.load(model_path, device="cpu")
    if segmenter.context_network is None:
        print(f"hard_examples: {model_path} holds no context network", file=sys.stderr)
        return 1
    scored: list[Scored] = []
    start = time.monotonic()
    for index, sample in enumerate(samples, 1):
        score = context_score(segmenter, sample)
        if score is not None:
            scored.append(score)
        if index % 200 == 0 or index == len(samples):
            print(f"{index}/{len(samples)} scored, {(time.monotonic() - start) / index:.2f} s/photo", flush=True)
    ranked = sorted(scored, key=lambda item: item.dice)
    picked = hardest(ranked, args.share)
    out = (args.cache or labels_folder()) / args.out
    link_examples(picked, out)
    by_source = dict(Counter(item.sample.source for item in picked))
    report = {"model": str(model_path), "mix": str(args.mix), "share": args.share, "scored": len(scored),
              "picked": len(picked), "picked_by_source": by_source,
              "threshold_dice": picked[-1].dice if picked else None,
              "mean_dice": float(np.mean([item.dice for item in scored])) if scored else None,
              "false_car_share_of_picked_errors": float(np.mean([item.false_car for item in picked])) if picked else None,
              "photos": {item.name: [round(item.dice, 5), round(item.false_car, 3)] for item in ranked}}
    write_atomic(json.dumps(report, indent=1).encode(), out / "report.json")
    print(f"{len(picked)} of {len(scored)} photos linked into {out} ({by_source}); their context Dice is at most "
          f"{report['threshold_dice']:.4f}, the mean over all {report['mean_dice']:.4f}" if picked else
          f"no photo scored; {out} is empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the context look (``core.masking.context_look``) costs: milliseconds per photo as the app masks,
with it and without it (``--no-context-look``), and where the model holds a context network
(``core.models.context_network``) with the context look but without that network, and where its rule fills
(``fill_region``) without the fill, taking turns on the same photos so that the machine's changing speed hits
every way alike.

    .venv/bin/python benchmarks/bench_context_look.py [--model default] [--photos 16] [FOLDER ...]

FOLDER: folders of photos (default: the held-out Carvana cars' photos, car-parts test and stanford-cars,
where they are). Prints the median milliseconds of each way per folder, and how many views it cleared a
region of and filled one of.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_outline_expert import (  # noqa: E402
    median_milliseconds,
    photo_paths,
    timing_arguments,
    timing_folders,
)
from core.masking.inference import Segmenter  # noqa: E402
from core.models.checkpoint import load_networks  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402

WAYS = {"with the context look": {}, "without it": {"context_look": False}}


def without_context_network(spec: str) -> Segmenter | None:
    """The model ``spec`` as the app masks with it, but its context look the main network's own; None when the
    model holds no context network."""
    model, expert, context_network, config = load_networks(resolve_model(spec))
    if context_network is None:
        return None
    return Segmenter(model, replace(config, context_network=None), device="cpu", outline_expert=expert)


def without_fill(spec: str) -> Segmenter | None:
    """The model ``spec`` as the app masks with it, but its context network's rule filling nothing; None when the
    model holds no context network or its rule fills nothing already."""
    model, expert, context_network, config = load_networks(resolve_model(spec))
    if context_network is None or config.context_network is None or config.context_network.fill_region == 0:
        return None
    rule = replace(config.context_network, fill_region=0.0)
    return Segmenter(model, replace(config, context_network=rule), device="cpu", outline_expert=expert,
                     context_network=context_network)


def main() -> int:
    args = timing_arguments(__doc__)
    segmenters = {name: Segmenter.load(args.model, device="cpu", **options) for name, options in WAYS.items()}
    if (own_look := without_context_network(args.model)) is not None:
        segmenters["with the context look without the context network"] = own_look
    if (no_fill := without_fill(args.model)) is not None:
        segmenters["with the context look without the fill"] = no_fill
    looking = segmenters["with the context look"]
    folders = timing_folders(args, looking)
    for folder, groups in folders:
        paths = photo_paths(folder, args.photos, groups) if folder.is_dir() else []
        if not paths:
            print(f"{folder}: skipped, no photos")
            continue
        looking.context_cleared = looking.context_filled = 0
        medians = median_milliseconds(segmenters, paths)
        print(f"{folder} ({len(paths)} photos): " + "; ".join(f"{name} {ms:.0f} ms" for name, ms in medians.items())
              + f"; views it cleared a region of: {looking.context_cleared}, filled one of: {looking.context_filled}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

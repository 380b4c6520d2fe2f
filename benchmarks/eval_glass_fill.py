"""What the glass fill (``core.masking.cleanup.fill_glass``) changes: a model's figures per source
(``eval_sources.py``'s) with the clean-up as the app runs it, and with the fill left out, on the
same photos. Prints one JSON line each and the change of every figure.

    .venv/bin/python benchmarks/eval_glass_fill.py --model default [--held-out-of default]
        [--only carvana|stanford-cars|car-parts-test|small-cars] [--json FILE]

The rows scored against teacher labels need ``scripts/make_outdoor_labels.sh`` first (skipped without).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from eval_sources import SOURCES, add_model_arguments, held_out_of, source_figures  # noqa: E402

from core.masking import cleanup  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402


@contextmanager
def glass_fill_left_out() -> Iterator[None]:
    """Within it, ``clean_probability`` skips the fill (it calls ``fill_glass`` by its module name)."""
    original = cleanup.fill_glass
    cleanup.fill_glass = lambda probability, **_: probability
    try:
        yield
    finally:
        cleanup.fill_glass = original


def changes(without: dict, with_fill: dict) -> dict[str, float]:
    """with - without, for every number the two figures share (per part too)."""
    result = {}
    for key, value in with_fill.items():
        other = without.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            result.update({f"{key}.{k}": v for k, v in changes(other, value).items()})
        elif isinstance(value, float) and isinstance(other, float) and np.isfinite(value) and np.isfinite(other):
            result[key] = round(value - other, 6)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--only", action="append", choices=SOURCES, help="score only this source (repeatable)")
    parser.add_argument("--held-out-of", metavar="MODEL", help="score on this model's held-out photos")
    args = parser.parse_args()
    torch.set_num_threads(2)
    held_out, seen = held_out_of(args.held_out_of) if args.held_out_of else (None, set())
    only = set(args.only) if args.only else None
    results = {}
    for spec in args.model:
        segmenter = Segmenter.load(spec, device="cpu", flip_tta=not args.no_tta, close_up=not args.no_close_up,
                                   frame_edge=not args.no_frame_edge)
        with glass_fill_left_out():
            without = source_figures(segmenter, args.data, args.labels, held_out=held_out, seen=seen, only=only)
        with_fill = source_figures(segmenter, args.data, args.labels, held_out=held_out, seen=seen, only=only)
        results[spec] = {"without_fill": without, "with_fill": with_fill, "change": changes(without, with_fill)}
        for name, figures in results[spec].items():
            print(spec, name, json.dumps(figures), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

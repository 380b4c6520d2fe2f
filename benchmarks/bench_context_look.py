"""What the context look (``core.masking.context_look``) costs: milliseconds per photo as the app masks,
with it and without it (``--no-context-look``), taking turns on the same photos so that the machine's
changing speed hits both alike.

    .venv/bin/python benchmarks/bench_context_look.py [--model default] [--photos 16] [FOLDER ...]

FOLDER: folders of photos (default: the held-out Carvana cars' photos, car-parts test and stanford-cars,
where they are). Prints the median milliseconds of each way per folder, and how many views it cleared a
region of.
"""

from __future__ import annotations

import sys
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

WAYS = {"with the context look": {}, "without it": {"context_look": False}}


def main() -> int:
    args = timing_arguments(__doc__)
    segmenters = {name: Segmenter.load(args.model, device="cpu", **options) for name, options in WAYS.items()}
    looking = segmenters["with the context look"]
    folders = timing_folders(args, looking)
    for folder, groups in folders:
        paths = photo_paths(folder, args.photos, groups) if folder.is_dir() else []
        if not paths:
            print(f"{folder}: skipped, no photos")
            continue
        looking.context_cleared = 0
        medians = median_milliseconds(segmenters, paths)
        print(f"{folder} ({len(paths)} photos): " + "; ".join(f"{name} {ms:.0f} ms" for name, ms in medians.items())
              + f"; views it cleared a region of: {looking.context_cleared}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the context look (``core.masking.context_look``) costs: milliseconds per photo as the app masks,
with it and without it (``--no-context-look``), taking turns on the same photos so that the machine's
changing speed hits both alike.

    .venv/bin/python benchmarks/bench_context_look.py [--model default] [--photos 16] [FOLDER ...]

FOLDER: folders of photos (default: the held-out Carvana cars' photos, car-parts test and stanford-cars,
where they are). Prints the median milliseconds of each way per folder, and how many views it cleared a
region of.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.bench_outline_expert import median_milliseconds, photo_paths  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402

WAYS = {"with the context look": {}, "without it": {"context_look": False}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="*")
    parser.add_argument("--model", default="default")
    parser.add_argument("--photos", type=int, default=16, help="photos per folder (default 16)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(2)
    segmenters = {name: Segmenter.load(args.model, device="cpu", **options) for name, options in WAYS.items()}
    looking = segmenters["with the context look"]
    held_out = set(looking.config.info.get("val_groups", []))
    folders = [(folder, None) for folder in args.folders] or [
        (args.data / "carvana512" / "images", held_out), (args.data / "car-parts" / "test" / "images", None),
        (args.data / "stanford-cars" / "images", None)]
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

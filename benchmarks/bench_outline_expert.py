"""What a model's studio outline expert (``core.models.outline_expert``) costs: seconds per photo as the
app masks, with the expert, with the expert looking at every view in full (no preview: how the app masked
before session 51), without it (``--no-studio-outline``) and as a single pass (``--no-tta``), the four taking
turns on the same photos so that the machine's changing speed hits them alike.

    .venv/bin/python benchmarks/bench_outline_expert.py [--model default] [--photos 16] [FOLDER ...]

FOLDER: folders of photos (default: the held-out Carvana cars' photos, car-parts test and stanford-cars,
where they are).
Prints the median milliseconds of each way, per folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.io.imageio import IMAGE_EXTENSIONS, read_photo  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402

WAYS = {"with the expert": {}, "every view in full": {}, "without it": {"studio_outline": False},
        "single pass": {"flip_tta": False}}


def load_ways(spec: str | Path) -> dict[str, Segmenter]:
    """One segmenter of the model ``spec`` per way of ``WAYS``, on the CPU."""
    segmenters = {name: Segmenter.load(spec, device="cpu", **options) for name, options in WAYS.items()}
    segmenters["every view in full"].expert_preview = False
    return segmenters


def photo_paths(folder: Path, count: int, groups: set[str] | None = None) -> list[Path]:
    """Up to ``count`` photos of ``folder`` by name, spread over it; only those of ``groups`` (a
    Carvana car id before the first '_') when given."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if groups is not None:
        paths = [p for p in paths if p.stem.split("_")[0] in groups]
    step = max(1, len(paths) // max(1, count))
    return paths[::step][:count]


def median_milliseconds(segmenters: dict[str, Segmenter], paths: list[Path]) -> dict[str, float]:
    """Median ms per photo of each segmenter, taking turns photo by photo (after one warm-up each)."""
    photos = [read_photo(path).rgb for path in paths]
    times: dict[str, list[float]] = {name: [] for name in segmenters}
    for segmenter in segmenters.values():
        segmenter.predict(photos[0])
    for rgb in photos:
        for name, segmenter in segmenters.items():
            tick = time.perf_counter()
            segmenter.predict(rgb)
            times[name].append(1000 * (time.perf_counter() - tick))
    return {name: statistics.median(values) for name, values in times.items()}


def timing_arguments(description: str) -> argparse.Namespace:
    """The command line every per-photo timing script takes: FOLDER ..., --model, --photos, --data; torch set
    to 2 threads (this project's CPU) before any timing."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="*")
    parser.add_argument("--model", default="default")
    parser.add_argument("--photos", type=int, default=16, help="photos per folder (default 16)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(2)
    return args


def timing_folders(args: argparse.Namespace, segmenter: Segmenter) -> list[tuple[Path, set[str] | None]]:
    """The folders given, else the held-out Carvana cars of ``segmenter``'s model, car-parts test and
    stanford-cars; each with the groups (cars) to take from it, None for all."""
    held_out = set(segmenter.config.info.get("val_groups", []))
    return [(folder, None) for folder in args.folders] or [
        (args.data / "carvana512" / "images", held_out), (args.data / "car-parts" / "test" / "images", None),
        (args.data / "stanford-cars" / "images", None)]


def main() -> int:
    args = timing_arguments(__doc__)
    segmenters = load_ways(args.model)
    if not segmenters["with the expert"].has_outline_expert:
        print(f"note: {args.model} holds no studio outline expert: the first three ways are the same")
    folders = timing_folders(args, segmenters["with the expert"])
    for folder, groups in folders:
        paths = photo_paths(folder, args.photos, groups) if folder.is_dir() else []
        if not paths:
            print(f"{folder}: skipped, no photos")
            continue
        medians = median_milliseconds(segmenters, paths)
        expert = segmenters["with the expert"]
        print(f"{folder} ({len(paths)} photos): " + "; ".join(f"{name} {ms:.0f} ms" for name, ms in medians.items())
              + f"; the expert looked in full at {expert.expert_looked} of the {expert.expert_views} views it previewed"
              " (second looks counted; the first folder's count holds the warm-up)", flush=True)
        expert.expert_looked = expert.expert_views = expert.expert_used = 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

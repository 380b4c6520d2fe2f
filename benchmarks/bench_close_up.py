"""What the closer look at small cars (``core.masking.close_up``) costs: on the photos of a folder,
how many get the second pass, and the time per photo with and without it, as the app masks
(mirror-averaged), the two ways taking turns on each photo so that the machine's load hits both alike.

Prints the median wall time and the median CPU time of the process (all threads) per photo,
over all photos and over those looked at closer. On a shared machine compare the CPU columns.

    .venv/bin/python benchmarks/bench_close_up.py FOLDER [--model default] [--limit 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import torch  # noqa: E402

from core.io.imageio import IMAGE_EXTENSIONS, read_photo  # noqa: E402
from core.masking.cleanup import clean_probability  # noqa: E402
from core.masking.close_up import close_up_box  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402


def timed(segmenter: Segmenter, rgb, close_up: bool) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    segmenter.predict(rgb, close_up=close_up)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="photos to mask")
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=20, help="photos (the first, sorted by name)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each way per photo")
    args = parser.parse_args()
    torch.set_num_threads(2)
    photos = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)[: args.limit]
    if not photos:
        print(f"{args.folder}: no photos", file=sys.stderr)
        return 1
    segmenter = Segmenter.load(args.model, device="cpu")
    rows = []
    for path in photos:
        rgb = read_photo(path).rgb
        small, _ = segmenter.probabilities_and_disagreement(segmenter.config.preprocess([rgb]), mirror=True)
        looked = close_up_box(clean_probability(small[0]), rgb.shape[1], rgb.shape[0]) is not None
        segmenter.predict(rgb)  # warm
        times = {True: [], False: []}
        for _ in range(args.runs):
            for close_up in (False, True):
                times[close_up].append(timed(segmenter, rgb, close_up))
        rows.append((looked, {way: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
                              for way, ts in times.items()}))
    looked_rows = [row for row in rows if row[0]]
    print(f"{args.folder}: {len(rows)} photos, {len(looked_rows)} looked at closer ({segmenter.name}, mirror-averaged)")
    for label, chosen in (("all photos", rows), ("looked at closer", looked_rows)):
        if not chosen:
            continue
        line = []
        for way, name in ((False, "without"), (True, "with")):
            wall = statistics.median(row[1][way][0] for row in chosen) * 1000
            cpu = statistics.median(row[1][way][1] for row in chosen) * 1000
            line.append(f"{name} {wall:.0f} ms wall / {cpu:.0f} ms CPU")
        print(f"  {label}: " + ", ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the teachers over photo folders and cache their raw probability maps (resumable).

Output per photo: ``<cache>/<source>/teachers/<stem>.<teacher>.png`` (8-bit probability, the
photo's size). A photo whose maps exist is skipped, so an interrupted run resumes where it was.
Photos are visited in a fixed shuffled order, so a partial run is a random sample of each source.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from tools.outdoor_labels import teachers
from tools.outdoor_labels.files import read_rgb, write_png


def photo_jobs(sources: list[tuple[str, Path]], seed: int,
               only: dict[str, set[str]] | None = None) -> list[tuple[str, Path]]:
    """Every photo of every source, shuffled; ``only`` limits a source it names to those stems."""
    jobs = []
    for name, folder in sources:
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if only is not None and name in only:
            photos = [p for p in photos if p.stem in only[name]]
        jobs += [(name, p) for p in photos]
    random.Random(seed).shuffle(jobs)
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", action="append", required=True, metavar="NAME=FOLDER",
                        help="a named folder of photos (repeatable)")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--teachers-dir", type=Path, required=True, help="folder with u2netp.onnx and isnet_small.onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flip", action="store_true", help="also run u2netp on the mirrored photo and average")
    parser.add_argument("--isnet-size", type=int, default=640, help="IS-Net's input size (its own: 1024)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", default=[], metavar="NAME=FILE",
                        help="label only the photos of source NAME whose stems FILE lists, one a line (repeatable)")
    args = parser.parse_args(argv)
    only = {}
    for item in args.only:
        name, _, path = item.partition("=")
        try:
            only[name] = {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}
        except (OSError, UnicodeDecodeError) as error:
            parser.error(f"--only {item}: cannot read the list of stems ({error})")

    sources = []
    for item in args.source:
        name, _, folder = item.partition("=")
        sources.append((name, Path(folder)))
    run_u2 = teachers.u2netp(args.teachers_dir / "u2netp.onnx", args.threads)
    run_isnet = teachers.isnet(args.teachers_dir / "isnet_small.onnx", args.threads, args.isnet_size)

    jobs = photo_jobs(sources, args.seed, only)
    done = 0
    start = time.time()
    for index, (source, photo) in enumerate(jobs):
        out_dir = args.cache / source / "teachers"
        out_dir.mkdir(parents=True, exist_ok=True)
        targets = {t: out_dir / f"{photo.stem}.{t}.png" for t in ("u2netp", "isnet")}
        if all(p.exists() for p in targets.values()):
            continue
        rgb = read_rgb(photo)
        if rgb is None:
            continue
        if not targets["u2netp"].exists():
            p = run_u2(rgb)
            if args.flip:
                p = 0.5 * (p + run_u2(np.ascontiguousarray(rgb[:, ::-1]))[:, ::-1])
            write_png(np.round(p * 255).astype(np.uint8), targets["u2netp"])
        if not targets["isnet"].exists():
            write_png(np.round(run_isnet(rgb) * 255).astype(np.uint8), targets["isnet"])
        done += 1
        if done % 20 == 0:
            rate = (time.time() - start) / done
            print(f"{index + 1}/{len(jobs)} visited, {done} labelled this run, {rate:.2f} s/photo", flush=True)
    print(f"finished: {len(jobs)} photos, {done} labelled this run", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pack a training mix's training photos small enough to travel to a lent GPU machine.

Such a machine takes at most 64 MiB of files a call, the project's own included, so the photos go
as WebP in two folders of about 48 MB, each sent by its own call. Only photos the starting model
trained on are packed: its held-out photos never leave (``keep_split``), so nothing trained there
can touch them. What does not fit is left out, and the written mix repeats each source so that
its share of a training epoch stays what ``--mix`` gives it:

- ``carvana``: 8 of each car's 16 views (odd and even angles alternating from car to car), repeat x2;
- the other sources whole, in order, but ``stanford-cars``: as many photos (a fixed shuffle) as
  fit the second folder, repeat x2.

    .venv/bin/python tools/pack_training_mix.py --mix resources/recipes/outdoor-mix-degrade.json \\
        --init default --out gpu-pack

writes ``gpu-pack-a/`` (Carvana, composites), ``gpu-pack-b/`` (car-parts, stanford-cars) and
``gpu-pack-b/mix.json`` (folders relative to the working directory, so the packs are used from the
project's root). A development tool: the app never reads a pack.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import fields
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.grouping import car_and_angle  # noqa: E402
from core.models.checkpoint import read_config  # noqa: E402
from core.models.model_store import resolve_model  # noqa: E402
from core.training.data import Sample  # noqa: E402
from core.training.training_mix import PER_SAMPLE, MixSource, mix_samples, read_mix  # noqa: E402

WEBP_QUALITY = {"carvana": 85, "composites": 76, "car-parts": 85, "stanford-cars": 80}
FOLDER_OF = {"carvana": "a", "composites": "a", "car-parts": "b", "stanford-cars": "b"}
FILLS_LAST = "stanford-cars"  # packed last, as far as the limit allows
MAPS = (("masks", "mask"), ("confidence", "confidence"), ("emphasis", "weight"))
DEFAULTS = {field.name: field.default for field in fields(MixSource)}


def half_the_views(samples: list[Sample]) -> list[Sample]:
    """8 of each Carvana car's 16 views: the even angles of one car, the odd of the next (by id)."""
    kept = []
    for sample in samples:
        car, view = car_and_angle(sample.image)
        if (view + int(car, 16)) % 2 == 0:
            kept.append(sample)
    return kept


class Packer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.bytes: dict[str, int] = {}

    def folder(self, pack: str, source: str) -> Path:
        return self.out.with_name(f"{self.out.name}-{pack}") / source

    def put(self, pack: str, source: str, sample: Sample) -> None:
        """The photo as WebP and its maps as they are, under ``<out>-<pack>/<source>/``."""
        folder = self.folder(pack, source)
        target = folder / "images" / f"{sample.image.stem}.webp"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(sample.image).convert("RGB").save(target, "WEBP", quality=WEBP_QUALITY[source], method=6)
        size = target.stat().st_size
        for kind, attribute in MAPS:
            path = getattr(sample, attribute)
            if path is not None:
                copy = folder / kind / Path(path).name
                copy.parent.mkdir(exist_ok=True)
                shutil.copyfile(path, copy)
                size += copy.stat().st_size
        self.bytes[pack] = self.bytes.get(pack, 0) + size


def pack_mix(mix: Path, init: str, out: Path, limit_mb: float) -> dict:
    """Pack ``mix``'s training photos (as split for ``init``) and write the packed mix; returns counts."""
    sources = {source.name: source for source in read_mix(mix)}
    unknown = set(sources) - set(FOLDER_OF)
    if unknown:
        raise ValueError(f"{mix}: no packing rule for source(s) {', '.join(sorted(unknown))}")
    train, _, _ = mix_samples(list(sources.values()), start_info=read_config(resolve_model(init)).info)
    unique: dict[str, dict[Path, Sample]] = {}
    for sample in train:
        unique.setdefault(sample.source, {}).setdefault(sample.image, sample)
    chosen = {name: sorted(found.values(), key=lambda s: s.image.stem) for name, found in unique.items()}
    chosen["carvana"] = half_the_views(chosen.get("carvana", []))
    packer = Packer(out)
    for name in (*[n for n in FOLDER_OF if n != FILLS_LAST], FILLS_LAST):
        samples = chosen.get(name, [])
        if name == FILLS_LAST:
            random.Random(0).shuffle(samples)
        packed = 0
        for sample in samples:
            if name == FILLS_LAST and packer.bytes.get(FOLDER_OF[name], 0) > limit_mb * 1e6:
                break
            packer.put(FOLDER_OF[name], name, sample)
            packed += 1
        chosen[name] = samples[:packed]
    entries = []
    for name, source in sources.items():
        folder = packer.folder(FOLDER_OF[name], name).as_posix()
        repeat = source.repeat * (2 if name in ("carvana", FILLS_LAST) else 1)
        entry = {"name": name, "images": f"{folder}/images", "masks": f"{folder}/masks", "split": source.split,
                 "val_fraction": source.val_fraction, "repeat": repeat}
        for kind, attribute in (("confidence", "confidence"), ("emphasis", "emphasis")):
            if getattr(source, attribute) is not None:
                entry[kind] = f"{folder}/{kind}"
        for key in PER_SAMPLE:  # what the source says for each of its samples, where not the default
            if getattr(source, key) != DEFAULTS[key]:
                entry[key] = getattr(source, key)
        entries.append(entry)
    mix_file = packer.folder("b", "mix.json")
    mix_file.parent.mkdir(parents=True, exist_ok=True)
    mix_file.write_text(json.dumps({"sources": entries}, indent=1) + "\n")
    return {"photos": {name: len(samples) for name, samples in chosen.items()},
            "megabytes": {pack: round(size / 1e6, 1) for pack, size in packer.bytes.items()}, "mix": str(mix_file)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--init", required=True, help="the starting model: its held-out photos are never packed")
    parser.add_argument("--out", type=Path, required=True, help="packs go to OUT-a/ and OUT-b/")
    parser.add_argument("--limit-mb", type=float, default=48.0, help="stop filling the second pack here")
    args = parser.parse_args()
    try:
        print(json.dumps(pack_mix(args.mix, args.init, args.out, args.limit_mb)))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

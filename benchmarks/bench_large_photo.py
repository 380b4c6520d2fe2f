"""Peak memory and time of masking one very large photo at full resolution (issue 8).

Each format runs in a fresh process (``maskingnet predict``) that reports its own peak resident
memory (VmHWM, Linux) before and after the command, so the figure is what one photo costs:

    .venv/bin/python benchmarks/bench_large_photo.py                  # 12000x9000, tiny model
    .venv/bin/python benchmarks/bench_large_photo.py --model /tmp/wip.safetensors --formats png jpeg

The photo is a flat colour with a block of another (it compresses small, decodes at full cost).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
def peak_kb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
from core import cli
import core.batch.pipeline, core.masking.export, core.masking.inference
base = peak_kb()
tick = time.perf_counter()
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "base_mb": base / 1024, "peak_mb": peak_kb() / 1024, "seconds": time.perf_counter() - tick}))
"""


def tiny_model(folder: Path) -> Path:
    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess

    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"})
    path = folder / "tiny.safetensors"
    save_model(path, config.build().eval(), config)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--height", type=int, default=9000)
    parser.add_argument("--model", help="checkpoint (default: a random width-4 model; memory does not depend on it)")
    parser.add_argument("--formats", nargs="+", default=["png", "mask", "jpeg"], choices=["png", "mask", "jpeg", "webp"])
    args = parser.parse_args()
    if not Path("/proc/self/status").is_file():
        print("needs Linux (/proc/self/status)", file=sys.stderr)
        return 1
    from PIL import Image

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        model = args.model or str(tiny_model(work))
        photo = work / "large.jpg"
        image = Image.new("RGB", (args.width, args.height), (60, 90, 160))
        image.paste((200, 40, 40), (args.width // 4, args.height // 3, 3 * args.width // 4, 2 * args.height // 3))
        image.save(photo, quality=80)
        del image
        megapixels = args.width * args.height / 1e6
        for fmt in args.formats:
            tick = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, "predict", str(photo), "-o", str(work / fmt), "--model", model,
                 "--device", "cpu", "--format", fmt],
                cwd=PROJECT_ROOT, capture_output=True, text=True,
            )
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            report = json.loads(done.stdout.strip().splitlines()[-1])
            growth = report["peak_mb"] - report["base_mb"]
            print(json.dumps({
                "photo": f"{args.width}x{args.height}", "format": fmt, "peak_rss_mb": round(report["peak_mb"]),
                "above_loaded_cli_mb": round(growth), "bytes_per_pixel": round(growth * 2**20 / (megapixels * 1e6), 1),
                "predict_s": round(report["seconds"], 1), "process_s": round(time.perf_counter() - tick, 1),
            }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Batch throughput next to the model's own, and memory over a long run.

Makes a folder of 1918x1280 JPEGs (Carvana's original size) in a temporary folder by
upscaling the shared photos (never inside the project), then measures:

- model only: ``segmenter.probabilities`` on already-decoded, preprocessed batches, with the
  batch's model thread count and with torch's default; the better is the reference;
- batch: ``core.batch.pipeline.run_batch`` over the folder (decode, inference, upsample, encode, write),
  photos per second from the first result to the last, and the process's resident memory
  (RSS) sampled every 0.2 s: at 10 %, 50 % and 100 % of the run, and the peak.

    .venv/bin/python benchmarks/bench_batch.py --model /tmp/wip.safetensors --count 200
    .venv/bin/python benchmarks/bench_batch.py --model /tmp/wip.safetensors --count 1000 --formats png
    .venv/bin/python benchmarks/bench_batch.py --formats png,listing --listing-preset "4:3 1600x1200"

The photos are named as 16 angles per car (``car0000_01.jpg``...), so a listing run frames each
car's angles together (``core.listing``: they wait at the batch's gate until the car is masked).

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from PIL import Image

from core.batch.pipeline import default_model_threads, plan_jobs, run_batch
from core.io.imageio import read_photo
from core.listing.presets import DEFAULT_PRESET, find_preset
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter

SHARED_IMAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "carvana512" / "images"
FULL_SIZE = (1918, 1280)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self.running = period, [], True

    def run(self) -> None:
        while self.running:
            self.samples.append(rss_mb())
            time.sleep(self.period)

    def stop(self) -> list[float]:
        self.running = False
        self.join()
        return self.samples


def make_folder(folder: Path, count: int, distinct: int) -> list[Path]:
    """``distinct`` upscaled JPEGs of different cars, linked under ``count`` names."""
    sources = sorted(SHARED_IMAGES.glob("*.jpg"))[:: max(1, len(list(SHARED_IMAGES.glob("*.jpg"))) // distinct)][:distinct]
    if not sources:
        sys.exit(f"no photos at {SHARED_IMAGES}")
    originals = []
    for i, source in enumerate(sources):
        path = folder / "originals" / f"full_{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(source).convert("RGB").resize(FULL_SIZE, Image.BICUBIC).save(path, quality=90)
        originals.append(path)
    photos = folder / "photos"
    photos.mkdir()
    for n in range(count):
        (photos / f"car{n // 16:04d}_{n % 16 + 1:02d}.jpg").hardlink_to(originals[n % len(originals)])
    return originals


def model_only_rate(segmenter: Segmenter, originals: list[Path], threads: int, seconds: float) -> tuple[float, float]:
    """Photos per second of ``segmenter.probabilities`` on decoded, preprocessed batches, and
    the CPU seconds (all threads) it spent per photo."""
    preprocess = segmenter.config.preprocess
    smalls = [preprocess.resize(read_photo(path).rgb) for path in originals[: segmenter.batch_size]]
    while len(smalls) < segmenter.batch_size:
        smalls += smalls[: segmenter.batch_size - len(smalls)]
    tensor = preprocess.to_tensor(smalls)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        segmenter.probabilities(tensor)  # warm up
        count, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            segmenter.probabilities(tensor)
            count += len(smalls)
        return count / (time.perf_counter() - start), (time.process_time() - cpu) / count
    finally:
        torch.set_num_threads(previous)


def batch_run(segmenter: Segmenter, folder: Path, out: Path, fmt: str, threads: int | None,
              preset: str = DEFAULT_PRESET) -> dict:
    options = (ExportOptions(format="jpeg", listing=find_preset(preset).spec) if fmt == "listing"
               else ExportOptions(format=fmt))
    jobs = plan_jobs([folder / "photos"], out, options)
    sampler = RssSampler()
    sampler.start()
    marks, first, done = {}, None, 0
    start, cpu = time.perf_counter(), time.process_time()
    for result in run_batch(jobs, segmenter, options, out_dir=out, threads=threads):
        if result.status != "done":
            print(f"  {result.status}: {result.error}")
            continue
        done += 1
        first = first or time.perf_counter()
        for share in (0.1, 0.5):
            if done == max(1, int(share * len(jobs))):
                marks[share] = rss_mb()
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    samples = sampler.stop()
    marks[1.0] = rss_mb()
    return {
        "done": done, "seconds": end - start, "rate": done / (end - start),
        "steady_rate": (done - 1) / (end - first) if done > 1 and end > first else float("nan"),
        "rss": marks, "peak": max(samples + [marks[1.0]]), "cpu_per_photo": cpu / max(1, done),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--count", type=int, default=200, help="photos in the folder")
    parser.add_argument("--distinct", type=int, default=16, help="different photos among them")
    parser.add_argument("--formats", default="png,jpeg",
                        help="export formats to time, comma-separated: png, jpeg, webp, mask, listing")
    parser.add_argument("--listing-preset", default=DEFAULT_PRESET, help="the preset of the 'listing' format")
    parser.add_argument("--threads", type=int, default=0, help="model threads in the batch (default: the batch's own)")
    parser.add_argument("--model-seconds", type=float, default=20.0, help="time for each model-only measurement")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                        help="average with the mirrored photo, as the app does (--no-tta: single pass)")
    args = parser.parse_args()

    segmenter = Segmenter.load(args.model, device="cpu", flip_tta=args.tta)
    if args.batch_size:
        segmenter.batch_size = args.batch_size
    batch_threads = args.threads or default_model_threads()
    default_threads = torch.get_num_threads()
    print(f"model {args.model}: {segmenter.config.arch} width {segmenter.config.width}, size {segmenter.size}, "
          f"batch {segmenter.batch_size}, {segmenter.device_label}, dtype {segmenter.dtype}")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        tick = time.perf_counter()
        originals = make_folder(folder, args.count, args.distinct)
        print(f"made {args.count} JPEGs of {FULL_SIZE[0]}x{FULL_SIZE[1]} ({len(originals)} distinct) "
              f"in {time.perf_counter() - tick:.0f} s; RSS {rss_mb():.0f} MB")

        def reference(label: str) -> tuple[float, float]:
            """The best model-only rate, and the model's CPU seconds per photo at that setting."""
            rates = {t: model_only_rate(segmenter, originals, t, args.model_seconds)
                     for t in sorted({batch_threads, default_threads})}
            print(f"model only ({label}): " + ", ".join(
                f"{rate:.2f} photos/s with {t} thread(s) ({1000 * cpu:.0f} ms CPU/photo)" for t, (rate, cpu) in rates.items()))
            return max(rates.values())

        before = reference("before")
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            out = folder / f"out-{fmt}"
            figures = batch_run(segmenter, folder, out, fmt, batch_threads, args.listing_preset)
            after = reference(f"after {fmt}")
            (best, model_cpu) = max(before, after)
            rss = figures["rss"]
            print(f"batch {fmt}: {figures['done']} photos in {figures['seconds']:.1f} s = {figures['rate']:.2f} photos/s "
                  f"(steady {figures['steady_rate']:.2f}); {100 * figures['rate'] / best:.0f}% of the best model-only "
                  f"rate ({best:.2f}); model threads {batch_threads}")
            print(f"  CPU per photo: batch {1000 * figures['cpu_per_photo']:.0f} ms, model alone {1000 * model_cpu:.0f} ms "
                  f"(when the CPU is the limit, the batch can reach {100 * model_cpu / figures['cpu_per_photo']:.0f}%)")
            print(f"  RSS at 10% {rss.get(0.1, float('nan')):.0f} MB, 50% {rss.get(0.5, float('nan')):.0f} MB, "
                  f"end {rss[1.0]:.0f} MB, peak {figures['peak']:.0f} MB")
            shutil.rmtree(out, ignore_errors=True)
            before = after
    return 0


if __name__ == "__main__":
    sys.exit(main())

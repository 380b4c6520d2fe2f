"""CPU cost of one network next to the floor this machine sets for it.

For a chosen network, width and working size it prints:

- the parameter count and the FLOPs of one forward pass (counted by
  ``torch.utils.flop_counter.FlopCounterMode``: convolutions and matrix products, 2 per
  multiply-add; batch norm, ReLU and pooling are not counted),
- milliseconds per image (batch 1, channels_last, ``torch.inference_mode``) in float32 and,
  where the CPU has native bfloat16, with bfloat16 autocast: the median, min and max of the
  wall-clock time, and the median CPU time the process spent (all its threads),
- the floor: those FLOPs divided by the rate of a large matrix product measured in the same
  run, interleaved with the network's runs (``torch.mm``; the same product as a 1x1
  convolution, which runs in oneDNN like the network's convolutions; and a 3x3 convolution,
  an implicit matrix product in the networks' own form; the fastest counts, and the best run
  of each, since load can only hide a machine's speed, never raise it); as wall time, and as
  CPU time from the product's FLOPs per CPU-second,
- the share of the floor the network reaches (floor / median),
- each of these for the network as trained and with its batch norms folded into its
  convolutions (``core.models.networks.fold``), which is how the app, the CLI and the batch
  run it.

On a shared machine (a training run, other tests) wall times swing with the load; CPU times
much less, so the CPU columns are the ones to compare between runs. The load average is
printed with the figures.

    nice -n 10 .venv/bin/python benchmarks/bench_model.py --arch maskingnet --width 16 --size 512
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from core.models.device import cpu_has_fast_bf16  # noqa: E402
from core.models.networks import MODEL_NAMES, SIZE_MULTIPLE, count_parameters, create_model  # noqa: E402
from core.models.networks.fold import fold_batch_norm  # noqa: E402


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass (2 per multiply-add) as torch's flop counter sees them."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    return int(counter.get_total_flops())


def timed(function: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def matrix_products(n: int, dtype: torch.dtype) -> dict[str, tuple[Callable[[], object], float]]:
    """Large matrix products (callable, FLOPs) done three ways.

    ``torch.mm`` (n x n by n x n) goes to the BLAS torch was built with (MKL on x86, which may
    not use the widest vector units of a non-Intel CPU). The same product written as a 1x1
    convolution over n pixels goes to oneDNN, the library that runs the networks'
    convolutions. A 3x3 convolution (n/4 channels in and out over 4n pixels) is a matrix
    product too (implicit GEMM, 9 n/4 deep), in the form the networks use most.
    """
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    side = 1 << (n.bit_length() // 2)
    pixels = torch.randn(1, n, side, n // side).to(dtype).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(n, n, 1, 1).to(dtype).contiguous(memory_format=torch.channels_last)
    channels, square = max(1, n // 4), 2 * side
    image = torch.randn(1, channels, square, 4 * n // square).to(dtype).contiguous(memory_format=torch.channels_last)
    kernel = torch.randn(channels, channels, 3, 3).to(dtype).contiguous(memory_format=torch.channels_last)

    def conv1x1() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(pixels, weight)

    def conv3x3() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(image, kernel, padding=1)

    return {
        "torch.mm": (lambda: torch.mm(a, b, out=out), 2.0 * n**3),
        "1x1 conv": (conv1x1, 2.0 * n**3),
        "3x3 conv": (conv3x3, 2.0 * 9 * channels**2 * 4 * n),
    }


def measure(
    forward: Callable[[], object], products: dict[str, tuple[Callable[[], object], float]], runs: int, warmup: int
) -> tuple[list[tuple[float, float]], dict[str, list[tuple[float, float]]]]:
    """Network and matrix-product timings, interleaved so that both meet the same load."""
    for _ in range(warmup):
        forward()
        for product, _ in products.values():
            product()
    network: list[tuple[float, float]] = []
    product_times: dict[str, list[tuple[float, float]]] = {name: [] for name in products}
    for _ in range(runs):
        network.append(timed(forward))
        for name, (product, _) in products.items():
            product_times[name].append(timed(product))
    return network, product_times


def benchmark_precision(model: torch.nn.Module, x: torch.Tensor, flops: int, dtype: torch.dtype | None,
                        args: argparse.Namespace) -> dict[str, float]:
    def forward() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            model(x)

    products = matrix_products(args.matmul, dtype or torch.float32)
    network, times = measure(forward, products, args.runs, args.warmup)
    # Each product's best run: load can only hide a machine's speed, never raise it.
    wall_rates = {name: products[name][1] / min(wall for wall, _ in runs) for name, runs in times.items()}
    cpu_rates = {name: products[name][1] / min(max(cpu, 1e-9) for _, cpu in runs) for name, runs in times.items()}
    walls = [wall for wall, _ in network]
    cpus = [cpu for _, cpu in network]
    floor_wall_ms = 1000 * flops / max(wall_rates.values())
    floor_cpu_ms = 1000 * flops / max(cpu_rates.values())
    return {
        "wall_ms_median": 1000 * statistics.median(walls), "wall_ms_min": 1000 * min(walls),
        "wall_ms_max": 1000 * max(walls), "cpu_ms_median": 1000 * statistics.median(cpus),
        **{f"{name} GFLOP/s": rate / 1e9 for name, rate in wall_rates.items()},
        "GFLOP per CPU-second": max(cpu_rates.values()) / 1e9,
        "floor_wall_ms": floor_wall_ms, "floor_cpu_ms": floor_cpu_ms,
        "wall_share_of_floor": floor_wall_ms / (1000 * statistics.median(walls)),
        "cpu_share_of_floor": floor_cpu_ms / (1000 * statistics.median(cpus)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="maskingnet", choices=MODEL_NAMES)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--size", type=int, default=512, help=f"square input side, a multiple of {SIZE_MULTIPLE}")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per precision")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--matmul", type=int, default=1024, help="side of the square matrix product")
    parser.add_argument("--no-bf16", action="store_true", help="skip bfloat16 even where the CPU has it")
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    args = parser.parse_args(argv)
    if args.size % SIZE_MULTIPLE or args.size < SIZE_MULTIPLE:
        parser.error(f"--size must be a positive multiple of {SIZE_MULTIPLE}")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = create_model(args.arch, width=args.width).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, args.size, args.size).contiguous(memory_format=torch.channels_last)
    parameters = count_parameters(model)
    flops = count_flops(model, x)
    load_before = os.getloadavg()[0]
    precisions: list[tuple[str, torch.dtype | None]] = [("float32", None)]
    if cpu_has_fast_bf16() and not args.no_bf16:
        precisions.append(("bf16 autocast", torch.bfloat16))
    networks = [("", model), (" folded", fold_batch_norm(model).to(memory_format=torch.channels_last))]
    rows = [{"precision": label + suffix, **benchmark_precision(network, x, flops, dtype, args)}
            for label, dtype in precisions for suffix, network in networks]

    print(f"{args.arch} width {args.width} at {args.size}x{args.size}, batch 1, channels_last: "
          f"{parameters:,} parameters, {flops / 1e9:.2f} GFLOP per image")
    print(f"CPU: {torch.get_num_threads()} torch thread(s), native bf16: {'yes' if cpu_has_fast_bf16() else 'no'}, "
          f"load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after, torch {torch.__version__}")
    print(f"{'':21} {'--- wall ms per image ---':>40} {'-- CPU ms per image --':>24} "
          f"{'-- matrix products, GFLOP/s --':>42}")
    print(f"{'precision':21} {'median':>8} {'min':>8} {'max':>8} {'floor':>7} {'share':>6} {'median':>8} {'floor':>7} "
          f"{'share':>6} {'mm':>7} {'1x1conv':>8} {'3x3conv':>8} {'per CPU-s':>10}")
    for row in rows:
        print(f"{row['precision']:21} {row['wall_ms_median']:8.1f} {row['wall_ms_min']:8.1f} {row['wall_ms_max']:8.1f} "
              f"{row['floor_wall_ms']:7.1f} {row['wall_share_of_floor']:6.0%} {row['cpu_ms_median']:8.1f} "
              f"{row['floor_cpu_ms']:7.1f} {row['cpu_share_of_floor']:6.0%} {row['torch.mm GFLOP/s']:7.1f} "
              f"{row['1x1 conv GFLOP/s']:8.1f} {row['3x3 conv GFLOP/s']:8.1f} {row['GFLOP per CPU-second']:10.1f}")
    print(f"floor = GFLOP per image / the fastest of the matrix products (size {args.matmul}), best run of each; "
          "share = floor / median (how close the network comes to the machine's matrix speed); "
          "folded = batch norms folded into the convolutions, as the app runs the network")
    if args.json:
        print(json.dumps({"arch": args.arch, "width": args.width, "size": args.size, "parameters": parameters,
                          "flops": flops, "threads": torch.get_num_threads(), "load_average": load_before,
                          "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

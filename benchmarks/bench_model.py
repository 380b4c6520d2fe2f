"""CPU cost of one network next to the floor this machine sets for it.

For a chosen network, width and working size it prints:

- the parameter count and the FLOPs of one forward pass (counted by
  ``torch.utils.flop_counter.FlopCounterMode``: convolutions and matrix products, 2 per
  multiply-add; batch norm, ReLU and pooling are not counted),
- the machine's measured matrix-product rate (a large square product, the best of runs
  interleaved with the network's own; as ``torch.mm`` and as the same product written as a 1x1
  convolution, the faster counts), in float32 and, where the CPU has native bfloat16, in bfloat16,
- milliseconds per image (batch 1, channels_last, ``torch.inference_mode``; median, min and
  max over the timed runs) in float32 and with bfloat16 autocast, next to the floor
  FLOPs / matrix-product rate and the share of that floor the network reaches.

Everything is measured in the same run. The machine's load average is printed too: other
work on the CPU (a training run) slows both the network and the matrix product.

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

from core.device import cpu_has_fast_bf16  # noqa: E402
from core.models import MODEL_NAMES, SIZE_MULTIPLE, count_parameters, create_model  # noqa: E402


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass (2 per multiply-add) as torch's flop counter sees them."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    return int(counter.get_total_flops())


def seconds_of(function: Callable[[], object]) -> float:
    tick = time.perf_counter()
    function()
    return time.perf_counter() - tick


def matrix_products(n: int, dtype: torch.dtype) -> dict[str, Callable[[], object]]:
    """An n x n by n x n product done two ways (2 n^3 FLOPs each).

    ``torch.mm`` goes to the BLAS torch was built with (MKL on x86, which may not use the
    widest vector units of a non-Intel CPU); the same product written as a 1x1 convolution
    over n pixels goes to oneDNN, the library that runs the networks' convolutions. The
    faster of the two is what this machine can do, so it sets the floor.
    """
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    side = 1 << (n.bit_length() // 2)
    pixels = torch.randn(1, n, side, n // side).to(dtype).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(n, n, 1, 1).to(dtype).contiguous(memory_format=torch.channels_last)

    def conv() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(pixels, weight)

    return {"torch.mm": lambda: torch.mm(a, b, out=out), "1x1 conv": conv}


def measure(forward: Callable[[], object], products: dict[str, Callable[[], object]], runs: int,
            warmup: int) -> tuple[list[float], dict[str, list[float]]]:
    """Network and matrix-product timings, interleaved so that both meet the same load."""
    for _ in range(warmup):
        forward()
        for product in products.values():
            product()
    network: list[float] = []
    product_seconds: dict[str, list[float]] = {name: [] for name in products}
    for _ in range(runs):
        network.append(seconds_of(forward))
        for name, product in products.items():
            product_seconds[name].append(seconds_of(product))
    return network, product_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="maskingnet", choices=MODEL_NAMES)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--size", type=int, default=512, help=f"square input side, a multiple of {SIZE_MULTIPLE}")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per precision")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--matmul", type=int, default=2048, help="side of the square matrix product")
    parser.add_argument("--no-bf16", action="store_true", help="skip bfloat16 even where the CPU has it")
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    args = parser.parse_args(argv)
    if args.size % SIZE_MULTIPLE:
        parser.error(f"--size must be a multiple of {SIZE_MULTIPLE}")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = create_model(args.arch, width=args.width).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, args.size, args.size).contiguous(memory_format=torch.channels_last)
    parameters = count_parameters(model)
    flops = count_flops(model, x)
    bf16 = cpu_has_fast_bf16() and not args.no_bf16
    load_before = os.getloadavg()[0]

    precisions: list[tuple[str, torch.dtype | None]] = [("float32", None)]
    if bf16:
        precisions.append(("bf16 autocast", torch.bfloat16))
    rows = []
    for label, dtype in precisions:
        def forward(dtype: torch.dtype | None = dtype) -> None:
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                model(x)

        network, products = measure(forward, matrix_products(args.matmul, dtype or torch.float32), args.runs,
                                    args.warmup)
        product_flops = 2.0 * args.matmul**3
        # The machine's rate is the best one seen: a peak that load can only hide, never raise.
        rates = {name: product_flops / min(seconds) for name, seconds in products.items()}
        rate = max(rates.values())
        median_ms = 1000 * statistics.median(network)
        floor_ms = 1000 * flops / rate
        rows.append({"precision": label, "ms_median": median_ms, "ms_min": 1000 * min(network),
                     "ms_max": 1000 * max(network), "matmul_gflops": rate / 1e9,
                     "mm_gflops": rates["torch.mm"] / 1e9, "conv1x1_gflops": rates["1x1 conv"] / 1e9,
                     "floor_ms": floor_ms, "share_of_floor": floor_ms / median_ms,
                     "share_of_floor_best": floor_ms / (1000 * min(network))})

    print(f"{args.arch} width {args.width} at {args.size}x{args.size}, batch 1, channels_last: "
          f"{parameters:,} parameters, {flops / 1e9:.2f} GFLOP per image")
    print(f"CPU: {torch.get_num_threads()} torch threads, native bf16: {'yes' if cpu_has_fast_bf16() else 'no'}, "
          f"load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after, torch {torch.__version__}")
    print(f"{'precision':<14} {'ms/img median':>13} {'min':>8} {'max':>8} {'mm GFLOP/s':>11} {'1x1conv GFLOP/s':>16} "
          f"{'floor ms':>9} {'floor/median':>12} {'floor/min':>10}")
    for row in rows:
        print(f"{row['precision']:<14} {row['ms_median']:13.1f} {row['ms_min']:8.1f} {row['ms_max']:8.1f} "
              f"{row['mm_gflops']:11.1f} {row['conv1x1_gflops']:16.1f} {row['floor_ms']:9.1f} "
              f"{row['share_of_floor']:12.0%} {row['share_of_floor_best']:10.0%}")
    print(f"floor = FLOPs / the best {args.matmul}x{args.matmul} matrix product seen (interleaved with the network's "
          "runs); floor/median = the share of that speed the network reaches")
    if args.json:
        print(json.dumps({"arch": args.arch, "width": args.width, "size": args.size, "parameters": parameters,
                          "flops": flops, "threads": torch.get_num_threads(), "load_average": load_before,
                          "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

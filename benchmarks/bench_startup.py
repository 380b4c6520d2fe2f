"""Time from launching ``maskingnet-app`` to its first window, and to its model being ready.

Each run starts a fresh interpreter with ``MASKINGNET_STARTUP_REPORT=1``, which makes the app
print the wall-clock time when the window was shown and when the model finished loading, then
quit. The window must be up before torch is imported; the report says whether it was.

    python benchmarks/bench_startup.py [--runs 5] [--model M] [--platform offscreen|xcb]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def one_run(model: str | None, platform: str) -> tuple[float, float, bool]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MASKINGNET_STARTUP_REPORT": "1", "MASKINGNET_HOME": home, "QT_QPA_PLATFORM": platform,
               "XDG_CONFIG_HOME": home}
        command = [sys.executable, "-m", "maskingnet_app.main", "--device", "cpu"] + (["--model", model] if model else [])
        start = time.time()
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    shown = ready = None
    torch_first = True
    for line in done.stdout.splitlines():
        if line.startswith("window-shown"):
            shown = float(line.split()[1]) - start
            torch_first = line.endswith("torch-loaded=True")
        elif line.startswith("model-"):
            ready = float(line.split()[1]) - start
    if shown is None or ready is None:
        raise SystemExit(f"the app did not report its start-up:\n{done.stdout}\n{done.stderr[-2000:]}")
    return shown, ready, torch_first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None, help="model spec (default: the app's default)")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args()
    results = [one_run(args.model, args.platform) for _ in range(args.runs)]
    shown = [r[0] for r in results]
    ready = [r[1] for r in results]
    print(f"platform {args.platform}, {args.runs} runs, model {args.model or 'default'}")
    print(f"launch -> window shown: median {statistics.median(shown):.2f} s (min {min(shown):.2f}, max {max(shown):.2f})")
    print(f"launch -> model ready:  median {statistics.median(ready):.2f} s (min {min(ready):.2f}, max {max(ready):.2f})")
    print("torch imported before the window was shown: " + ("YES (regression)" if any(r[2] for r in results) else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Print the stanford-cars photo stems a model held out, one a line: the photos its outdoor figures
are judged on, which ``scripts/make_outdoor_labels.sh`` labels first (``run_teachers --only``).

Usage: python -m tools.outdoor_labels.held_out_photos [--model M] > stems.txt
"""

from __future__ import annotations

import argparse
import sys

from core.errors import CheckpointError
from tools.outdoor_labels.small_cars import held_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint or model name (default: the shipped model)")
    args = parser.parse_args(argv)
    try:
        _, stanford = held_out(args.model)
    except CheckpointError as error:
        raise SystemExit(f"held_out_photos: {error}") from None
    sys.stdout.write("".join(f"{stem}\n" for stem in stanford))
    return 0


if __name__ == "__main__":
    sys.exit(main())

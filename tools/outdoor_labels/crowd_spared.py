"""Crowd-composite labels that spare the main car's outline: teach "the parked car is background"
without teaching "what stands out from the car's side is background".

The crowd composites (``composites.py --neighbours N``) park other cars touching the main car's
sides, where its mirrors are, and label them background; a long run on them learned to drop
mirrors (session 29). From each crowd composite's mask and parked-car map
(``<crowd>/emphasis/<stem>.png``) this writes, under ``<crowd>/spared/`` (or ``--out``):

- ``confidence/<stem>.png``: 0 (unknown, left out of the loss) on parked-car pixels within
  ``band`` x the main car's width of its mask, 255 elsewhere;
- ``emphasis/<stem>.png``: the parked-car pixels beyond that band, and the main car's own
  protrusions (mirrors, antennas: its mask less its opening by a disc of ``protrusion`` x its width).

A mix source names them as its ``confidence`` and ``emphasis``
(``resources/recipes/outdoor-mix-crowd-spared.json``). Existing maps are kept (resumable).

Usage: python -m tools.outdoor_labels.crowd_spared --crowd DIR [--band F] [--protrusion F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from core.io.imageio import read_mask, write_image
from core.listing.framing import car_box
from tools.outdoor_labels.files import write_atomic

BAND = 0.05  # of the main car's width: about how far a mirror stands out from the body
PROTRUSION = 0.035  # of the main car's width: parts thinner than twice this count as protrusions


def protrusions(mask: np.ndarray, radius: int) -> np.ndarray:
    """(bool) the parts of ``mask`` that a disc of ``radius`` pixels cannot fit in: mirrors, antennas."""
    if radius < 1:
        return np.zeros_like(mask, dtype=bool)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    return mask & ~opened


def spared_maps(mask: np.ndarray, parked: np.ndarray, *, band: float = BAND,
                protrusion: float = PROTRUSION) -> tuple[np.ndarray, np.ndarray]:
    """(confidence uint8, emphasis uint8), both 0/255 and of ``mask``'s shape, for one crowd composite
    with main-car ``mask`` and parked-car pixels ``parked`` (both bool): parked pixels within ``band``
    x the car's width of the mask unknown; the parked pixels beyond it and the car's protrusions emphasised."""
    if mask.shape != parked.shape:
        raise ValueError(f"the parked-car map is {parked.shape[::-1]}, the mask {mask.shape[::-1]}")
    box = car_box(mask)
    width = box.width if box else 0
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    near = parked & (distance < band * width)
    emphasis = (parked & ~near) | protrusions(mask, round(protrusion * width))
    return np.where(near, 0, 255).astype(np.uint8), emphasis.astype(np.uint8) * 255


def build(crowd: Path, *, band: float = BAND, protrusion: float = PROTRUSION, out: Path | None = None) -> dict:
    """Write ``<out>/{confidence,emphasis}`` (default ``<crowd>/spared``) for every crowd composite with a
    mask and a parked map (existing maps kept); returns a report (counts, settings, share of parked
    pixels made unknown)."""
    out = out or crowd / "spared"
    for sub in ("confidence", "emphasis"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    written = kept = 0
    parked_pixels = unknown_pixels = 0
    for parked_path in sorted((crowd / "emphasis").glob("*.png")):
        confidence_path, emphasis_path = out / "confidence" / parked_path.name, out / "emphasis" / parked_path.name
        if confidence_path.exists() and emphasis_path.exists():
            kept += 1
            continue
        mask_path = crowd / "masks" / parked_path.name
        if not mask_path.is_file():
            continue
        parked = read_mask(parked_path)
        confidence, emphasis = spared_maps(read_mask(mask_path), parked, band=band, protrusion=protrusion)
        parked_pixels += int(parked.sum())
        unknown_pixels += int((confidence == 0).sum())
        write_image(confidence_path, confidence)
        write_image(emphasis_path, emphasis)
        written += 1
    report = {"folder": str(out), "written": written, "kept": kept, "band": band, "protrusion": protrusion,
              "parked_share_unknown": round(unknown_pixels / parked_pixels, 4) if parked_pixels else None}
    write_atomic(json.dumps(report, indent=1).encode(), out / "report.json")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crowd", type=Path, required=True, help="the crowd composites (<cache>/composites-crowd)")
    parser.add_argument("--band", type=float, default=BAND, help="unknown band around the main car, x its width")
    parser.add_argument("--protrusion", type=float, default=PROTRUSION,
                        help="disc radius, x the car's width: thinner parts are emphasised protrusions")
    parser.add_argument("--out", type=Path, help="where to write (default <crowd>/spared)")
    args = parser.parse_args(argv)
    if not (args.crowd / "emphasis").is_dir():
        print(f"{args.crowd}: no emphasis/ folder of parked-car maps (build it with composites.py --neighbours N)",
              file=sys.stderr)
        return 2
    report = build(args.crowd, band=args.band, protrusion=args.protrusion, out=args.out)
    print(f"crowd_spared: {report['written']} written, {report['kept']} kept in {report['folder']}; "
          f"{report['parked_share_unknown']} of the parked-car pixels written are unknown")
    return 0


if __name__ == "__main__":
    sys.exit(main())

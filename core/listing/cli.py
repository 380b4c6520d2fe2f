"""The listing options of ``maskingnet predict``: ``--preset`` and the pieces on their own."""

from __future__ import annotations

import argparse
from dataclasses import replace

from core.listing.background import parse_background
from core.listing.presets import BUILTIN_PRESETS, ListingSpec, find_preset, with_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("listing photos (framed, on a background, with a shadow)")
    group.add_argument("--preset", help="a listing preset, e.g. " + ", ".join(repr(p.name) for p in BUILTIN_PRESETS[:3])
                       + " (yours are in <app home>/listing_presets.json)")
    group.add_argument("--background", help="transparent, #rrggbb, gradient:#top,#bottom, studio-white, "
                       "showroom-grey, charcoal, or an image file (scaled to cover)")
    group.add_argument("--shadow", action=argparse.BooleanOptionalAction, default=None,
                       help="a soft contact shadow under the car (default: on for opaque backgrounds)")
    group.add_argument("--size", help="the output's size WxH, the car framed inside it (e.g. 1600x1200)")
    group.add_argument("--margin", type=float, help="the margin around the car as a share of each side (e.g. 0.1)")
    group.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=True,
                       help="estimate the car's own colour on its edges (default: on)")


def spec_from_args(args: argparse.Namespace) -> ListingSpec | None:
    """The listing asked for, None for a plain cut-out; ValueError (one line) when unusable."""
    if not (args.preset or args.background or args.shadow is not None or args.size or args.margin is not None):
        return None
    spec = find_preset(args.preset).spec if args.preset else ListingSpec(0, 0, background="transparent")
    if args.background:
        parse_background(args.background)
        spec = replace(spec, background=args.background)
    if args.size:
        spec = with_size(spec, args.size)
    if args.margin is not None:
        if not spec.framed:
            raise ValueError("--margin frames the car in an output size: give --size or --preset too")
        spec = replace(spec, margin=args.margin)
    if args.shadow is not None:
        spec = replace(spec, shadow=args.shadow)
    return replace(spec, decontaminate=args.decontaminate).checked()


def output_format(requested: str | None, spec: ListingSpec | None) -> str:
    """The format to write: the one asked for, else JPEG for a listing on an opaque background,
    else a PNG."""
    if requested:
        if spec is not None and requested == "mask":
            raise ValueError("a listing photo cannot be a mask; choose --format png, jpeg or webp")
        return requested
    return "jpeg" if spec is not None and parse_background(spec.background).opaque else "png"

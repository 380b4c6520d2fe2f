"""The ``maskingnet`` command: predict, eval and train, on the same core as the app (the app itself is
``maskingnet-app``, in ``maskingnet_app.main``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence, TextIO

from core import __version__
from core.errors import MaskingNetError, printable
from core.io.atomic import ensure_writable_folder
from core.io.records import one_line


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream, self.count = total, stream, 0
        self.started = time.monotonic()
        self.enabled = stream.isatty()

    def advance(self, label: str = "") -> None:
        self.count += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        left = max(0, self.total - self.count) / rate if rate else 0.0
        filled = min(30, int(30 * self.count / max(1, self.total)))
        text = f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} {rate:.1f}/s {left:.0f}s left {label[:30]:30}"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


@contextlib.contextmanager
def removed_if_left_empty(folder: Path) -> Iterator[None]:
    """Remove ``folder`` and the parents made for it when the block fails and leaves them empty."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for made in missing:  # innermost first; stops at the first one that holds something
            try:
                made.rmdir()
            except OSError:
                break
        raise


def whole_number(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def feather_pixels(text: str) -> float:
    """An argparse type: a finite feather width from 0 to ``MAX_FEATHER`` pixels."""
    from core.masking.export import MAX_FEATHER

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_FEATHER:
        raise argparse.ArgumentTypeError(f"must be a number of pixels from 0 to {MAX_FEATHER:g}, got {text}")
    return value


def _notes(lines: Sequence[str], limit: int = 5) -> None:
    """Print one ``note:`` line each (at most ``limit``, then how many more)."""
    for line in lines[:limit]:
        print(f"note: {printable(line)}", file=sys.stderr)
    if len(lines) > limit:
        print(f"note: and {len(lines) - limit} more", file=sys.stderr)


def _report_left_out(left_out: list, listed: bool) -> int:
    """Say what the folder scan left out (a count, the names when ``listed``); returns the
    number of folders that could not be read (each an error)."""
    from core.io.imageio import describe_left_out

    unreadable = [item for item in left_out if item.unreadable]
    for item in unreadable:
        print(f"error: {printable(item.path)}: {item.reason}", file=sys.stderr)
    summary = describe_left_out(left_out)
    if summary:
        print(f"note: {summary}" + ("" if listed else "; --list-left-out names them"), file=sys.stderr)
        if listed:
            for item in left_out:
                if not item.unreadable:
                    print(f"left out: {printable(item.path)} ({item.reason})", file=sys.stderr)
    return len(unreadable)


def _load_segmenter(args: argparse.Namespace):
    """The model of ``args.model`` with the command line's inference options (mirror pass, close-up, frame's
    edge, studio outline, context look): one place for ``predict`` and ``eval``."""
    from core.masking.inference import Segmenter

    return Segmenter.load(args.model, device=args.device, flip_tta=args.tta, close_up=args.close_up,
                          frame_edge=args.frame_edge, studio_outline=args.studio_outline,
                          context_look=args.context_look)


def run_predict(args: argparse.Namespace) -> int:
    """Batch-export photos or folders; the same engine as the app's "Process folder"."""
    from core.batch.pipeline import plan_jobs, run_batch
    from core.batch.progress import BatchProgress
    from core.batch.review import ReviewLog, group_cars, rank_by_doubt
    from core.listing import cli as listing_cli
    from core.masking.export import ExportOptions
    from core.models.checkpoint import read_config
    from core.models.model_store import resolve_model
    from core.store.corrections import CorrectionStore

    listing = listing_cli.spec_from_args(args)
    fmt = listing_cli.output_format("mask" if args.mask_only else args.format, listing)
    options = ExportOptions(format=fmt, feather=args.feather, listing=listing)
    left_out: list = []
    jobs = plan_jobs(args.paths, args.out, options, recursive=args.recursive, left_out=left_out)
    unreadable = _report_left_out(left_out, args.list_left_out)
    if not jobs:
        print("error: no images found in " + ", ".join(printable(path) for path in args.paths), file=sys.stderr)
        return 1
    if not any(os.path.exists(job.source) for job in jobs):  # nothing to mask: no model, no folder
        for job in jobs:
            print(f"error: {job.source}: no such file", file=sys.stderr)
        return 1
    read_config(resolve_model(args.model))  # a missing or unreadable model fails before the output folder is made
    with removed_if_left_empty(args.out):
        ensure_writable_folder(args.out)
        segmenter = _load_segmenter(args)
    segmenter.on_notice = lambda message: print(f"note: {message}", file=sys.stderr)
    if args.batch_size:
        segmenter.batch_size = args.batch_size
    progress = BatchProgress(len(jobs))
    live = sys.stderr.isatty()
    review = ReviewLog(args.out)
    corrections = CorrectionStore()
    for result in run_batch(jobs, segmenter, options, skip_existing=args.skip_existing, out_dir=args.out,
                            review=review, corrections=corrections, threads=args.threads):
        progress.add(result)
        if result.status == "failed":
            print(("\n" if live else "") + f"error: {printable(result.error)}", file=sys.stderr)
        if live:
            sys.stderr.write(f"\r{progress.describe()}  {result.source.name[:40]:40}")
            sys.stderr.flush()
    if live:
        sys.stderr.write("\n")
    counts = progress.counts
    print(f"{counts['done']} masked, {counts['skipped']} skipped, {counts['failed']} failed "
          f"({segmenter.name} on {segmenter.device_label}) -> {printable(args.out)}", file=sys.stderr)
    items = review.items()
    _notes(review.problems + corrections.problems)
    doubtful = [item for item in rank_by_doubt(items.values())[:5] if item.doubt is not None]
    if doubtful:
        print("check first: " + ", ".join(f"{printable(item.output)} ({item.doubt:.3f})" for item in doubtful),
              file=sys.stderr)
    flagged = [car for car in group_cars(items.values()) if car.flagged]
    if flagged:
        print("masks disagree across angles: "
              + ", ".join(f"{printable(car.car)} ({car.disagreement:.2f})" for car in flagged[:5]),
              file=sys.stderr)
    return 1 if counts["failed"] or unreadable else 0


def run_eval(args: argparse.Namespace) -> int:
    from core.models.checkpoint import read_config
    from core.models.model_store import resolve_model
    from core.training.data import find_samples
    from core.training.evaluate import evaluate_folder

    if (args.masks is None) == (args.parts is None):
        raise ValueError("give --masks (whole-car masks) or --parts (part labels), one of them")
    for folder in (args.images, args.masks if args.masks is not None else args.parts):  # before the model loads
        if not folder.is_dir():
            raise ValueError(f"{printable(folder)}: no such folder")
    model_path = resolve_model(args.model)
    config = read_config(model_path)  # the model file's header: cheap, and no pickle is ever read
    groups = None
    if args.held_out and args.parts is None:
        from core.io.records import Fields

        groups = set(Fields(config.info, model_path, "info").list("val_groups", [], of=str))
        if not groups:
            raise ValueError(f"{printable(model_path)}: the model records no held-out validation cars")
    if args.masks is not None and not find_samples(args.images, args.masks)[0]:
        raise ValueError(f"{printable(args.images)}: no photos with masks in {printable(args.masks)}")
    segmenter = _load_segmenter(args)
    if args.parts is not None:
        from core.training.evaluate_parts import evaluate_parts, read_part_names

        names = read_part_names(args.part_names) if args.part_names else None
        parts_report = evaluate_parts(segmenter, args.images, args.parts, part_names=names, limit=args.limit,
                                      progress=ProgressBar(0))
        print(json.dumps(parts_report.to_dict()) if args.json else parts_report.summary())
        return 0
    report = evaluate_folder(segmenter, args.images, args.masks, limit=args.limit, progress=ProgressBar(0), groups=groups,
                             confidence_dir=args.confidence)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
    return 0


def run_train(args: argparse.Namespace) -> int:
    from core import cli_train

    return cli_train.run(args)


def run_average(args: argparse.Namespace) -> int:
    from core.models.model_store import resolve_model
    from core.training.averaging import save_average

    config = save_average(args.out, [resolve_model(str(spec)) for spec in args.models], args.shares)
    shares = ", ".join(f"{entry['file']} {entry['share']:.3g}" for entry in config.info["averaged_from"])
    print(f"wrote {printable(args.out)}: the average of {shares}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskingnet", description="Car photo background removal with MaskingNet.")
    parser.add_argument("--version", action="version", version=f"maskingnet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def model_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", default=None,
                         help="checkpoint file, run folder or model name (default: the active model, as chosen in the app)")
        sub.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, mps or cpu")
        sub.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                         help="average with the mirrored photo: a better mask, twice the model time (default: on)")
        sub.add_argument("--close-up", action=argparse.BooleanOptionalAction, default=True,
                         help="mask a car that stands small in the photo again from a crop around it: a finer "
                              "outline, up to twice the model time for those photos (default: on)")
        sub.add_argument("--frame-edge", action=argparse.BooleanOptionalAction, default=True,
                         help="mask a car cut by the frame again from the photo reflected outward on the sides it "
                              "touches: keeps the car up to the edge, twice the model time for those photos "
                              "(default: on)")
        sub.add_argument("--context-look", action=argparse.BooleanOptionalAction, default=True,
                         help="with --tta, mask each photo again at a smaller size and clear the large regions both "
                              "answers call background (a canopy, a wall, a person taken for car): two model calls "
                              "at 0.4 of the cost each, two more by the model's context network where its file holds "
                              "one (default: on)")
        sub.add_argument("--studio-outline", action=argparse.BooleanOptionalAction, default=True,
                         help="with --tta, let the model's studio outline expert (the default model has one) draw "
                              "the outline of a car on a studio-like photo: a low-resolution glance per view, one model "
                              "call more where the glance agrees (default: on)")

    predict = commands.add_parser("predict", help="cut out photos: RGBA PNGs or masks")
    predict.add_argument("paths", nargs="+", type=Path, help="photos or folders")
    predict.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    predict.add_argument("--mask-only", action="store_true", help="write 8-bit 0/255 masks instead of cut-outs")
    predict.add_argument("--format", choices=["png", "mask", "jpeg", "webp"],
                         help="png: transparent cut-out (the default); jpeg/webp: on white (a listing photo: "
                              "jpeg on an opaque background)")
    predict.add_argument("--feather", type=feather_pixels, default=0.0, help="soften the edge by this many pixels")
    predict.add_argument("--recursive", action="store_true", help="scan sub-folders, mirrored in the output")
    predict.add_argument("--list-left-out", action="store_true",
                         help="name each file the folder scan left out (by default only their count is given)")
    predict.add_argument("--skip-existing", action="store_true",
                         help="leave photos whose output exists (resume an interrupted run)")
    predict.add_argument("--batch-size", type=whole_number(0), default=0,
                         help="photos per model call (default: 1 on the CPU, 4 on a GPU)")
    predict.add_argument("--threads", type=whole_number(0), default=0,
                         help="CPU threads for the model (default: all cores but one, which decodes and encodes)")
    model_options(predict)
    from core.listing import cli as listing_cli

    listing_cli.add_arguments(predict)
    predict.set_defaults(handler=run_predict)

    evaluate = commands.add_parser("eval", help="mean Dice of a model on photos with masks")
    evaluate.add_argument("--images", required=True, type=Path, help="folder of photos")
    evaluate.add_argument("--masks", type=Path, help="folder of whole-car masks (<stem>.png or <stem>_mask.gif)")
    evaluate.add_argument("--confidence", type=Path,
                          help="folder of 8-bit maps <stem>.png: score only the pixels > 127 (labels made by teachers)")
    evaluate.add_argument("--parts", type=Path, help="folder of part label maps <stem>.png (0 = not labelled): "
                          "report the share of labelled car-part pixels kept, instead of Dice")
    evaluate.add_argument("--part-names", type=Path, help="JSON {\"1\": \"wheel\", ...} naming the parts (with --parts)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--limit", type=whole_number(0), default=0, help="only the first N photos (sorted)")
    evaluate.add_argument("--held-out", action="store_true",
                          help="only the photos of the cars the model held out for validation (recorded in it)")
    model_options(evaluate)
    evaluate.set_defaults(handler=run_eval)

    from core import cli_train

    train = commands.add_parser("train", help="train or fine-tune a model")
    cli_train.add_arguments(train)
    train.set_defaults(handler=run_train)

    average = commands.add_parser("average", help="one model from the weights of several runs of one network")
    average.add_argument("models", nargs="+", help="model files, run folders or names, all of the same network")
    average.add_argument("-o", "--out", required=True, type=Path, help="the averaged model file to write")
    average.add_argument("--shares", nargs="+", type=float, default=None,
                         help="relative share of each model, in order (default: equal)")
    average.set_defaults(handler=run_average)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "model", "") is None:  # the one record of the model in use, as the app reads it
            from core.models.model_versions import active_model

            args.model = active_model()
        return args.handler(args)
    except (MaskingNetError, ValueError, OSError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Reviewing a batch: which masks to check first, the user's marks, cars whose angles disagree.

A batch keeps a log in its output folder, ``<out>/.maskingnet-review.jsonl``: one JSON object
per line, appended as photos are exported and as the user marks them; the last line about an
output wins. Appending never rewrites what is already there, so a run killed at any moment
loses at most the line being written (a torn last line is ignored on reading); the log is
compacted by an atomic rewrite when it has grown well past one line per photo.

Line kinds:

- ``{"kind": "options", ...}``: the export options of the latest run (used to re-export fixes)
- ``{"kind": "result", "output": <relative path>, "source": ..., "car": ..., "angle": ...,
  "uncertainty": ..., "mirror": ..., "area": ..., "corrected": ...}``: a photo was exported
- ``{"kind": "mark", "output": ..., "mark": "accepted" | "needs_fixing" | "fixed" | ""}``

This module is Qt-free and does not import torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Literal, get_args

import numpy as np

from core.errors import MaskingNetError, printable
from core.grouping import car_and_angle
from core.io.atomic import write_bytes_atomic
from core.io.records import Fields, RecordError, hold_lock, inside, one_line, open_nofollow, parse_json, read_bytes
from core.listing.framing import Box, GroupFrame, fit_group
from core.listing.presets import ListingSpec, spec_from_dict
from core.masking.doubt import EMPTY_AREA, doubt_score
from core.masking.export import ExportOptions

if TYPE_CHECKING:
    from core.batch.jobs import BatchJob, BatchResult
    from core.store.corrections import CorrectionStore

REVIEW_LOG_NAME = ".maskingnet-review.jsonl"
LOCK_NAME = ".maskingnet-batch.lock"  # held by the batch writing into the folder
MAX_LOG_BYTES = 256 << 20  # about a million lines; a larger log is not read
MAX_PROBLEMS = 5  # bad lines described one by one in ReviewLog.problems; the rest are counted once

ReviewMark = Literal["", "accepted", "needs_fixing", "fixed"]  # as written in the log; "" = not reviewed
UNREVIEWED: ReviewMark = ""
ACCEPTED: ReviewMark = "accepted"
NEEDS_FIXING: ReviewMark = "needs_fixing"
FIXED: ReviewMark = "fixed"
MARKS: tuple[ReviewMark, ...] = get_args(ReviewMark)
MARK_LABELS = {UNREVIEWED: "not reviewed", ACCEPTED: "accepted", NEEDS_FIXING: "needs fixing", FIXED: "fixed"}

# A car is flagged when the mask area of one angle differs from a neighbouring angle's by more
# than this share of the car's median area. Hand-made Carvana masks never exceed 0.26
# (99th percentile 0.245 over 272 cars x 16 angles), so a larger jump is a mask error.
DISAGREEMENT_FLAG = 0.3

# "<car>_<nn>" (Carvana's "<12 hex digits>_<01..16>", or e.g. "VIN123_04").


@dataclass
class ReviewItem:
    """What the review knows about one exported photo; ``output`` (relative, '/'-separated) is the key."""

    output: str
    source: str = ""
    car: str = ""
    angle: int = -1  # position of the photo around its car; -1 when the name has no number
    uncertainty: float | None = None
    mirror: float | None = None
    area: float | None = None
    corrected: bool = False
    mark: ReviewMark = UNREVIEWED
    updated: float = 0.0
    box: tuple[int, int, int, int] | None = None  # the car's box in the photo, for a listing framed with its car

    @property
    def doubt(self) -> float | None:
        """How unsure the mask is, for sorting (``core.masking.doubt.doubt_score``): larger = check
        first; None = not scored."""
        return None if self.uncertainty is None else doubt_score(self.uncertainty, self.mirror, self.area)

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else Path(self.output).name


@dataclass
class CarSummary:
    """The photos of one car in angle order, and how much their mask areas jump between neighbours."""

    car: str
    items: list[ReviewItem] = field(default_factory=list)
    disagreement: float = 0.0  # largest neighbour-to-neighbour area change / the car's median area
    worst_pair: tuple[str, str] | None = None  # outputs of the two angles with that change
    flagged: bool = False

    @property
    def doubt(self) -> float:
        scores = [item.doubt for item in self.items if item.doubt is not None]
        return max(scores, default=0.0)


@contextlib.contextmanager
def folder_lock(out_dir: str | Path) -> Iterator[bool]:
    """Try to hold ``<out_dir>/.maskingnet-batch.lock``: yields True while held, False (and
    nothing held) when a batch (of this or another process) holds it.

    The operating system drops the lock when its process dies, so a killed run never blocks
    the next one. A symbolic link or special file planted under the lock's name is refused
    (``RecordError``), never followed. Where file locks are not available (Windows) it always
    yields True.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with hold_lock(out_dir / LOCK_NAME) as held:
        yield held


class ReviewLog:
    """The review log of one output folder. Safe to share between threads of one process."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / REVIEW_LOG_NAME
        self.problems: list[str] = []  # one line per bad line skipped by the last load
        self._lock = threading.Lock()

    def key(self, output: str | Path) -> str:
        """The log key of an output file: its path relative to the output folder."""
        output = Path(output)
        try:
            return output.relative_to(self.out_dir).as_posix()
        except ValueError:
            return output.as_posix()

    def record_options(self, options: ExportOptions) -> None:
        self._append({"kind": "options", **asdict(options)})

    def record_result(self, result: BatchResult, job: BatchJob | None = None) -> None:
        """Note an exported photo; a fresh prediction clears the mark, a correction marks it fixed."""
        car, angle = car_and_angle(result.source, job.root if job is not None else None)
        self._append({
            "kind": "result", "output": self.key(result.output), "source": str(result.source), "car": car,
            "angle": angle, "uncertainty": _rounded(result.uncertainty), "mirror": _rounded(result.mirror),
            "area": _rounded(result.area), "corrected": bool(result.corrected),
            "mark": FIXED if result.corrected else UNREVIEWED,
            **({"box": list(result.box)} if result.box is not None else {}),
        })

    def record_known(self, result: BatchResult, job: BatchJob | None = None) -> None:
        """Note a photo exported earlier (skipped now) that the log does not know yet, unscored."""
        car, angle = car_and_angle(result.source, job.root if job is not None else None)
        self._append({"kind": "result", "output": self.key(result.output), "source": str(result.source),
                      "car": car, "angle": angle, "mark": UNREVIEWED})

    def set_mark(self, output: str | Path, mark: ReviewMark) -> None:
        if mark not in MARKS:
            raise ValueError(f"unknown mark {mark!r}; choose one of {', '.join(repr(m) for m in MARKS)}")
        self._append({"kind": "mark", "output": self.key(output), "mark": mark})

    def set_corrected(self, output: str | Path) -> None:
        """Note that ``output`` was re-exported from the user's correction (marks it fixed)."""
        self._append({"kind": "mark", "output": self.key(output), "mark": FIXED, "corrected": True})

    def options(self) -> ExportOptions | None:
        """The export options of the latest run, or None when the log has none."""
        return self.load()[1]

    def items(self) -> dict[str, ReviewItem]:
        return self.load()[0]

    def load(self) -> tuple[dict[str, ReviewItem], ExportOptions | None]:
        """Every output the log knows (keyed by relative output path) and the latest options.

        A line that is not a valid record (wrong types, a path leaving the folder) is skipped
        and described, one line each, in ``problems``. Compacts the file when it holds many
        superseded lines.
        """
        with self._lock:
            lines = self._read_lines()
            items: dict[str, ReviewItem] = {}
            options = None
            for record in lines:
                if isinstance(record, ExportOptions):
                    options = record
                else:
                    _apply(items, record)
            if len(lines) > 2 * len(items) + 200:
                try:
                    with folder_lock(self.out_dir) as idle:
                        if idle:  # never while a batch appends to the file (its lines would be lost)
                            self._compact(items, options)
                except (MaskingNetError, OSError) as error:  # the log still reads; it stays long
                    self.problems.append(one_line(error))
            return items, options

    def _read_lines(self) -> list[dict | ExportOptions]:
        """The valid records of the log, in order; a torn last line is ignored in silence, any
        other bad line is noted in ``problems``."""
        self.problems = []
        try:
            data = read_bytes(self.path, MAX_LOG_BYTES)
        except FileNotFoundError:
            return []
        except (RecordError, OSError) as error:
            self.problems.append(one_line(error) if isinstance(error, RecordError)
                                 else f"{printable(self.path)}: cannot read ({error.strerror or error})")
            return []
        records: list[dict | ExportOptions] = []
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_line(parse_json(self.path, line), self.path, f"line {number}"))
            except RecordError as error:
                torn = number == len(lines) and not text.endswith("\n")
                if not torn:  # a line torn by a crash is expected; anything else is reported
                    self._note(error)
        return records

    def _note(self, error: RecordError) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(one_line(error))
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append(f"{printable(self.path)}: more bad lines skipped")

    def _compact(self, items: dict[str, ReviewItem], options: ExportOptions | None) -> None:
        lines = []
        if options is not None:
            lines.append(json.dumps({"kind": "options", **asdict(options)}))
        for item in items.values():
            record = {"kind": "result", **asdict(item)}
            lines.append(json.dumps(record))
        write_bytes_atomic(self.path, ("\n".join(lines) + "\n").encode() if lines else b"")

    def _append(self, record: dict) -> None:
        record["time"] = round(time.time(), 3)
        line = json.dumps(record) + "\n"
        with self._lock:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # never through a symbolic link, never into a FIFO or device planted under the name
            fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
            with os.fdopen(fd, "a+b") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:  # after a line torn by a crash, start a fresh line
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        line = "\n" + line
                handle.write(line.encode())


def parse_line(data: Any, path: str | Path, where: str = "") -> dict | ExportOptions:
    """One log line as a checked record: ``ExportOptions`` for an options line, else a dict
    of the line's known fields with their types checked. ``RecordError`` (one line, naming
    ``path`` and ``where``) for anything else."""
    fields = Fields(data, path, where)
    kind = fields.str("kind", choices=("options", "result", "mark"))
    if kind == "options":
        return options_from(fields)
    output = fields.str("output")
    if not _is_relative_key(output):
        raise fields.error(f"the output {printable(output)!r} is not a path inside the output folder")
    record: dict[str, Any] = {"kind": kind, "output": output, "time": fields.float("time", 0.0)}
    record["mark"] = fields.str("mark", UNREVIEWED, choices=MARKS)
    record["corrected"] = fields.bool("corrected", False)
    if "updated" in fields.data and "time" not in fields.data:  # a compacted line
        record["time"] = fields.float("updated", 0.0)
    if kind == "result":
        record["source"] = fields.str("source", "")
        record["car"] = fields.str("car", "")
        record["angle"] = fields.int("angle", -1, low=-1, high=1_000_000)
        record["scored"] = "uncertainty" in fields.data  # a "known" line (no scores) keeps earlier scores
        for name in ("uncertainty", "mirror", "area"):
            record[name] = fields.float(name, None, low=0.0, high=2.0)
        box = fields.list("box", None, of=int)  # the car's box of a listing photo framed with its car
        if box is not None and len(box) != 4:
            raise fields.error("box must be 4 whole numbers")
        record["box"] = tuple(box) if box is not None else None
    return record


def options_from(fields: Fields) -> ExportOptions:
    """The export options of an options line (``RecordError`` when they are not valid)."""
    defaults = ExportOptions()
    background = fields.list("background", list(defaults.background), of=int)
    try:
        return ExportOptions(
            format=fields.str("format", defaults.format), background=tuple(background),
            feather=fields.float("feather", defaults.feather), quality=fields.int("quality", defaults.quality),
            listing=_listing_from(fields),
        )
    except ValueError as error:
        raise fields.error(str(error)) from None


def _listing_from(fields: Fields) -> ListingSpec | None:
    """The listing settings of an options line, None for plain cut-outs (ValueError when bad)."""
    listing = fields.dict("listing", None)
    return spec_from_dict(listing, "listing") if listing is not None else None


def _is_relative_key(output: str) -> bool:
    """A log key names a file below the output folder: relative, no '..', no empty name."""
    path = PurePosixPath(output)
    return bool(output) and not path.is_absolute() and "\\" not in output and ".." not in path.parts \
        and path.name not in ("", ".") and ":" not in path.parts[0]


def _apply(items: dict[str, ReviewItem], record: dict) -> None:
    key = record["output"]
    item = items.get(key) or ReviewItem(output=key)
    if record["kind"] == "result":
        item.source = record["source"] or item.source
        item.car = record["car"] or item.car
        item.angle = record["angle"] if "angle" in record else item.angle
        if record["scored"]:
            item.uncertainty, item.mirror, item.area = record["uncertainty"], record["mirror"], record["area"]
            item.corrected = record["corrected"]
            item.mark = record["mark"]
            item.box = record["box"]
    else:
        item.mark = record["mark"]
        item.corrected = item.corrected or record["corrected"]
    item.updated = record["time"]
    items[key] = item


def _car_frame(item: ReviewItem, log: ReviewLog, options: ExportOptions) -> GroupFrame | None:
    """The frame a listing photo shared with its car's other angles in the batch (from their
    logged boxes, so a re-exported angle keeps their scale and ground line); None otherwise."""
    spec = options.listing
    if spec is None or not spec.framed or item.box is None:
        return None
    boxes = [Box(*other.box) for other in log.items().values() if other.car == item.car and other.box is not None]
    return fit_group(boxes, spec.width, spec.height, spec.margin)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def rank_by_doubt(items: Iterable[ReviewItem]) -> list[ReviewItem]:
    """Most doubtful first; unscored photos last; ties by name, so the order is stable."""
    def order(item: ReviewItem) -> tuple:
        doubt = item.doubt
        return (doubt is None, -(doubt or 0.0), item.output)

    return sorted(items, key=order)


def angle_disagreement(areas: list[float], *, circular: bool) -> tuple[float, int]:
    """Largest change of mask area between neighbouring angles, relative to the median area.

    Returns (score, i): the jump is between angle ``i`` and ``i + 1`` (``i = n - 1`` pairs
    the last angle with the first when ``circular``). Fewer than two areas score 0.
    """
    values = np.asarray(areas, dtype=np.float64)
    if len(values) < 2:
        return 0.0, 0
    steps = np.abs(np.diff(np.append(values, values[0]) if circular and len(values) > 2 else values))
    median = float(np.median(values))
    scale = max(median, EMPTY_AREA)
    index = int(np.argmax(steps))
    return float(steps[index] / scale), index


def group_cars(items: Iterable[ReviewItem]) -> list[CarSummary]:
    """Photos grouped by car, each car's photos in angle order (then by name).

    Cars are sorted by their area disagreement across angles, largest first, so the car
    that disagrees most leads; a car is flagged when its disagreement passes
    ``DISAGREEMENT_FLAG`` (more than hand-made masks ever show).
    Angles count as a full turn (the last next to the first) for ``<car>_<nn>`` names.
    """
    cars: dict[str, CarSummary] = {}
    for item in items:
        cars.setdefault(item.car or ".", CarSummary(car=item.car or ".")).items.append(item)
    for summary in cars.values():
        summary.items.sort(key=lambda item: (item.angle, item.name))
        scored = [item for item in summary.items if item.area is not None]
        circular = all(item.angle >= 0 for item in scored) and len(scored) >= 8
        score, index = angle_disagreement([item.area for item in scored], circular=circular)
        summary.disagreement = score
        if len(scored) >= 2:
            summary.worst_pair = (scored[index].output, scored[(index + 1) % len(scored)].output)
        summary.flagged = score >= DISAGREEMENT_FLAG
    return sorted(cars.values(), key=lambda car: (-car.disagreement, car.car))


def reexport_from_correction(
    item: ReviewItem, log: ReviewLog, store: CorrectionStore | None = None, options: ExportOptions | None = None
) -> Path:
    """Export ``item``'s photo again with the user's corrected mask and mark it fixed.

    ``options`` default to the batch's own (from the log). Raises ``MaskingNetError`` with a
    one-line message when the photo or its correction is missing or does not fit.
    """
    from core.io.imageio import read_photo
    from core.masking.export import export_photo
    from core.store.corrections import CorrectionStore

    store = store or CorrectionStore()
    options = options or log.options() or ExportOptions()
    source = Path(item.source)
    mask = store.load_alpha(source)  # exact: soft brush edges and the model's outline stay
    if mask is None:
        raise MaskingNetError(f"{source}: has no saved correction")
    photo = read_photo(source)
    if mask.shape != photo.rgb.shape[:2]:
        raise MaskingNetError(f"{source}: the saved correction is {mask.shape[1]}x{mask.shape[0]}, "
                              f"the photo {photo.rgb.shape[1]}x{photo.rgb.shape[0]}")
    output = inside(log.out_dir, item.output, log.path)  # a planted '../x' or '/x' is refused
    output.parent.mkdir(parents=True, exist_ok=True)
    export_photo(photo, mask, output, options, _car_frame(item, log, options))
    log.set_corrected(item.output)
    return output

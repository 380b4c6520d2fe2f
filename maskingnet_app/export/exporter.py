"""Exporting edited masks: the naming rule, the remembered export settings, and the worker
that writes the files (atomically, never over an input photo)."""

from __future__ import annotations

import math
import string
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.errors import MaskingNetError, printable
from core.io.imageio import Photo, read_photo
from core.io.records import one_line
from core.listing.framing import GroupFrame
from core.listing.group_gate import frames_by_car
from core.masking.export import EXPORT_FORMATS, MAX_FEATHER, ExportOptions, export_photo
from maskingnet_app import app_settings
from maskingnet_app.worker import TaskQueue

PATTERN_FIELDS = ("stem", "name", "ext", "n", "format")
DEFAULT_PATTERN = "{stem}"


def check_pattern(pattern: str) -> str:
    """Raise ValueError (one line) unless ``pattern`` makes a plain file name."""
    if not pattern.strip():
        raise ValueError("the file name pattern is empty")
    try:
        parsed = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(pattern)
                  if name is not None]
    except ValueError as error:
        raise ValueError(f"the file name pattern {pattern!r} is malformed ({error})") from None
    names = [name for name, _, _ in parsed]
    if any(spec or conversion for _, spec, conversion in parsed):  # {stem:.0} would empty the name
        raise ValueError("the file name pattern's fields take no format ({stem:.0}, {n!r}): use plain {stem}, {n}, …")
    unknown = [name for name in names if name not in PATTERN_FIELDS]
    if unknown:
        raise ValueError(f"unknown field {{{unknown[0]}}} in the file name pattern; use "
                         + ", ".join("{" + f + "}" for f in PATTERN_FIELDS))
    if "stem" not in names and "name" not in names and "n" not in names:
        raise ValueError("the file name pattern needs {stem}, {name} or {n}, or every photo gets the same name")
    if any(sep in pattern for sep in ("/", "\\")):
        raise ValueError("the file name pattern must not contain folder separators")
    return pattern


def output_name(pattern: str, source: Path, index: int, options: ExportOptions) -> str:
    """The export file name of ``source``: the pattern's fields filled in, plus the format's suffix."""
    check_pattern(pattern)
    name = pattern.format(stem=source.stem, name=source.name, ext=source.suffix.lstrip("."), n=f"{index:04d}",
                          format=options.format)
    if not name.strip() or name.startswith("."):  # a hidden or nameless export would be lost
        raise ValueError(f"{printable(source)}: the file name pattern gives the name {printable(name)!r}; "
                         "it needs a visible name")
    return name if name.lower().endswith(options.suffix) else name + options.suffix


@dataclass(frozen=True)
class ExportSettings:
    """Where and how to export; ``folder`` '' means "ask" (never chosen yet)."""

    folder: str = ""
    pattern: str = DEFAULT_PATTERN
    options: ExportOptions = field(default_factory=ExportOptions)

    def output_path(self, source: Path, index: int = 1) -> Path:
        return Path(self.folder) / output_name(self.pattern, source, index, self.options)

    @classmethod
    def load(cls) -> ExportSettings:
        options = ExportOptions()
        fmt = app_settings.value("export/format", options.format, str)
        color = app_settings.value("export/background", "#ffffff", str).lstrip("#")
        try:
            background = tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            background = options.background
        options = ExportOptions(
            format=fmt if fmt in EXPORT_FORMATS else options.format,
            background=background if len(background) == 3 else options.background,
            feather=_within(app_settings.value("export/feather", 0.0, float), 0.0, MAX_FEATHER),
            quality=int(_within(app_settings.value("export/quality", options.quality, int), 1, 100)),
        )
        pattern = app_settings.value("export/pattern", DEFAULT_PATTERN, str)
        try:
            check_pattern(pattern)
        except ValueError:
            pattern = DEFAULT_PATTERN
        return cls(app_settings.value(app_settings.EXPORT_FOLDER, "", str), pattern, options)

    def save(self) -> None:
        app_settings.set_value(app_settings.EXPORT_FOLDER, self.folder)
        app_settings.set_value("export/pattern", self.pattern)
        app_settings.set_value("export/format", self.options.format)
        app_settings.set_value("export/background", "#{:02x}{:02x}{:02x}".format(*self.options.background))
        app_settings.set_value("export/feather", self.options.feather)
        app_settings.set_value("export/quality", self.options.quality)

    def with_folder(self, folder: str | Path) -> ExportSettings:
        return replace(self, folder=str(folder))


def _within(value: float, low: float, high: float) -> float:
    """``value`` clamped to [low, high]; ``low`` for NaN."""
    return min(high, max(low, value)) if math.isfinite(value) else (high if value > 0 else low)


@dataclass
class ExportItem:
    document_id: int
    source: Path
    alpha: np.ndarray  # (H, W) uint8, copied when queued
    output: Path


def plan_exports(settings: ExportSettings, sources: list[tuple[int, Path, np.ndarray]]) -> list[ExportItem]:
    """One item per (document id, photo, alpha); names that collide get -2, -3, …"""
    items, taken = [], set()
    for index, (document_id, source, alpha) in enumerate(sources, start=1):
        base = output = settings.output_path(source, index)
        counter = 2
        while output in taken:
            output = base.with_name(f"{base.stem}-{counter}{base.suffix}")
            counter += 1
        taken.add(output)
        items.append(ExportItem(document_id, source, alpha.copy(), output))
    return items


# The app exports the editor's alpha exactly: the model's anti-aliased outline and the values
# painted with the brush (core.masking.export keeps a uint8 alpha as it is, limited by the photo's own).
export_alpha = export_photo


def _failure(item: ExportItem, error: BaseException) -> str:
    """One line for a failed export: the core's messages name their file; others get the output's."""
    if isinstance(error, (MaskingNetError, ValueError, OSError)):
        return one_line(error)
    if isinstance(error, MemoryError):
        return f"{printable(item.output)}: not enough memory to export this photo"
    return f"{printable(item.output)}: {one_line(error)}"


class Exporter(QObject):
    """Writes ``ExportItem``s one by one on a worker thread; ``cancel`` stops between files."""

    itemDone = Signal(int, str)  # document id, output path
    itemFailed = Signal(int, str)  # document id, one-line message
    progress = Signal(int, int)  # done, total
    finished = Signal(int, int, bool)  # written, failed, cancelled

    def __init__(self, photo_source: Callable[[Path], Photo | None] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cached = photo_source or (lambda path: None)
        self._tasks = TaskQueue(self)
        self._cancel = threading.Event()
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self, items: list[ExportItem], options: ExportOptions, protected: set[Path]) -> bool:
        """Export ``items``; ``protected`` paths (the open photos) are never written. False when busy."""
        if self._running:
            return False
        self._running = True
        self._cancel.clear()
        self._tasks.submit(lambda: self._run(items, options, {p.resolve() for p in protected}))
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, msecs: int = -1) -> bool:
        return self._tasks.wait(msecs)

    def _run(self, items: list[ExportItem], options: ExportOptions, protected: set[Path]) -> None:
        """Contract: whatever happens, each item is reported done or failed and the exporter
        is free again at the end (``finished`` is emitted)."""
        written = failed = 0
        # listing photos: every angle of a car (among the photos exported) shares one frame
        frames = (frames_by_car([(item.source, item.alpha) for item in items], options.listing)
                  if options.listing is not None else [None] * len(items))
        try:
            for done, (item, frame) in enumerate(zip(items, frames)):
                if self._cancel.is_set():
                    break
                try:
                    self._export_one(item, options, protected, frame)
                    written += 1
                    self.itemDone.emit(item.document_id, str(item.output))
                except Exception as error:  # noqa: BLE001 - every failure is shown as one line
                    failed += 1
                    self.itemFailed.emit(item.document_id, _failure(item, error))
                self.progress.emit(done + 1, len(items))
        finally:
            self._running_done(written, failed, self._cancel.is_set())

    def _export_one(self, item: ExportItem, options: ExportOptions, protected: set[Path],
                    frame: GroupFrame | None = None) -> None:
        if item.output.resolve() in protected:
            raise ValueError(f"{item.output}: refusing to overwrite an open photo; choose another folder or name")
        photo = self._cached(item.source) or read_photo(item.source)
        if photo.rgb.shape[:2] != item.alpha.shape:
            raise ValueError(f"{item.source}: the photo changed size since it was masked")
        item.output.parent.mkdir(parents=True, exist_ok=True)
        export_alpha(photo, item.alpha, item.output, options, frame)

    def _running_done(self, written: int, failed: int, cancelled: bool) -> None:
        self._running = False
        self.finished.emit(written, failed, cancelled)

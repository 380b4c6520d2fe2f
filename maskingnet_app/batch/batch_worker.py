"""Runs ``core.batch.pipeline.run_batch`` on a worker thread and reports through Qt signals.

Contract: every signal is delivered on the GUI thread (the worker object lives there and the
work thread emits through queued connections). ``cancel()`` is honoured within a fraction of a
second; the run then ends with ``finished(counts, True)``. Torch is imported on the worker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from PySide6.QtCore import QObject, Signal

from core.masking.export import ExportOptions

if TYPE_CHECKING:
    from core.masking.inference import Segmenter

# A loaded model, a function that gives one (called on the worker thread), or a model spec.
ModelSource = Union["Segmenter", Callable[[], "Segmenter"], str, Path]


@dataclass
class BatchSettings:
    """What the user asked for in the batch dialog."""

    inputs: list[Path]
    out_dir: Path
    options: ExportOptions = field(default_factory=ExportOptions)
    recursive: bool = False
    redo: bool = False  # export again even where the output exists
    mirror: bool = True  # also mask the mirrored photo and average: better masks and doubt scores, twice the model time


def segmenter_of(source: ModelSource) -> Segmenter:
    """The ``Segmenter`` that ``source`` names (loading it when it is a spec)."""
    from core.masking.inference import Segmenter

    if isinstance(source, (str, Path)):
        return Segmenter.load(source)
    if callable(source) and not hasattr(source, "probabilities"):
        return source()
    return source


class BatchWorker(QObject):
    """One batch run; create, connect, ``start()``."""

    status = Signal(str)  # what it is doing now ("Loading the model…", "Masking…")
    planned = Signal(object)  # list[core.batch.pipeline.BatchJob], once, before any result
    result = Signal(object)  # core.batch.pipeline.BatchResult, one per photo
    progress = Signal(int, int, float, float)  # finished, total, photos/s, seconds left (-1: unknown)
    finished = Signal(object, bool)  # counts {"done", "skipped", "failed"}, cancelled
    failed = Signal(str)  # a one-line reason the run could not start or stopped

    def __init__(self, settings: BatchSettings, model: ModelSource, *, corrections=None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._model = model
        self._corrections = corrections
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.left_out: list = []  # core.io.imageio.LeftOut: what the folder scan left out, once planned

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="batch-run", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, seconds: float | None = None) -> bool:
        """Block until the run ended (tests, shutdown); True when it did."""
        if self._thread is not None:
            self._thread.join(seconds)
        return not self.running

    def _run(self) -> None:
        from core.io.records import one_line

        try:
            self._work()
        except MemoryError:
            self.failed.emit("not enough memory for this batch")
        except Exception as error:  # noqa: BLE001 - the worker reports every failure as one line
            self.failed.emit(one_line(error))

    def _work(self) -> None:
        from core.batch.pipeline import plan_jobs, run_batch
        from core.batch.progress import BatchProgress
        from core.batch.review import ReviewLog
        from core.errors import MaskingNetError
        from core.io.atomic import ensure_writable_folder
        from core.store.corrections import CorrectionStore

        settings = self.settings
        self.status.emit("Finding photos…")
        jobs = plan_jobs(settings.inputs, settings.out_dir, settings.options, recursive=settings.recursive,
                         left_out=self.left_out)
        if not jobs:
            names = ", ".join(str(path) for path in settings.inputs)
            raise MaskingNetError(f"{names}: no photos found" + ("" if settings.recursive else " (sub-folders not included)"))
        ensure_writable_folder(settings.out_dir)
        self.planned.emit(jobs)
        if self._cancel.is_set():
            self.finished.emit({"done": 0, "skipped": 0, "failed": 0}, True)
            return
        self.status.emit("Loading the model…")
        segmenter = segmenter_of(self._model)
        corrections = self._corrections() if callable(self._corrections) else self._corrections
        progress = BatchProgress(len(jobs))
        self.status.emit(f"Masking with {segmenter.name} on {segmenter.device_label}…")
        for result in run_batch(
            jobs, segmenter, settings.options, skip_existing=not settings.redo, should_stop=self._cancel.is_set,
            out_dir=settings.out_dir, review=ReviewLog(settings.out_dir),
            corrections=corrections if corrections is not None else CorrectionStore(), mirror=settings.mirror,
        ):
            progress.add(result)
            self.result.emit(result)
            left = progress.seconds_left
            self.progress.emit(progress.finished, progress.total, progress.rate, -1.0 if left is None else left)
        self.finished.emit(dict(progress.counts), self._cancel.is_set() and progress.finished < progress.total)

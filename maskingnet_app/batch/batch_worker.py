"""Runs ``core.batch.pipeline.run_batch`` on a ``GeneratorWorker`` and reports through Qt signals.

Contract: every signal is delivered on the GUI thread (the worker relays what the run yields).
``cancel()`` is honoured within a fraction of a second; the run then ends with
``finished(counts, True)``. Torch is imported on the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Union

from PySide6.QtCore import QObject, Signal

from core.masking.export import ExportOptions
from maskingnet_app.worker import GeneratorWorker

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
    # also mask the mirrored photo and average (with the context look and a model's studio outline expert):
    # better masks and doubt scores, 2-4 times the single pass's time
    mirror: bool = True


def segmenter_of(source: ModelSource) -> Segmenter:
    """The ``Segmenter`` that ``source`` names (loading it when it is a spec)."""
    from core.masking.inference import Segmenter

    if isinstance(source, (str, Path)):
        return Segmenter.load(source)
    if callable(source) and not hasattr(source, "probabilities"):
        return source()
    return source


class BatchWorker(QObject):
    """One batch run on a ``GeneratorWorker``; create, connect, ``start()``."""

    status = Signal(str)  # what it is doing now ("Loading the model…", "Masking…")
    planned = Signal(object)  # list[core.batch.jobs.BatchJob], once, before any result
    result = Signal(object)  # core.batch.jobs.BatchResult, one per photo
    progress = Signal(int, int, float, float)  # finished, total, photos/s, seconds left (-1: unknown)
    finished = Signal(object, bool)  # counts {"done", "skipped", "failed"}, cancelled
    failed = Signal(str)  # a one-line reason the run could not start or stopped

    def __init__(self, settings: BatchSettings, model: ModelSource, *, corrections=None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._model = model
        self._corrections = corrections
        self.left_out: list = []  # core.io.imageio.LeftOut: what the folder scan left out, once planned
        self._worker = GeneratorWorker(self._steps, name="batch-run")  # no parent: its thread keeps it alive
        self._worker.yielded.connect(self._relay)
        self._worker.returned.connect(lambda outcome: self.finished.emit(*outcome))
        self._worker.errored.connect(self._on_error)

    @property
    def running(self) -> bool:
        return self._worker.running

    def start(self) -> None:
        self._worker.start()

    def cancel(self) -> None:
        self._worker.cancel()

    def wait(self, seconds: float | None = None) -> bool:
        """Block until the run ended (tests, shutdown); True when it did."""
        return self._worker.wait(seconds)

    def _relay(self, update: tuple) -> None:
        kind, *values = update
        getattr(self, kind).emit(*values)  # status, planned, result or progress

    def _on_error(self, error: BaseException) -> None:
        from core.io.records import one_line

        self.failed.emit("not enough memory for this batch" if isinstance(error, MemoryError) else one_line(error))

    def _steps(self, should_stop: Callable[[], bool]) -> Iterator[tuple]:
        """On the worker's thread: yields ("status", text), ("planned", jobs), then ("result", result)
        and ("progress", ...) per photo; returns (counts, cancelled)."""
        from core.batch.pipeline import plan_jobs, run_batch
        from core.batch.progress import BatchProgress
        from core.batch.review import ReviewLog
        from core.errors import MaskingNetError
        from core.io.atomic import ensure_writable_folder
        from core.store.corrections import CorrectionStore

        settings = self.settings
        yield ("status", "Finding photos…")
        jobs = plan_jobs(settings.inputs, settings.out_dir, settings.options, recursive=settings.recursive,
                         left_out=self.left_out)
        if not jobs:
            names = ", ".join(str(path) for path in settings.inputs)
            raise MaskingNetError(f"{names}: no photos found" + ("" if settings.recursive else " (sub-folders not included)"))
        ensure_writable_folder(settings.out_dir)
        yield ("planned", jobs)
        if should_stop():
            return {"done": 0, "skipped": 0, "failed": 0}, True
        yield ("status", "Loading the model…")
        segmenter = segmenter_of(self._model)
        corrections = self._corrections() if callable(self._corrections) else self._corrections
        progress = BatchProgress(len(jobs))
        yield ("status", f"Masking with {segmenter.name} on {segmenter.device_label}…")
        for result in run_batch(
            jobs, segmenter, settings.options, skip_existing=not settings.redo, should_stop=should_stop,
            out_dir=settings.out_dir, review=ReviewLog(settings.out_dir),
            corrections=corrections if corrections is not None else CorrectionStore(), mirror=settings.mirror,
        ):
            progress.add(result)
            yield ("result", result)
            left = progress.seconds_left
            yield ("progress", progress.finished, progress.total, progress.rate, -1.0 if left is None else left)
        return dict(progress.counts), should_stop() and progress.finished < progress.total

"""The fine-tuning worker: runs ``core.training.finetune`` on a ``GeneratorWorker`` for the training dialog."""

from __future__ import annotations

from typing import Callable, Iterator

from PySide6.QtCore import QObject, Signal

from core.errors import MaskingNetError
from core.training import finetune as ft
from maskingnet_app.worker import GeneratorWorker

STOPPED = "Stopped: nothing was saved and the model in use is unchanged."


class FinetuneWorker(QObject):
    """Runs ``core.training.finetune.finetune`` and saves the finished run as a version, off the GUI thread.

    Exactly one of ``finished(version, result)``, ``stopped(message)`` or ``failed(message)``
    is emitted at the end, then ``ended``; the run folder is removed unless it became a version.
    The worker has no parent: its thread keeps it alive until the run has ended, even when the
    dialog that started it is gone.
    """

    progress = Signal(object)  # core.training.finetune.FinetuneEvent
    finished = Signal(object, object)  # ModelVersion, FinetuneResult
    stopped = Signal(str)
    failed = Signal(str)
    ended = Signal()  # after the one above, once the thread is done

    def __init__(self, settings: ft.FinetuneSettings, plan: ft.SplitPlan, sources: dict[str, str]) -> None:
        super().__init__()
        self.settings, self.plan, self.sources = settings, plan, sources
        self._worker = GeneratorWorker(self._run, name="finetune")
        self._worker.yielded.connect(self.progress)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self.ended)

    def start(self) -> None:
        self._worker.start()

    def request_stop(self) -> None:
        """Ask the run to end after the current step (thread-safe)."""
        self._worker.cancel()

    def wait(self, seconds: float | None = None) -> bool:
        """Block until the run has ended (shutdown); True when it has."""
        return self._worker.wait(seconds)

    def _run(self, should_stop: Callable[[], bool]) -> Iterator[ft.FinetuneEvent]:
        """On the worker's thread: yields the run's events; returns (version, result), or None when stopped."""
        run_dir = None
        try:
            ft.cleanup_stale_runs()
            run_dir = ft.new_run_dir()
            result = None
            for event in ft.finetune(self.settings, self.plan, run_dir, should_stop=should_stop, sources=self.sources):
                if event.kind == "stopped":
                    return None
                if event.kind == "done":
                    result = event.result
                else:
                    yield event
            if result is None:
                raise RuntimeError("the training ended without a result")
            version = ft.save_as_version(result)
            run_dir = None  # it is the version now
            return version, result
        finally:
            if run_dir is not None:
                ft.remove_run(run_dir)

    def _on_returned(self, outcome: tuple | None) -> None:
        if outcome is None:
            self.stopped.emit(STOPPED)
        else:
            self.finished.emit(*outcome)

    def _on_error(self, error: BaseException) -> None:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not isinstance(error, (MaskingNetError, ValueError, OSError)):
            message = f"{type(error).__name__}: {message}"
        self.failed.emit(f"Training failed: {message}. The model in use is unchanged.")

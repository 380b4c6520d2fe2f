"""The fine-tuning worker: runs ``core.training.finetune`` off the GUI thread for the training dialog."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import MaskingNetError
from core.training import finetune as ft


class FinetuneWorker(QObject):
    """Runs ``core.training.finetune.finetune`` and saves the finished run as a version, off the GUI thread.

    Exactly one of ``finished(version, result)``, ``stopped(message)`` or ``failed(message)``
    is emitted at the end; the run folder is removed unless it became a version.
    """

    progress = Signal(object)  # core.training.finetune.FinetuneEvent
    finished = Signal(object, object)  # ModelVersion, FinetuneResult
    stopped = Signal(str)
    failed = Signal(str)

    def __init__(self, settings: ft.FinetuneSettings, plan: ft.SplitPlan, sources: dict[str, str]) -> None:
        super().__init__()
        self.settings, self.plan, self.sources = settings, plan, sources
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Ask the run to end after the current step (thread-safe)."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        run_dir = None
        try:
            ft.cleanup_stale_runs()
            run_dir = ft.new_run_dir()
            result = None
            for event in ft.finetune(self.settings, self.plan, run_dir, should_stop=self._stop.is_set,
                                     sources=self.sources):
                if event.kind == "stopped":
                    self.stopped.emit("Stopped: nothing was saved and the model in use is unchanged.")
                    return
                if event.kind == "done":
                    result = event.result
                else:
                    self.progress.emit(event)
            if result is None:
                raise RuntimeError("the training ended without a result")
            version = ft.save_as_version(result)
            run_dir = None  # it is the version now
            self.finished.emit(version, result)
        except Exception as error:  # noqa: BLE001 - the thread's boundary: every failure becomes a message
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            if not isinstance(error, (MaskingNetError, ValueError, OSError)):
                message = f"{type(error).__name__}: {message}"
            self.failed.emit(f"Training failed: {message}. The model in use is unchanged.")
        finally:
            if run_dir is not None:
                ft.remove_run(run_dir)

"""The model service: owns the active ``Segmenter``, loads or switches it, and masks photos on a
worker thread with signals. Torch is imported on the worker, so the window is up first.

Contract:
- All public signals are emitted on the GUI thread.
- ``load`` and mask jobs run one at a time, in order, on the service's own task queue (``maskingnet_app.worker.TaskQueue``).
- ``load`` cancels the mask jobs still waiting (each emits ``jobCancelled``); callers resubmit.
- Other threads (the batch dialog, fine-tuning) use the model through ``borrow()``, which
  waits until the service is not using it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from core.io.records import one_line
from core.models import model_versions
from core.models.device import check_device_choice
from maskingnet_app import app_settings
from maskingnet_app.worker import TaskQueue

if TYPE_CHECKING:
    from core.masking.inference import Segmenter



class ServiceState(str, Enum):
    """Where the service's model stands."""

    IDLE = "idle"  # never loaded
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class MaskResult:
    """A mask the model made for one photo: ``alpha`` is (H, W) uint8 at full resolution, 0/255
    but anti-aliased along the outline; ``doubt`` is ``core.masking.doubt.doubt_score``; ``probability``
    the car probability 0..255 it came from (what the smart tools snap with)."""

    job: int
    path: Path
    alpha: np.ndarray
    seconds: float
    uncertainty: float
    model: str
    doubt: float = 0.0
    probability: np.ndarray | None = None


class _Job:
    def __init__(self, job_id: int, path: Path, task: Callable[[Segmenter], Any] | None = None) -> None:
        self.id = job_id
        self.path = path
        self.task = task
        self.cancelled = threading.Event()


class ModelService(QObject):
    """See the module docstring. ``spec`` defaults to the active model
    (``core.models.model_versions.active_model``, the choice the CLI starts on too)."""

    modelLoading = Signal(str)  # spec
    modelLoaded = Signal(str, str)  # model name, device label
    modelFailed = Signal(str)  # one-line message
    jobStarted = Signal(int, str)  # job id, photo path
    jobFinished = Signal(int, object)  # job id, MaskResult (or a task's result, see submit_task)
    jobFailed = Signal(int, str, str)  # job id, photo path, one-line message
    jobCancelled = Signal(int)  # job id
    progress = Signal(int, int)  # jobs done, jobs in this run (0, 0 when idle)
    notice = Signal(str)  # one-line notices from the model (e.g. a GPU memory fallback)

    _loadDone = Signal(object, object, str, str, bool)  # segmenter or None, spec, device label, message, remember
    _jobStarted = Signal(object)
    _jobDone = Signal(object, object, str)  # job, MaskResult or None, message

    def __init__(self, spec: str | Path | None = None, device: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._spec = str(spec) if spec else model_versions.active_model()
        self._device = device or app_settings.value(app_settings.MODEL_DEVICE, "auto", str)
        self._segmenter: Segmenter | None = None
        self._state = ServiceState.IDLE
        self._error = ""
        self._load_error = "no model is loaded"
        self._name = ""
        self._device_label = ""
        self._last_seconds: float | None = None
        self._lock = threading.Lock()
        self._tasks = TaskQueue(self)
        self._jobs: dict[int, _Job] = {}
        self._closed = False  # after shutdown(): nothing new starts
        self._next_id = 1
        self._done = 0
        self._total = 0
        self._loadDone.connect(self._on_load_done)
        self._jobStarted.connect(self._on_job_started)
        self._jobDone.connect(self._on_job_done)

    # -- state ---------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """The model spec loaded or being loaded."""
        return self._spec

    @property
    def device_preference(self) -> str:
        return self._device

    @property
    def state(self) -> ServiceState:
        return self._state

    @property
    def is_ready(self) -> bool:
        return self._state is ServiceState.READY

    @property
    def error(self) -> str:
        """Why the last load failed (one line), else ''."""
        return self._error

    @property
    def name(self) -> str:
        return self._name

    @property
    def device_label(self) -> str:
        """e.g. 'CPU, 2 threads' or 'CUDA: NVIDIA H100'; '' before a model is loaded."""
        return self._device_label

    @property
    def last_seconds(self) -> float | None:
        """How long the last mask took, or None."""
        return self._last_seconds

    @property
    def segmenter(self) -> Segmenter | None:
        """The loaded model; use it from another thread only inside ``borrow()``."""
        return self._segmenter

    @property
    def pending_count(self) -> int:
        return len(self._jobs)

    @property
    def is_busy(self) -> bool:
        return bool(self._jobs) or self._state is ServiceState.LOADING

    # -- loading -------------------------------------------------------------------------
    def load(self, spec: str | Path | None = None, device: str | None = None, *, remember: bool = True) -> None:
        """Load ``spec`` (default: the current spec) on ``device`` in the background.

        Emits ``modelLoading`` now, then ``modelLoaded`` or ``modelFailed``. With ``remember``
        a successful load becomes the active model (``core.models.model_versions.remember_active_model``).
        """
        if self._closed:
            return
        spec = str(spec) if spec else self._spec
        device = device or self._device
        self.cancel_all()
        self._spec, self._device = spec, device
        self._state, self._error = ServiceState.LOADING, ""
        self.modelLoading.emit(spec)
        self._tasks.submit(lambda: self._load_worker(spec, device, remember))

    def set_device(self, device: str) -> None:
        """Choose auto/cuda/mps/cpu (remembered) and reload the current model on it."""
        check_device_choice(device)
        app_settings.set_value(app_settings.MODEL_DEVICE, device)
        self.load(self._spec, device, remember=False)

    def _load_worker(self, spec: str, device: str, remember: bool) -> None:
        try:
            from core.masking.inference import Segmenter

            segmenter = Segmenter.load(spec, device=device, on_notice=self.notice.emit)
            label, message = segmenter.device_label, ""
        except Exception as error:  # noqa: BLE001 - a worker reports every failure as one line
            segmenter, label, message = None, "", one_line(error)
        with self._lock:
            if (spec, device) == (self._spec, self._device):  # else a newer load is queued
                self._segmenter, self._load_error = segmenter, message
        self._loadDone.emit(segmenter, spec, label, message, remember)

    @Slot(object, object, str, str, bool)
    def _on_load_done(self, segmenter, spec: str, label: str, message: str, remember: bool) -> None:
        if spec != self._spec or self._segmenter is not segmenter:
            return  # a newer load was asked for meanwhile
        if segmenter is None:
            self._state, self._error = ServiceState.FAILED, message
            self._name, self._device_label = "", ""
            self.modelFailed.emit(message)
            return
        self._state, self._error = ServiceState.READY, ""
        self._name, self._device_label = segmenter.name, label
        if remember:
            model_versions.remember_active_model(spec)
        self.modelLoaded.emit(self._name, self._device_label)

    # -- masking -------------------------------------------------------------------------
    def submit(self, path: str | Path, *, task: Callable[[Segmenter], Any] | None = None) -> int:
        """Queue a mask job for the photo at ``path``; returns its job id.

        Emits ``jobStarted``, then ``jobFinished`` (a ``MaskResult``), ``jobFailed`` or
        ``jobCancelled``. Without a loaded model the job fails with the load error.
        """
        job = _Job(self._next_id, Path(path), task)
        self._next_id += 1
        if self._closed:  # the window is closing: signals still queued must not start work
            return job.id
        self._jobs[job.id] = job
        self._total += 1
        self.progress.emit(self._done, self._total)
        self._tasks.submit(lambda: self._job_worker(job))
        return job.id

    def submit_task(self, path: str | Path, task: Callable[[Segmenter], Any]) -> int:
        """Queue ``task(segmenter)`` (e.g. re-masking a box of the photo at ``path``) on the masking
        worker, in turn with the mask jobs; returns its job id. The same signals follow, with
        ``jobFinished`` carrying the task's return value."""
        return self.submit(path, task=task)

    def cancel(self, job_id: int) -> None:
        """Cancel one job: a waiting job never runs; a running one's result is dropped."""
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancelled.set()

    def cancel_all(self) -> None:
        for job in self._jobs.values():
            job.cancelled.set()

    def wait_idle(self, msecs: int = -1) -> bool:
        """Block until every queued load and job has run (tests, shutdown)."""
        return self._tasks.wait(msecs)

    def shutdown(self, msecs: int = 30000) -> None:
        """Cancel every job, wait for the running one; later submits and loads start nothing."""
        self._closed = True
        self.cancel_all()
        self._tasks.wait(msecs)

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Segmenter]:
        """Use the loaded model from another thread; raises RuntimeError when none is loaded."""
        with self._lock:
            if self._segmenter is None:
                raise RuntimeError(self._load_error or "no model is loaded")
            yield self._segmenter

    def _job_worker(self, job: _Job) -> None:
        if job.cancelled.is_set():
            self._jobDone.emit(job, None, "")
            return
        self._jobStarted.emit(job)
        try:
            from core.io.imageio import read_photo

            tick = time.perf_counter()
            with self._lock:
                segmenter = self._segmenter
                if segmenter is None:
                    self._jobDone.emit(job, None, f"not masked: {self._load_error or 'no model is loaded'}")
                    return
                if job.task is not None:
                    self._jobDone.emit(job, job.task(segmenter), "")
                    return
                photo = read_photo(job.path)
                if job.cancelled.is_set():
                    self._jobDone.emit(job, None, "")
                    return
                prediction = segmenter.predict(photo.rgb, photo.alpha)
            alpha = prediction.alpha  # the model's mask, anti-aliased along the outline
            result = MaskResult(job.id, job.path, alpha, time.perf_counter() - tick, prediction.uncertainty, segmenter.name,
                                prediction.doubt, prediction.probability)
        except MemoryError:
            self._jobDone.emit(job, None, f"{job.path}: not enough memory to mask this photo")
            return
        except Exception as error:  # noqa: BLE001 - a worker reports every failure as one line
            self._jobDone.emit(job, None, one_line(error))
            return
        self._jobDone.emit(job, result, "")

    @Slot(object)
    def _on_job_started(self, job: _Job) -> None:
        if not job.cancelled.is_set():
            self.jobStarted.emit(job.id, str(job.path))

    @Slot(object, object, str)
    def _on_job_done(self, job: _Job, result: MaskResult | None, message: str) -> None:
        self._jobs.pop(job.id, None)
        self._done += 1
        if job.cancelled.is_set():
            self.jobCancelled.emit(job.id)
        elif result is not None:
            if isinstance(result, MaskResult):
                self._last_seconds = result.seconds
            self.jobFinished.emit(job.id, result)
        else:
            self.jobFailed.emit(job.id, str(job.path), message)
        if not self._jobs:
            self._done = self._total = 0
        self.progress.emit(self._done, self._total)

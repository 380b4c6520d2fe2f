"""Work off the GUI thread, one way for the whole app.

- ``GeneratorWorker``: long work (a batch, a fine-tuning run). The core reports progress by
  yielding; the worker relays each value as ``yielded`` and ends with ``returned`` (the
  generator's return value) or ``errored`` (the exception), then ``finished``. ``cancel()``
  is passed to the generator as its ``should_stop`` callable: the core honours it at its
  yields and winds down in its own way (a batch keeps what it exported, a training run
  removes its folder).
- ``TaskQueue``: short tasks (decode a photo, save a correction, mask one photo, make a
  thumbnail) run in the order submitted on the queue's own thread(s); ``wait()`` for shutdown
  and tests.

Signals are emitted on the worker's thread; Qt queues them to receivers on the GUI thread.
Tests wait on them (``qtbot.waitSignal(worker.finished)``). No other module of the app makes
threads (``tests/test_worker.py`` checks it).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generator

from PySide6.QtCore import QObject, QThreadPool, Signal

Job = Callable[[Callable[[], bool]], Generator[Any, None, Any]]


class GeneratorWorker(QObject):
    """Runs ``job(should_stop)``, a generator function, on a thread of its own; create, connect,
    ``start()``. Exactly one of ``returned`` or ``errored`` comes before ``finished``."""

    started = Signal()
    yielded = Signal(object)  # each value the generator yields
    returned = Signal(object)  # the generator's return value
    errored = Signal(object)  # the exception that ended it
    finished = Signal()  # always last

    def __init__(self, job: Job, *, name: str = "worker", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a GeneratorWorker runs once; make a new one")
        # The thread holds the worker, so a worker whose owner is gone still reports to the end.
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next yield (thread-safe)."""
        self._stop.set()

    def wait(self, seconds: float | None = None) -> bool:
        """Block until the job has ended (shutdown, tests); True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(seconds)
        return not self.running

    def _run(self) -> None:
        self.started.emit()
        try:
            generator = self._job(self._stop.is_set)
            while True:
                try:
                    value = next(generator)
                except StopIteration as end:
                    self.returned.emit(end.value)
                    break
                self.yielded.emit(value)
        except BaseException as error:  # noqa: BLE001 - the thread's boundary: every failure is reported
            self.errored.emit(error)
        finally:
            self.finished.emit()


class TaskQueue(QObject):
    """Short tasks off the GUI thread, run in order on ``threads`` thread(s) (one: strictly in
    turn); a task reports back through its owner's signals."""

    def __init__(self, parent: QObject | None = None, *, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)

    def submit(self, task: Callable[[], object], priority: int = 0) -> None:
        """Queue ``task``; a higher ``priority`` runs before the lower ones still waiting."""
        self._pool.start(task, priority)

    @property
    def idle(self) -> bool:
        """True when no task is running now."""
        return self._pool.activeThreadCount() == 0

    def wait(self, msecs: int = -1) -> bool:
        """Block until every queued task has run; True when they have within ``msecs``."""
        return self._pool.waitForDone(msecs)

"""Saving corrections as they are made, off the GUI thread.

``save`` takes a snapshot of a document's mask and queues it; the worker writes the newest
snapshot of each photo (older ones still waiting are dropped). A mask equal to the model's
removes the stored correction instead, so undoing every edit leaves no training sample.
``flush`` waits until everything queued is on disk (on close).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.errors import MaskingNetError
from maskingnet_app.worker import TaskQueue


@dataclass
class _Snapshot:
    path: Path
    key: str
    alpha: np.ndarray
    predicted: np.ndarray | None
    model: str
    remove: bool


class CorrectionSaver(QObject):
    saved = Signal(str)  # photo key
    removed = Signal(str)  # photo key
    failed = Signal(str)  # one-line message

    def __init__(self, store: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._pending: dict[str, _Snapshot] = {}
        self._lock = threading.Lock()
        self._tasks = TaskQueue(self)

    def save(self, path: Path, key: str, alpha: np.ndarray, predicted: np.ndarray | None, model: str) -> None:
        """Queue ``alpha`` (copied now) as the correction of photo ``key``."""
        remove = predicted is not None and np.array_equal(alpha, predicted)
        snapshot = _Snapshot(Path(path), key, alpha.copy(), predicted, model, remove)
        with self._lock:
            queued = key in self._pending
            self._pending[key] = snapshot
        if not queued:
            self._tasks.submit(lambda: self._write(key))

    def flush(self, msecs: int = 60000) -> bool:
        return self._tasks.wait(msecs)

    def _write(self, key: str) -> None:
        with self._lock:
            snapshot = self._pending.pop(key, None)
        if snapshot is None:
            return
        try:
            store = self._store()
            if snapshot.remove:
                store.remove(key)
                self.removed.emit(key)
                return
            predicted = None if snapshot.predicted is None else snapshot.predicted >= 128
            store.save(snapshot.path, snapshot.alpha, predicted=predicted, model=snapshot.model, key=key)
        except (MaskingNetError, OSError, ValueError) as error:
            self.failed.emit(f"corrections of {snapshot.path.name} not saved: {error}")
            return
        self.saved.emit(key)

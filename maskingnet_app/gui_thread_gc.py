"""Python's cyclic garbage, collected on the GUI thread only.

CPython collects reference cycles in whichever thread crosses its allocation threshold, often a
worker (model loading, a batch, a training run). A Qt wrapper caught in such a cycle is then
destroyed off the GUI thread, where PySide6 can crash (seen once in the test suite: a segmentation
fault while collecting in the model-loading worker). ``GuiThreadCollector`` turns automatic
collection off and collects from a GUI-thread timer instead: the oldest generation whose count has
passed CPython's own threshold, as automatic collection would. Objects that are not in cycles are
freed at once, as always; only cycles wait for the next tick.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_EVERY_MS = 500


class GuiThreadCollector(QObject):
    """Create on the GUI thread, ``start()``; ``stop()`` gives collection back to CPython."""

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = CHECK_EVERY_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.collect_due()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int | None:
        """Collect the oldest generation whose count is above its threshold; returns it, or None
        when none is due."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

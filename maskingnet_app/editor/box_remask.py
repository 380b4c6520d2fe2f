"""The box tools: the canvas's ``boxRequested`` becomes a task on the model service's worker,
Re-mask in Box (``core.masking.smart_tools.box_values``) or Car in Box
(``core.masking.smart_whole.car_in_box_values``), and its answer one undoable edit of that photo."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.masking.mask_edit import Rect
from core.masking.smart_tools import MIN_BOX, box_values
from core.masking.smart_whole import car_in_box_values
from maskingnet_app.editor.canvas import Canvas
from maskingnet_app.editor.documents import PhotoDocument
from maskingnet_app.editor.editor_state import CAR_BOX
from maskingnet_app.model.model_service import ModelService

LABELS = {False: "Re-mask Box", True: "Car in Box"}


class BoxRemasker(QObject):
    """``current`` returns the photo on show; ``edited(document, rect)`` is called after the
    new mask of the box was applied (repaint, autosave)."""

    message = Signal(str, str)  # level, one-line text

    def __init__(self, canvas: Canvas, service: ModelService, current: Callable[[], PhotoDocument | None],
                 edited: Callable[[PhotoDocument, Rect], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.service, self.current, self.edited = canvas, service, current, edited
        self._jobs: dict[int, tuple[PhotoDocument, bool, np.ndarray]] = {}
        canvas.boxRequested.connect(self.request)
        service.jobFinished.connect(self._on_finished)
        service.jobFailed.connect(lambda job, path, text: self._jobs.pop(job, None) and self.message.emit("error", text))
        service.jobCancelled.connect(lambda job: self._jobs.pop(job, None))

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def request(self, rect: Rect) -> int | None:
        """Re-mask ``rect`` of the photo on show (Car in Box when that is the tool) in the
        background; returns the job id."""
        document, display = self.current(), self.canvas.display
        if document is None or document.editor is None or display is None:
            return None
        car = self.canvas.state.tool == CAR_BOX
        if not self.service.is_ready:
            self.message.emit("warning", "No model loaded to work on the box with")
            return None
        if rect.width < MIN_BOX or rect.height < MIN_BOX:
            self.message.emit("info", f"Draw a box at least {MIN_BOX} pixels a side")
            return None
        before = document.editor.alpha.copy()
        if car:
            guide = self.canvas.guide
            task = lambda segmenter: car_in_box_values(guide, before, rect)  # noqa: E731
        else:
            rgb, photo_alpha = display.rgb, display.photo_alpha
            task = lambda segmenter: box_values(segmenter, rgb, rect, photo_alpha)  # noqa: E731
        job = self.service.submit_task(document.path, task)
        self._jobs[job] = (document, car, before)
        return job

    def _on_finished(self, job: int, result: object) -> None:
        entry = self._jobs.pop(job, None)
        if entry is None or entry[0].editor is None:
            return
        document, car, before = entry
        rect, values = result
        # only what the tool changed: edits made while it ran stay
        values = np.where(values != before[rect.slices], values, document.editor.alpha[rect.slices])
        changed = document.editor.patch(rect, values, LABELS[car])
        if changed is not None:
            self.edited(document, changed)

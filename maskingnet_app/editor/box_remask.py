"""Re-mask inside a box: the canvas's ``boxRequested`` becomes a task on the model service's
worker (``core.masking.smart_tools.box_values``), and its answer one undoable edit of that photo."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal

from core.masking.mask_edit import Rect
from core.masking.smart_tools import MIN_BOX, box_values
from maskingnet_app.editor.canvas import Canvas
from maskingnet_app.editor.documents import PhotoDocument
from maskingnet_app.model.model_service import ModelService


class BoxRemasker(QObject):
    """``current`` returns the photo on show; ``edited(document, rect)`` is called after the
    new mask of the box was applied (repaint, autosave)."""

    message = Signal(str, str)  # level, one-line text

    def __init__(self, canvas: Canvas, service: ModelService, current: Callable[[], PhotoDocument | None],
                 edited: Callable[[PhotoDocument, Rect], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.service, self.current, self.edited = canvas, service, current, edited
        self._jobs: dict[int, PhotoDocument] = {}
        canvas.boxRequested.connect(self.request)
        service.jobFinished.connect(self._on_finished)
        service.jobFailed.connect(lambda job, path, text: self._jobs.pop(job, None) and self.message.emit("error", text))
        service.jobCancelled.connect(lambda job: self._jobs.pop(job, None))

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def request(self, rect: Rect) -> int | None:
        """Re-mask ``rect`` of the photo on show in the background; returns the job id."""
        document, display = self.current(), self.canvas.display
        if document is None or document.editor is None or display is None:
            return None
        if not self.service.is_ready:
            self.message.emit("warning", "No model to re-mask the box with")
            return None
        if rect.width < MIN_BOX or rect.height < MIN_BOX:
            self.message.emit("info", f"Draw a box at least {MIN_BOX} pixels a side to re-mask it")
            return None
        rgb, photo_alpha = display.rgb, display.photo_alpha
        job = self.service.submit_task(document.path, lambda segmenter: box_values(segmenter, rgb, rect, photo_alpha))
        self._jobs[job] = document
        return job

    def _on_finished(self, job: int, result: object) -> None:
        document = self._jobs.pop(job, None)
        if document is None or document.editor is None:
            return
        rect = document.editor.patch(*result, "Re-mask Box")
        if rect is not None:
            self.edited(document, rect)

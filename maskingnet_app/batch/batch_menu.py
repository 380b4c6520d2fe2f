"""File → Process Folder… and File → Review Batch Folder… (``BatchFeature``), on the window's API.

The batch uses the window's model service: its loaded model is borrowed for each model call
(``ServiceSegmenter``), so no second copy is loaded and the editor's own masks go on between
two batches of photos. Clicking a photo in the review opens it in the editor; a correction
saved there is exported again into the batch's folder.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from maskingnet_app import app_settings
from maskingnet_app.batch.review_keys import ReviewKeys
from maskingnet_app.model.model_service import ServiceState

if TYPE_CHECKING:
    import numpy as np
    import torch

    from core.masking.close_up import CloseUp
    from core.masking.frame_edge import EdgeLook
    from core.masking.inference import Segmenter
    from maskingnet_app.batch.batch_dialog import BatchDialog
    from maskingnet_app.model.model_service import ModelService
    from maskingnet_app.window_api import WindowAPI


class ServiceSegmenter:
    """The model service's segmenter, borrowed call by call from a batch's worker thread.

    Waits (up to ``wait_seconds``) while the service is still loading. Every model call goes
    through ``ModelService.borrow()`` (its lock: the editor and the batch never run the model
    at once) and checks that the model is still the one the batch started with: if the user
    switched it, the call raises a one-line ``MaskingNetError`` (what was exported stays, and
    the next run goes on with the new model). Only what ``core.batch.pipeline.run_batch`` reads is
    exposed; nothing is forwarded to the raw ``Segmenter``.
    """

    def __init__(self, service: ModelService, *, wait_seconds: float = 600.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while service.state is ServiceState.LOADING and time.monotonic() < deadline:
            time.sleep(0.1)
        self._service = service
        with service.borrow() as segmenter:
            self._segmenter = segmenter
        self.batch_size = segmenter.batch_size
        self.name, self.flip_tta, self.config = segmenter.name, segmenter.flip_tta, segmenter.config
        self.close_up, self.frame_edge = segmenter.close_up, segmenter.frame_edge

    @property
    def device(self):
        """Where the model runs now (an out-of-memory fallback may move it to the CPU)."""
        return self._segmenter.device

    @property
    def device_label(self) -> str:
        return self._segmenter.device_label

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[Segmenter]:
        from core.errors import MaskingNetError

        with self._service.borrow() as segmenter:
            if segmenter is not self._segmenter:
                raise MaskingNetError("the model was switched during the batch; start it again to go on with the new one")
            yield segmenter

    def probabilities(self, batch: torch.Tensor) -> np.ndarray:
        with self._borrowed() as segmenter:
            return segmenter.probabilities(batch)

    def probabilities_and_disagreement(self, batch: torch.Tensor, *, mirror: bool) -> tuple[np.ndarray, np.ndarray | None]:
        with self._borrowed() as segmenter:
            return segmenter.probabilities_and_disagreement(batch, mirror=mirror)

    def look_closer(self, images: Sequence[np.ndarray], cleaned: Sequence[np.ndarray], *,
                    mirror: bool | None = None) -> list[CloseUp | None]:
        with self._borrowed() as segmenter:
            return segmenter.look_closer(images, cleaned, mirror=mirror)

    def look_past_edge(self, images: Sequence[np.ndarray], cleaned: Sequence[np.ndarray], doubts: Sequence[float],
                       *, mirror: bool | None = None) -> list[EdgeLook | None]:
        with self._borrowed() as segmenter:
            return segmenter.look_past_edge(images, cleaned, doubts, mirror=mirror)


class BatchFeature:
    """File → Process Folder… and File → Review Batch Folder… on a window (``WindowAPI``), with
    one batch dialog per window (made on first use) and the review keys."""

    def __init__(self, window: WindowAPI) -> None:
        self.window = window
        self.dialog: BatchDialog | None = None
        process = QAction("&Process Folder…", window)
        process.setShortcut(QKeySequence("Ctrl+B"))
        process.setToolTip("Cut out every photo of a folder, then review the doubtful ones first")
        process.triggered.connect(self.show_dialog)
        review = QAction("&Review Batch Folder…", window)
        review.setToolTip("Open the review of a folder a batch exported to")
        review.triggered.connect(lambda: self.choose_review_folder())
        window.add_menu_action("file", process, before="export")
        window.add_menu_action("file", review, before="export")
        self.review_keys = ReviewKeys(window, lambda: self.dialog)  # File → Review Marks: A, F, X, U
        window.menus.get("file").insertSeparator(window.actions["export"])
        window.actions["process_folder"] = process
        window.actions["review_batch"] = review
        window.closing.connect(self.shutdown)

    def show_dialog(self) -> BatchDialog:
        """The window's batch dialog (made on first use), shown and raised."""
        from maskingnet_app.batch.batch_dialog import BatchDialog

        window = self.window
        dialog = self.dialog
        if dialog is None:
            service = window.model_service
            if service.state is ServiceState.IDLE:
                service.load()
            dialog = BatchDialog(lambda: ServiceSegmenter(service), open_photo=self.review_keys.open_from_review,
                                 corrections=lambda: window.corrections, parent=window)
            dialog.setWindowFlag(Qt.WindowType.Window, True)
            window.correctionSaved.connect(dialog.review.on_correction_saved)
            dialog.batchFinished.connect(lambda counts, cancelled: window.show_message(
                f"Batch {'stopped' if cancelled else 'finished'}: {counts['done']} exported, "
                f"{counts['skipped']} already there, {counts['failed']} failed"))
            self.dialog = dialog
        if dialog.isMinimized():  # stepped aside for a photo opened from the review
            dialog.showNormal()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def choose_review_folder(self, folder: str | Path | None = None) -> BatchDialog | None:
        """Show the review of an output folder (asked for when ``folder`` is None)."""
        if folder is None:
            start = app_settings.start_folder(app_settings.OPEN_FOLDER)
            folder = QFileDialog.getExistingDirectory(self.window, "Review Batch Folder", start)
            if not folder:
                return None
        dialog = self.show_dialog()
        if not dialog.running:
            dialog.output_edit.setText(str(folder))
            dialog.review.load_folder(folder)
        dialog.tabs.setCurrentWidget(dialog.review)
        return dialog

    def shutdown(self) -> None:
        """Stop a running batch (the window is closing): what is exported stays; a rerun resumes."""
        if self.dialog is not None:
            self.dialog.shutdown()

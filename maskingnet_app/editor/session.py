"""The open photos and their masks, without widgets: opening, identifying, masking through the
model service, restoring and autosaving corrections, status changes.

Flow per photo: opened (waiting) → identified on the loader thread (size, thumbnail, key,
saved correction) → restored from its correction (edited) or masked by the model (masking →
masked) → edited / exported; any failure is shown as ``failed`` with its one-line reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, Signal

from core.io.imageio import Photo, iter_image_files
from core.masking.mask_edit import MaskEditor
from core.store.corrections import CorrectionStore
from maskingnet_app.editor.autosave import CorrectionSaver
from maskingnet_app.editor.documents import PhotoDocument, PhotoListModel, PhotoStatus
from maskingnet_app.editor.photo_loader import PhotoInfo, PhotoLoader
from maskingnet_app.model.model_service import MaskResult, ModelService, ServiceState


class PhotoSession(QObject):
    """See the module docstring. ``store_root`` overrides the corrections folder (tests)."""

    documentChanged = Signal(object)  # PhotoDocument: status, thumbnail or error changed
    maskChanged = Signal(object)  # PhotoDocument: its editor was created or replaced
    photoReady = Signal(object, object)  # PhotoDocument, Photo (decoded for display)
    photoFailed = Signal(object, str)  # PhotoDocument, one-line message
    message = Signal(str, str)  # level ('info', 'warning', 'error'), one-line text
    correctionSaved = Signal(str)  # photo key

    def __init__(self, model_service: ModelService, parent: QObject | None = None, *, store_root: Path | None = None) -> None:
        super().__init__(parent)
        self.model_service = model_service
        self.model = PhotoListModel(self)
        self.store = CorrectionStore(store_root)  # no torch: cheap to make at once
        self._next_id = 1
        self._by_id: dict[int, PhotoDocument] = {}
        self._by_job: dict[int, PhotoDocument] = {}
        self.loader = PhotoLoader(lambda: self.store, self)
        self.saver = CorrectionSaver(lambda: self.store, self)
        self.loader.identified.connect(self._on_identified)
        self.loader.identifyFailed.connect(self._on_identify_failed)
        self.loader.photoReady.connect(self._on_photo_ready)
        self.loader.photoFailed.connect(self._on_photo_failed)
        self.saver.saved.connect(self.correctionSaved)
        self.saver.failed.connect(lambda text: self.message.emit("error", text))
        model_service.jobStarted.connect(self._on_job_started)
        model_service.jobFinished.connect(self._on_job_finished)
        model_service.jobFailed.connect(self._on_job_failed)
        model_service.jobCancelled.connect(self._on_job_cancelled)
        model_service.modelLoaded.connect(lambda *_: self.mask_waiting())
        model_service.modelFailed.connect(self._on_model_failed)

    @property
    def documents(self) -> list[PhotoDocument]:
        return self.model.documents

    def document(self, document_id: int) -> PhotoDocument | None:
        return self._by_id.get(document_id)

    # -- opening -------------------------------------------------------------------------
    @staticmethod
    def expand(paths: Iterable[str | Path], *, recursive: bool = False) -> list[Path]:
        """Files as given (unreadable ones are shown with their error) and the photos in folders."""
        found = [Path(os.path.abspath(file)) for file, _ in iter_image_files([Path(p) for p in paths], recursive=recursive)]
        return list(dict.fromkeys(found))

    def open_paths(self, paths: Iterable[str | Path], *, recursive: bool = False) -> list[PhotoDocument]:
        """Open photos and folders; returns the documents for them (already open ones included,
        in input order) and starts identifying and masking the new ones."""
        result, new = [], []
        for path in self.expand(paths, recursive=recursive):
            document = self.model.find(path)
            if document is None:
                document = PhotoDocument(self._next_id, path)
                self._next_id += 1
                self._by_id[document.id] = document
                new.append(document)
            result.append(document)
        self.model.add(new)
        for document in new:
            self.loader.identify(document.id, document.path)
        return result

    def remove(self, document: PhotoDocument) -> None:
        if document.job is not None:
            self.model_service.cancel(document.job)
        self._by_id.pop(document.id, None)
        self.loader.cache.discard(document.path)
        self.model.remove(document)

    def request_photo(self, document: PhotoDocument) -> Photo | None:
        """The decoded photo now when cached, else None and ``photoReady`` later."""
        return self.loader.request(document.path)

    def _changed(self, document: PhotoDocument, status: PhotoStatus | None = None, error: str | None = None) -> None:
        if status is not None:
            document.status = status
        if error is not None:
            document.error = error
        self.model.changed(document)
        self.documentChanged.emit(document)

    def _on_identified(self, document_id: int, info: PhotoInfo) -> None:
        document = self._by_id.get(document_id)
        if document is None:
            return
        document.size, document.thumbnail, document.key = info.size, info.thumbnail, info.key
        if info.correction is not None:
            document.editor = MaskEditor(info.correction.alpha)
            document.predicted = info.correction.predicted
            document.model = info.correction.model
            document.restored = True
            document.saved_revision = document.editor.revision
            self._changed(document, PhotoStatus.EDITED, "")
            self.maskChanged.emit(document)
        else:
            self._changed(document)
            self._submit(document)

    def _on_identify_failed(self, document_id: int, message: str) -> None:
        document = self._by_id.get(document_id)
        if document is not None:
            self._changed(document, PhotoStatus.FAILED, message)

    def _on_photo_ready(self, photo: Photo) -> None:
        document = self.model.find(photo.path)
        if document is not None:
            self.photoReady.emit(document, photo)

    def _on_photo_failed(self, path: str, message: str) -> None:
        document = self.model.find(Path(path))
        if document is not None:
            self._changed(document, PhotoStatus.FAILED, message)
            self.photoFailed.emit(document, message)

    # -- masking -------------------------------------------------------------------------
    def _submit(self, document: PhotoDocument, *, again: bool = False) -> bool:
        service = self.model_service
        if service.state in (ServiceState.FAILED, ServiceState.IDLE):
            self._changed(document, PhotoStatus.WAITING, "no model loaded" if service.state is ServiceState.IDLE else "no model")
            return False
        document.job = service.submit(document.path)
        document.extra["again"] = again
        self._by_job[document.job] = document
        self._changed(document, PhotoStatus.WAITING if document.editor is None else None, "")
        return True

    def mask_waiting(self) -> None:
        """Mask every identified photo that has no mask and no job (after a model loads)."""
        for document in self.documents:
            if document.editor is None and document.job is None and document.key and document.status != PhotoStatus.FAILED:
                self._submit(document)

    def remask(self, document: PhotoDocument) -> bool:
        """Mask the photo again with the current model; the new mask replaces the old one as
        an undoable edit (a failed photo is retried from the start)."""
        if document.job is not None:
            return False
        if document.status == PhotoStatus.FAILED and not document.key:
            self._changed(document, PhotoStatus.WAITING, "")
            self.loader.identify(document.id, document.path)
            return True
        return self._submit(document, again=document.editor is not None)

    def cancel_all(self) -> None:
        self.model_service.cancel_all()

    def _job_document(self, job: int) -> PhotoDocument | None:
        document = self._by_job.get(job)
        return document if document is not None and document.job == job else None

    def _on_job_started(self, job: int, path: str) -> None:
        document = self._job_document(job)
        if document is not None and document.editor is None:
            self._changed(document, PhotoStatus.MASKING, "")

    def _on_job_finished(self, job: int, result: MaskResult) -> None:
        document = self._job_document(job)
        self._by_job.pop(job, None)
        if document is None or document.id not in self._by_id:
            return
        document.job = None
        document.model = result.model
        document.doubt = result.doubt
        document.probability = result.probability
        if document.editor is not None and document.extra.get("again"):
            document.editor.replace(result.alpha, "Mask Again")
            document.predicted = result.alpha
            self.maskChanged.emit(document)
            self.mask_edited(document)
            return
        if document.editor is not None:
            return  # restored from corrections meanwhile
        document.editor = MaskEditor(result.alpha)
        document.predicted = result.alpha
        document.saved_revision = document.editor.revision
        self._changed(document, PhotoStatus.MASKED, "")
        self.maskChanged.emit(document)

    def _on_job_failed(self, job: int, path: str, message: str) -> None:
        document = self._job_document(job)
        self._by_job.pop(job, None)
        if document is not None:
            document.job = None
            if document.editor is None:
                self._changed(document, PhotoStatus.FAILED, message)
            else:
                self.message.emit("error", message)

    def _on_job_cancelled(self, job: int) -> None:
        document = self._job_document(job)
        self._by_job.pop(job, None)
        if document is not None:
            document.job = None
            if document.editor is None:
                self._changed(document, PhotoStatus.WAITING, "cancelled")

    def _on_model_failed(self, message: str) -> None:
        for document in self.documents:
            if document.editor is None and document.job is None and document.status != PhotoStatus.FAILED:
                self._changed(document, PhotoStatus.WAITING, "no model")

    # -- edits and exports ---------------------------------------------------------------
    def mask_edited(self, document: PhotoDocument) -> None:
        """Call after every committed edit, undo or redo: updates the status, saves the correction."""
        if document.editor is None or not document.key:
            return
        edited = document.is_edited
        status = PhotoStatus.EDITED if edited else PhotoStatus.MASKED
        if document.status == PhotoStatus.EXPORTED and document.saved_revision == document.editor.revision:
            status = PhotoStatus.EXPORTED
        self._changed(document, status, "")
        if document.saved_revision != document.editor.revision:
            document.saved_revision = document.editor.revision
            predicted = document.predicted
            self.saver.save(document.path, document.key, document.editor.alpha, predicted, document.model)

    def mark_exported(self, document: PhotoDocument, path: Path) -> None:
        document.exported_to = Path(path)
        self._changed(document, PhotoStatus.EXPORTED, "")

    def flush(self, msecs: int = 60000) -> bool:
        """Wait until every queued correction is written."""
        return self.saver.flush(msecs)

    def shutdown(self) -> None:
        self.model_service.cancel_all()
        self.loader.wait(10000)
        self.saver.flush()

"""File → Export, Export As… and Export All…: asks with the export dialog when needed, runs
the exporter, and reports each photo's outcome in the photo list and the message bar."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from core.listing.presets import ListingSpec
from maskingnet_app.editor.documents import PhotoDocument, PhotoStatus
from maskingnet_app.editor.session import PhotoSession
from maskingnet_app.export.export_dialog import ExportDialog
from maskingnet_app.export.exporter import Exporter, ExportSettings, plan_exports
from maskingnet_app.export.listing_dialog import ListingExportDialog, remembered_spec


class ExportController(QObject):
    message = Signal(str, str)  # level, one-line text
    status = Signal(str)  # passing progress notes
    finished = Signal(int, int)  # written, failed

    def __init__(self, session: PhotoSession, parent_widget: QWidget) -> None:
        super().__init__(parent_widget)
        self.session = session
        self.parent_widget = parent_widget
        self.settings = ExportSettings.load()
        self.exporter = Exporter(lambda path: session.loader.cache.get(path), self)
        self.exporter.itemDone.connect(self._on_done)
        self.exporter.itemFailed.connect(self._on_failed)
        self.exporter.finished.connect(self._on_finished)
        self.exporter.progress.connect(self._on_progress)
        self.ask = self._ask_with_dialog  # tests replace this
        self.ask_listing = self._ask_listing_with_dialog  # and this
        self._folder = ""
        self._first_error = ""
        self._failed = 0

    def export(self, documents: list[PhotoDocument], *, choose: bool = False) -> bool:
        """Export ``documents`` that have a mask, asking for the settings when ``choose`` or
        when no folder was ever chosen. False when nothing was started."""
        ready = [d for d in documents if d.editor is not None]
        if not ready:
            self.message.emit("warning", "Nothing to export yet: the photo has no mask" if len(documents) <= 1
                              else "Nothing to export yet: no photo has a mask")
            return False
        if self.exporter.running:
            self.message.emit("warning", "An export is still running")
            return False
        if choose or not self.settings.folder:
            chosen = self.ask(self.settings, [d.path for d in ready])
            if chosen is None:
                return False
            self.settings = chosen
            self.settings.save()
        self._folder = self.settings.folder
        items = plan_exports(self.settings, [(d.id, d.path, d.editor.alpha) for d in ready])
        protected = {d.path for d in self.session.documents}
        skipped = len(documents) - len(ready)
        if skipped:
            self.message.emit("info", f"{skipped} photo(s) without a mask are left out")
        self._first_error = ""
        self._failed = 0
        return self.exporter.start(items, self.settings.options, protected)

    def export_listing(self, documents: list[PhotoDocument], *,
                       preview: Callable[[ListingSpec], None] = lambda spec: None) -> bool:
        """Listing photos of ``documents`` that have a mask (the angles of a car share a frame),
        with the settings the listing dialog gives; ``preview`` sees them change live."""
        ready = [d for d in documents if d.editor is not None]
        if not ready:
            self.message.emit("warning", "Nothing to export yet: no photo has a mask")
            return False
        if self.exporter.running:
            self.message.emit("warning", "An export is still running")
            return False
        chosen = self.ask_listing([d.path for d in ready], preview)
        if chosen is None:
            preview(remembered_spec())
            return False
        preview(chosen.options.listing)
        self._folder = chosen.folder
        items = plan_exports(chosen, [(d.id, d.path, d.editor.alpha) for d in ready])
        self._first_error = ""
        return self.exporter.start(items, chosen.options, {d.path for d in self.session.documents})

    def _ask_listing_with_dialog(self, sources: list[Path], preview: Callable[[ListingSpec], None]) -> ExportSettings | None:
        dialog = ListingExportDialog(sources, self.parent_widget)
        dialog.previewChanged.connect(preview)
        return dialog.settings() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_with_dialog(self, settings: ExportSettings, sources: list[Path]) -> ExportSettings | None:
        dialog = ExportDialog(settings, sources, self.parent_widget)
        return dialog.settings() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _on_done(self, document_id: int, path: str) -> None:
        document = self.session.document(document_id)
        if document is not None:
            self.session.mark_exported(document, Path(path))

    def _on_progress(self, done: int, total: int) -> None:
        """The status bar counts files written, never failures as written."""
        note = f"Exported {done - self._failed} of {total}"
        self.status.emit(note + (f", {self._failed} failed" if self._failed else "") + ("…" if done < total else ""))

    def _on_failed(self, document_id: int, message: str) -> None:
        document = self.session.document(document_id)
        self._failed += 1
        self._first_error = self._first_error or message
        if document is not None and document.status != PhotoStatus.FAILED:
            self.message.emit("error", message)

    def _on_finished(self, written: int, failed: int, cancelled: bool) -> None:
        folder = self._folder
        if cancelled:
            self.message.emit("warning", f"Export cancelled after {written} file(s)")
        elif failed:
            self.message.emit("error", f"Exported {written} file(s) to {folder}; {failed} failed, first: {self._first_error}")
        else:
            self.message.emit("info", f"Exported {written} file(s) to {folder}")
        self.finished.emit(written, failed)

"""The open photos: one ``PhotoDocument`` each, and the list model the photo list shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QImage

from core.masking.doubt import CHECK_DOUBT
from core.masking.mask_edit import MaskEditor


class PhotoStatus(str, Enum):
    WAITING = "waiting"
    MASKING = "masking"
    MASKED = "masked"
    EDITED = "edited"
    EXPORTED = "exported"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(eq=False)
class PhotoDocument:
    """One open photo. ``editor`` holds its mask once there is one; ``predicted`` is the
    model's mask (uint8 0/255), the baseline that corrections are compared with; ``probability``
    the model's car probability (uint8), which the smart tools snap with (None when restored)."""

    id: int
    path: Path
    status: PhotoStatus = PhotoStatus.WAITING
    error: str = ""
    key: str = ""  # the photo's identity in the corrections store (hash of its bytes)
    size: tuple[int, int] = (0, 0)
    thumbnail: QImage | None = None
    editor: MaskEditor | None = None
    predicted: np.ndarray | None = None
    probability: np.ndarray | None = None
    model: str = ""
    job: int | None = None
    saved_revision: int = -1
    exported_to: Path | None = None
    restored: bool = False  # the mask came from saved corrections
    doubt: float | None = None  # the model's doubt about its mask (core.masking.doubt), None when unknown
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def has_mask(self) -> bool:
        return self.editor is not None

    @property
    def is_edited(self) -> bool:
        """True when the mask differs from the model's."""
        if self.editor is None:
            return False
        if self.predicted is None:
            return self.restored or self.editor.can_undo
        return not np.array_equal(self.editor.alpha, self.predicted)

    @property
    def needs_check(self) -> bool:
        """The model doubts its (unedited) mask: ``core.masking.doubt.CHECK_DOUBT`` passed."""
        return self.status == PhotoStatus.MASKED and self.doubt is not None and self.doubt > CHECK_DOUBT

    def status_text(self) -> str:
        """e.g. 'Failed: not an image…' (the file's own name is left out; the list shows it)."""
        text = self.status.label
        if self.needs_check:
            text += ", check"
        elif self.status == PhotoStatus.FAILED and self.error:
            prefix = f"{self.path}: "
            text += ": " + (self.error[len(prefix):] if self.error.startswith(prefix) else self.error)
        elif self.status == PhotoStatus.WAITING and self.error:
            text += f" ({self.error})"
        return text

    def tooltip(self) -> str:
        """The photo's full path and its status in full (the list shows it shortened)."""
        lines = [str(self.path), self.status.label + (f": {self.error}" if self.error else "")]
        if self.status == PhotoStatus.EXPORTED and self.exported_to is not None:
            lines[1] = f"Exported to {self.exported_to}"
        if self.needs_check:
            lines[1] = f"Masked; the model is unsure of this mask (doubt {self.doubt:.3f}): check it"
        return "\n".join(lines)


STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
DOCUMENT_ROLE = Qt.ItemDataRole.UserRole + 2


class PhotoListModel(QAbstractListModel):
    """The documents in the order they were opened."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._documents: list[PhotoDocument] = []

    @property
    def documents(self) -> list[PhotoDocument]:
        return list(self._documents)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._documents)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._documents):
            return None
        document = self._documents[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return document.name
        if role == Qt.ItemDataRole.DecorationRole:
            return document.thumbnail
        if role == Qt.ItemDataRole.ToolTipRole:
            return document.tooltip()
        if role == STATUS_ROLE:
            return document.status_text()
        if role == DOCUMENT_ROLE:
            return document
        return None

    def add(self, documents: list[PhotoDocument]) -> None:
        if not documents:
            return
        start = len(self._documents)
        self.beginInsertRows(QModelIndex(), start, start + len(documents) - 1)
        self._documents.extend(documents)
        self.endInsertRows()

    def remove(self, document: PhotoDocument) -> None:
        row = self.row_of(document)
        if row < 0:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._documents[row]
        self.endRemoveRows()

    def row_of(self, document: PhotoDocument) -> int:
        for row, candidate in enumerate(self._documents):
            if candidate is document:
                return row
        return -1

    def document_at(self, row: int) -> PhotoDocument | None:
        return self._documents[row] if 0 <= row < len(self._documents) else None

    def find(self, path: Path) -> PhotoDocument | None:
        path = Path(path)
        for document in self._documents:
            if document.path == path:
                return document
        return None

    def changed(self, document: PhotoDocument) -> None:
        """Tell the views that ``document``'s status or thumbnail changed."""
        row = self.row_of(document)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index)

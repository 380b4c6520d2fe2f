"""The photo list: a thumbnail, the name and the status of every open photo."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from maskingnet_app.editor.documents import DOCUMENT_ROLE, STATUS_ROLE, PhotoDocument, PhotoListModel, PhotoStatus

STATUS_COLORS = {
    PhotoStatus.WAITING: "#8a8a92",
    PhotoStatus.MASKING: "#2f80ed",
    PhotoStatus.MASKED: "#27ae60",
    PhotoStatus.EDITED: "#d68910",
    PhotoStatus.EXPORTED: "#16a085",
    PhotoStatus.FAILED: "#e74c3c",
}
CHECK_COLOR = "#d4a017"  # amber: masked, but the model doubts the mask
ROW_HEIGHT = 64
THUMB_SIDE = 56


class PhotoDelegate(QStyledItemDelegate):
    """Thumbnail on the left, then the name and a coloured status line (with the failure reason)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(220, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        document: PhotoDocument = index.data(DOCUMENT_ROLE)
        painter.save()
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        rect = option.rect
        thumb_box = QRect(rect.left() + 4, rect.top() + (rect.height() - THUMB_SIDE) // 2, THUMB_SIDE, THUMB_SIDE)
        image = document.thumbnail
        if image is not None and not image.isNull():
            scaled = image.size().scaled(thumb_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(thumb_box.center())
            painter.drawImage(target, image)
        else:
            painter.fillRect(thumb_box, QColor(128, 128, 128, 60))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_left = thumb_box.right() + 8
        text_rect = QRect(text_left, rect.top() + 6, rect.right() - text_left - 4, rect.height() - 12)
        metrics = painter.fontMetrics()
        palette = option.palette
        painter.setPen(palette.highlightedText().color() if selected else palette.text().color())
        name = metrics.elidedText(document.name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
        color = CHECK_COLOR if document.needs_check else STATUS_COLORS[document.status]
        painter.setPen(QColor(color) if not selected else palette.highlightedText().color())
        status = metrics.elidedText(index.data(STATUS_ROLE), Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, status)
        painter.restore()


class PhotoListView(QListView):
    """Shows a ``PhotoListModel``; ``currentDocumentChanged`` fires with the chosen document."""

    currentDocumentChanged = Signal(object)  # PhotoDocument or None

    def __init__(self, model: PhotoListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(PhotoDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setMinimumWidth(200)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        model.rowsInserted.connect(self._select_first_when_empty)

    def add_context_actions(self, actions: list[QAction]) -> None:
        self.addActions(actions)

    def current_document(self) -> PhotoDocument | None:
        index = self.currentIndex()
        return index.data(DOCUMENT_ROLE) if index.isValid() else None

    def select_document(self, document: PhotoDocument) -> None:
        row = self.model().row_of(document)
        if row >= 0:
            self.setCurrentIndex(self.model().index(row))

    def step(self, offset: int) -> None:
        """Select the next (+1) or previous (-1) photo."""
        count = self.model().rowCount()
        if count:
            row = min(count - 1, max(0, self.currentIndex().row() + offset))
            self.setCurrentIndex(self.model().index(row))

    def _select_first_when_empty(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self.currentIndex().isValid():
            self.setCurrentIndex(self.model().index(first))

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.currentDocumentChanged.emit(current.data(DOCUMENT_ROLE) if current.isValid() else None)

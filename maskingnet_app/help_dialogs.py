"""Help → Keyboard Shortcuts (from the same table as the README) and Help → About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from maskingnet_app.actions import shortcut_rows


class ShortcutsDialog(QDialog):
    """The shortcut table; ``rows`` default to the window's own actions (pass the live menus'
    rows, ``shortcut_rows(window.menus)``, to include the feature dialogs' actions)."""

    def __init__(self, parent: QWidget | None = None, rows: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = rows if rows is not None else shortcut_rows()
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for row, values in enumerate(rows):
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 560)


def about_text(model: str, device: str, model_error: str = "") -> str:
    model_line = model or (f"none ({model_error})" if model_error else "not loaded yet")
    return (
        f"<h3>MaskingNet {__version__}</h3>"
        "<p>Removes the background from car photos: the car stays, the background becomes transparent. "
        "Correct the mask with the brush; your corrections teach the model.</p>"
        f"<p><b>Model:</b> {model_line}<br><b>Device:</b> {device or '—'}</p>"
    )


def show_about(parent: QWidget, model: str, device: str, model_error: str = "") -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About MaskingNet")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(model, device, model_error))
    icon = parent.windowIcon()
    if not icon.isNull():
        box.setIconPixmap(icon.pixmap(64, 64))
    box.exec()

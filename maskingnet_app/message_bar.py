"""A one-line message strip above the canvas (e.g. "no default model is installed …"), closable,
coloured by level; it never blocks the window like a modal box would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

LEVEL_STYLES = {
    "info": "background:#e8f1fb; color:#1b3a5c;",
    "warning": "background:#fff4d6; color:#5c4300;",
    "error": "background:#fde2e1; color:#6b1511;",
}


class MessageBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.level = ""
        self.hide()

    @property
    def text(self) -> str:
        """The message on show ('' when hidden)."""
        return "" if self.isHidden() else self.label.text()

    def show_message(self, text: str, level: str = "info") -> None:
        self.level = level
        self.label.setText(text)
        self.label.setToolTip(text)
        self.setStyleSheet(LEVEL_STYLES.get(level, LEVEL_STYLES["info"]))
        self.show()

    def clear(self, level: str | None = None) -> None:
        """Hide the message (only one of ``level`` when given)."""
        if level is None or level == self.level:
            self.hide()

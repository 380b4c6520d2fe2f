"""The tool options bar: tool, brush size and hardness, view mode, overlay colour and opacity,
clean-up size. It edits the ``EditorState`` and follows it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from maskingnet_app.editor.editor_state import MAX_BRUSH, MIN_BRUSH, VIEW_MODES, EditorState

RETURN_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
VIEW_LABELS = {"overlay": "Overlay", "cutout": "Cut-out", "mask": "Mask only", "original": "Original", "listing": "Listing"}


def color_icon(color: str, side: int = 16) -> QIcon:
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


class ToolOptionsBar(QToolBar):
    """``tool_actions``, if any, are menu actions shown as buttons before the options."""

    def __init__(self, state: EditorState, tool_actions: list[QAction] = (), parent: QWidget | None = None) -> None:
        super().__init__("Tool Options", parent)
        self.setObjectName("tool_options")
        self.state = state
        self.setMovable(False)
        for action in tool_actions:
            self.addAction(action)
        if tool_actions:
            self.addSeparator()

        self.size_box = QSpinBox()
        self.size_box.setRange(MIN_BRUSH, MAX_BRUSH)
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Brush diameter in photo pixels ([ and ])")
        self.size_box.valueChanged.connect(lambda value: state.set("brush_size", value))
        self._add_labelled("Size", self.size_box)

        self.hardness_box = QSpinBox()
        self.hardness_box.setRange(0, 100)
        self.hardness_box.setSuffix(" %")
        self.hardness_box.setToolTip("Brush hardness: 100 % is a hard edge, less fades it out (Shift+[ and Shift+])")
        self.hardness_box.valueChanged.connect(lambda value: state.set("hardness", value / 100))
        self._add_labelled("Hardness", self.hardness_box)
        self.addSeparator()

        self.view_box = QComboBox()
        for mode in VIEW_MODES:
            self.view_box.addItem(VIEW_LABELS[mode], mode)
        self.view_box.setToolTip("What the canvas shows (1 to 5; Tab or O toggles the original; 5: the listing photo)")
        self.view_box.currentIndexChanged.connect(lambda index: state.set("view_mode", self.view_box.itemData(index)))
        self._add_labelled("View", self.view_box)

        self.color_button = QToolButton()
        self.color_button.setToolTip("Overlay colour")
        self.color_button.clicked.connect(self.choose_overlay_color)
        self.addWidget(self.color_button)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda value: state.set("overlay_opacity", value / 100))
        self._add_labelled("Opacity", self.opacity_slider)
        self.addSeparator()

        self.cleanup_box = QDoubleSpinBox()
        self.cleanup_box.setRange(0.001, 50.0)
        self.cleanup_box.setDecimals(3)
        self.cleanup_box.setSingleStep(0.05)
        self.cleanup_box.setSuffix(" %")
        self.cleanup_box.setToolTip("Remove Small Islands removes car regions up to this share of the photo")
        self.cleanup_box.valueChanged.connect(lambda value: state.set("cleanup_percent", value))
        self._add_labelled("Clean-up up to", self.cleanup_box)

        self._focus_target: QWidget | None = None
        for widget in (self.size_box, self.hardness_box, self.cleanup_box, self.opacity_slider, self.view_box):
            widget.installEventFilter(self)
        self.view_box.activated.connect(lambda _index: self._give_focus_back())
        state.changed.connect(self._sync)
        self._sync("")

    def return_focus_to(self, widget: QWidget) -> None:
        """Enter and Escape in a box (and a choice in the view list) give the keyboard to ``widget``."""
        self._focus_target = widget

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter (which commits the typed value) and Escape hand the keys back to the canvas."""
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not isinstance(event, QKeyEvent):
            return False
        if event.key() not in RETURN_KEYS or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if kind == QEvent.Type.ShortcutOverride:  # Escape is the window's Cancel Masking: keep it here
            event.accept()
            return True
        if event.key() != Qt.Key.Key_Escape and hasattr(watched, "interpretText"):
            watched.interpretText()
        self._give_focus_back()
        return True

    def _give_focus_back(self) -> None:
        if self._focus_target is not None:
            self._focus_target.setFocus(Qt.FocusReason.OtherFocusReason)

    def _add_labelled(self, text: str, widget: QWidget) -> None:
        label = QLabel(f" {text} ")
        label.setBuddy(widget)
        self.addWidget(label)
        self.addWidget(widget)

    def choose_overlay_color(self) -> None:
        color = QColorDialog.getColor(QColor(self.state.overlay_color), self, "Overlay Colour")
        if color.isValid():
            self.state.set("overlay_color", color.name())

    def _sync(self, name: str) -> None:
        state = self.state
        for widget, value in ((self.size_box, state.brush_size), (self.hardness_box, round(state.hardness * 100)),
                              (self.opacity_slider, round(state.overlay_opacity * 100)),
                              (self.cleanup_box, state.cleanup_percent)):
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        index = self.view_box.findData(state.view_mode)
        if index != self.view_box.currentIndex():
            self.view_box.blockSignals(True)
            self.view_box.setCurrentIndex(index)
            self.view_box.blockSignals(False)
        self.color_button.setIcon(color_icon(state.overlay_color))

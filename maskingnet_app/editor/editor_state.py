"""The tool and view settings shared by the canvas, the tool options bar and the menus.

One ``EditorState`` holds them, validates them, emits ``changed(name)`` and remembers them in
the settings store, so every widget observes one source of truth.
"""

from __future__ import annotations

from typing import Literal, get_args

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

from core.masking.mask_edit import BRUSH, ERASER
from core.masking.smart_cut import CUT_AWAY
from core.masking.smart_tools import REFINE
from maskingnet_app import app_settings

REGION, BOX = "region", "box"  # click to flip a region; drag a box to re-mask inside it
CAR_BOX = "car_box"  # drag a box around the car: outside it background, inside a GrabCut
BOX_TOOLS = (BOX, CAR_BOX)
TOOLS = (BRUSH, ERASER, REFINE, CUT_AWAY, REGION, BOX, CAR_BOX)
STROKE_TOOLS = (BRUSH, ERASER, REFINE, CUT_AWAY)

ViewMode = Literal["overlay", "cutout", "mask", "original", "listing"]
VIEW_MODES: tuple[ViewMode, ...] = get_args(ViewMode)
Background = Literal["checker", "color"]
MIN_BRUSH, MAX_BRUSH = 1, 2000
BACKGROUNDS: tuple[Background, ...] = get_args(Background)

# attribute -> (settings key, default)
_FIELDS = {
    "tool": ("brush/tool", BRUSH),
    "brush_size": ("brush/size", 40),
    "hardness": ("brush/hardness", 1.0),
    "smart": ("brush/smart", True),  # brush and eraser snap to the photo's edges
    "view_mode": ("view/mode", "overlay"),
    "overlay_color": ("view/overlay_color", "#ff2a6d"),
    "overlay_opacity": ("view/overlay_opacity", 0.5),
    "background": ("view/background", "checker"),
    "background_color": ("view/background_color", "#ffffff"),
    "cleanup_percent": ("mask/cleanup_percent", 0.1),
}


class EditorState(QObject):
    """Settings with validation; ``changed`` carries the attribute name that changed."""

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, remember: bool = True) -> None:
        super().__init__(parent)
        self._remember = remember
        self._values: dict = {}
        for name, (key, default) in _FIELDS.items():
            self._values[name] = self._valid(name, app_settings.value(key, default) if remember else default)
        self._previous_view: ViewMode = "overlay"

    # -- the settings, read-only here; ``set`` changes them -------------------------------
    @property
    def tool(self) -> str:
        """One of ``TOOLS``."""
        return self._values["tool"]

    @property
    def brush_size(self) -> int:
        return self._values["brush_size"]

    @property
    def hardness(self) -> float:
        return self._values["hardness"]

    @property
    def smart(self) -> bool:
        return self._values["smart"]

    @property
    def view_mode(self) -> ViewMode:
        return self._values["view_mode"]

    @property
    def overlay_color(self) -> str:
        return self._values["overlay_color"]

    @property
    def overlay_opacity(self) -> float:
        return self._values["overlay_opacity"]

    @property
    def background(self) -> Background:
        return self._values["background"]

    @property
    def background_color(self) -> str:
        return self._values["background_color"]

    @property
    def cleanup_percent(self) -> float:
        return self._values["cleanup_percent"]

    def set(self, name: str, value) -> None:
        """Set ``name`` (clamped to its valid range); emits ``changed`` when the value changes."""
        value = self._valid(name, value)
        if self._values[name] == value:
            return
        if name == "view_mode" and self._values[name] != "original":
            self._previous_view = self._values[name]
        self._values[name] = value
        if self._remember:
            app_settings.set_value(_FIELDS[name][0], value)
        self.changed.emit(name)

    def _valid(self, name: str, value):
        default = _FIELDS[name][1]
        try:
            if name == "tool":
                return value if value in TOOLS else default
            if name == "smart":
                return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
            if name == "brush_size":
                return int(min(MAX_BRUSH, max(MIN_BRUSH, round(float(value)))))
            if name in ("hardness", "overlay_opacity"):
                return round(min(1.0, max(0.0, float(value))), 3)
            if name == "view_mode":
                return value if value in VIEW_MODES else default
            if name == "background":
                return value if value in BACKGROUNDS else default
            if name in ("overlay_color", "background_color"):
                return QColor(str(value)).name() if QColor.isValidColorName(str(value)) else default
            if name == "cleanup_percent":
                return round(min(50.0, max(0.001, float(value))), 3)
        except (TypeError, ValueError, OverflowError):  # "inf" in the settings file too
            return default
        return value

    # -- conveniences used by menu actions --------------------------------------------------
    def toggle_original(self) -> None:
        """Between the original photo and the last other view (the overlay at first)."""
        self.set("view_mode", self._previous_view if self.view_mode == "original" else "original")

    def step_brush_size(self, direction: int) -> None:
        """One step bigger (+1) or smaller (-1): about 15 %, at least 1 pixel."""
        size = self.brush_size
        step = max(1, round(size * 0.15))
        self.set("brush_size", size + direction * step)

    def step_hardness(self, direction: int) -> None:
        self.set("hardness", round(self.hardness + 0.25 * direction, 2))

    def cleanup_area(self, width: int, height: int) -> int:
        """The clean-up size limit in pixels for a photo of that size."""
        return max(1, int(width * height * self.cleanup_percent / 100.0))

"""The canvas: the photo and its mask at full resolution, zoom and pan, and the brush.

It draws a ``DisplayImage`` (only the exposed part, so a brush dab repaints a few hundred
screen pixels), maps the pointer to image coordinates, and turns drags into strokes of the
current ``MaskEditor``. It talks outward only through signals.

Mouse: left drag paints with the current tool, right drag with the other one (with Smart
Edges on, the strokes snap to the photo's edges; Ctrl + drag is the plain brush); with the
Flip Region tool a click flips the region under the pointer; with the Re-mask in Box and Car in
Box tools a drag draws a box (``boxRequested`` on release; Car in Box shades what will become
background). The wheel zooms around the pointer; space + left drag or a middle drag pans. The
edge-aware work is ``core.masking.smart_tools``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QRegion, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QLineEdit, QWidget

from core.listing.presets import ListingSpec
from core.masking.mask_edit import BRUSH, ERASER, MaskEditor, Rect
from core.masking.smart_cut import CUT_AWAY, CUT_IN, CutStroke
from core.masking.smart_tools import REFINE, EdgeGuide, SmartStroke, region_values
from maskingnet_app.editor.editor_state import BOX_TOOLS, CAR_BOX, REGION, STROKE_TOOLS, EditorState
from maskingnet_app.editor.render import DisplayImage

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
ZOOM_STEP = 1.25
BACKDROP = QColor("#2a2a2e")
PLACEHOLDER = "Open photos with Ctrl+O, a folder with Ctrl+Shift+O, or drop them here"


def _checker_pixmap(square: int = 8) -> QPixmap:
    pixmap = QPixmap(2 * square, 2 * square)
    pixmap.fill(QColor("#cfcfcf"))
    painter = QPainter(pixmap)
    painter.fillRect(0, 0, square, square, QColor("#f4f4f4"))
    painter.fillRect(square, square, square, square, QColor("#f4f4f4"))
    painter.end()
    return pixmap


class Canvas(QAbstractScrollArea):
    """See the module docstring. ``state`` supplies the tool, brush and view settings."""

    strokeFinished = Signal()  # a stroke or a region flip was committed as one undo step
    boxRequested = Signal(object)  # Rect in image pixels: re-mask inside it
    zoomChanged = Signal(float)
    cursorMoved = Signal(int, int)  # image pixel under the pointer, (-1, -1) outside

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._display: DisplayImage | None = None
        self._editor: MaskEditor | None = None
        self._zoom = 1.0
        self._fit = True
        self._notice = ""
        self._pointer: QPointF | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._stroking = False
        self._smart: SmartStroke | None = None
        self._probability: np.ndarray | None = None
        self._guide: EdgeGuide | None = None
        self._box: tuple[QPointF, QPointF] | None = None  # widget points of the box being drawn
        self._checker = QBrush(_checker_pixmap())
        self._listing = ListingSpec()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAcceptDrops(False)  # drops go to the window
        self.horizontalScrollBar().setSingleStep(20)
        self.verticalScrollBar().setSingleStep(20)
        state.changed.connect(self._on_state_changed)

    # -- content -------------------------------------------------------------------------
    @property
    def editor(self) -> MaskEditor | None:
        return self._editor

    @property
    def display(self) -> DisplayImage | None:
        return self._display

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def in_stroke(self) -> bool:
        return self._stroking

    @property
    def editing_enabled(self) -> bool:
        """Painting works on a photo with a mask, in every view but the listing (another frame)."""
        return self._display is not None and self._editor is not None and self.state.view_mode != "listing"

    def set_photo(self, rgb: np.ndarray | None, photo_alpha: np.ndarray | None = None,
                  editor: MaskEditor | None = None, *, keep_view: bool = False) -> None:
        """Show a photo (None clears the canvas) with its editor (None: no mask yet); fits it
        in the window unless ``keep_view``."""
        self._finish_stroke()
        self._editor = editor
        self._guide = None
        if rgb is None:
            self._display = None
        else:
            self._display = DisplayImage(rgb, editor.alpha if editor else None, photo_alpha)
            self._display.configure(mode=self.state.view_mode, color=self.state.overlay_color,
                                    opacity=self.state.overlay_opacity, listing=self._listing)
        if not keep_view or self._display is None:
            self._fit = True
        self._update_geometry()
        self._update_cursor()
        self.viewport().update()

    def set_editor(self, editor: MaskEditor | None) -> None:
        """A mask arrived or was replaced for the photo on show."""
        self._finish_stroke()
        self._editor = editor
        if self._display is not None:
            self._display.configure(alpha=editor.alpha if editor else None)
        self._update_cursor()
        self.viewport().update()

    def set_listing(self, spec: ListingSpec) -> None:
        """The listing settings the "listing" view shows."""
        self._listing = spec
        if self._display is not None:
            self._display.listing = spec
            if self.state.view_mode == "listing":
                self._display.update()
                self.viewport().update()

    def set_probability(self, probability: np.ndarray | None) -> None:
        """The model's car probability (H, W) uint8 for the photo on show, which the smart
        tools snap with (None: they use the photo alone)."""
        self._probability = probability
        self._guide = None

    @property
    def guide(self) -> EdgeGuide | None:
        """What the smart tools see of the photo on show (made on first use)."""
        if self._guide is None and self._display is not None:
            probability = self._probability
            if probability is not None and probability.shape != self._display.rgb.shape[:2]:
                probability = None
            self._guide = EdgeGuide(self._display.rgb, probability)
        return self._guide

    def set_notice(self, text: str) -> None:
        """A short status drawn over the photo, e.g. 'Masking…' ('' hides it)."""
        if text != self._notice:
            self._notice = text
            self.viewport().update()

    def refresh(self, rect: Rect | None = None) -> None:
        """The mask changed outside the canvas (undo, a command): recompose and repaint."""
        if self._display is None:
            return
        self._display.update(rect)
        self.viewport().update() if rect is None else self._repaint_image_rect(rect)

    # -- strokes (also the benchmark's entry points) ---------------------------------------
    def begin_stroke(self, tool: str | None = None, smart: bool | None = None) -> bool:
        """Start a stroke with ``tool`` (default: the current brush, eraser, Refine Edge or Cut to
        Edges; ``CUT_IN`` is Cut to Edges adding car), snapping to the photo's edges when ``smart``
        (default: the Smart Edges setting; Refine Edge and Cut to Edges always do); False when
        editing is off."""
        if not self.editing_enabled:
            return False
        tool = tool or (self.state.tool if self.state.tool in STROKE_TOOLS else BRUSH)
        if tool in (CUT_AWAY, CUT_IN):
            self._smart = CutStroke(self._editor, self.guide, tool == CUT_IN, self.state.brush_size)
        elif tool == REFINE or (self.state.smart if smart is None else smart):
            self._smart = SmartStroke(self._editor, self.guide, tool, self.state.brush_size)
        else:
            self._editor.begin_stroke(tool, self.state.brush_size, self.state.hardness)
        self._stroking = True
        return True

    def continue_stroke(self, x: float, y: float) -> Rect | None:
        """Extend the stroke to image point (x, y); recomposes and schedules the repaint."""
        if not self._stroking:
            return None
        rect = self._smart.to(x, y) if self._smart is not None else self._editor.stroke_to(x, y)
        if rect is not None:
            self._display.update(rect)
            self._repaint_image_rect(rect)
        return rect

    def end_stroke(self) -> None:
        if not self._stroking:
            return
        self._stroking = False
        smart, self._smart = self._smart, None
        if smart is not None:
            rect = smart.flush()  # the last piece; the others are on show already
            if rect is not None:
                self._display.update(rect)
                self._repaint_image_rect(rect)
        diff = smart.end() if smart is not None else self._editor.end_stroke()
        if diff is not None:
            self.strokeFinished.emit()

    def flip_region(self, x: float, y: float) -> Rect | None:
        """Flip the wrongly masked region at image point (x, y) as one undo step."""
        if not self.editing_enabled or self._stroking:
            return None
        found = region_values(self.guide, self._editor.alpha, x, y)
        rect = self._editor.patch(*found, "Flip Region") if found is not None else None
        if rect is not None:
            self.refresh(rect)
            self.strokeFinished.emit()
        return rect

    def box_rect(self) -> Rect | None:
        """The box being drawn, in image pixels (None when there is none)."""
        if self._box is None or self._display is None:
            return None
        (x0, y0), (x1, y1) = (self.widget_to_image(point) for point in self._box)
        width, height = self._display.size
        return Rect(math.floor(min(x0, x1)), math.floor(min(y0, y1)),
                    math.ceil(max(x0, x1)), math.ceil(max(y0, y1))).clip(width, height)

    def _finish_stroke(self) -> None:
        if self._stroking:
            self.end_stroke()

    # -- coordinates and zoom -------------------------------------------------------------
    def _origin(self) -> QPointF:
        """Widget position of the image's top-left corner."""
        if self._display is None:
            return QPointF()
        width, height = self._display.size
        view_w, view_h = self.viewport().width(), self.viewport().height()
        x = (view_w - width * self._zoom) / 2 if width * self._zoom <= view_w else -self.horizontalScrollBar().value()
        y = (view_h - height * self._zoom) / 2 if height * self._zoom <= view_h else -self.verticalScrollBar().value()
        return QPointF(x, y)

    def widget_to_image(self, point: QPointF) -> tuple[float, float]:
        origin = self._origin()
        return (point.x() - origin.x()) / self._zoom, (point.y() - origin.y()) / self._zoom

    def image_to_widget(self, x: float, y: float) -> QPointF:
        origin = self._origin()
        return QPointF(origin.x() + x * self._zoom, origin.y() + y * self._zoom)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the image point under ``anchor`` (default: the centre) fixed."""
        if self._display is None:
            return
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if abs(zoom - 1.0) < 0.02:
            zoom = 1.0
        anchor = anchor if anchor is not None else QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        image_x, image_y = self.widget_to_image(anchor)
        self._fit = False
        self._zoom = zoom
        self._update_geometry()
        self.horizontalScrollBar().setValue(round(image_x * zoom - anchor.x()))
        self.verticalScrollBar().setValue(round(image_y * zoom - anchor.y()))
        self.viewport().update()
        self.zoomChanged.emit(zoom)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        self._fit = True
        self._update_geometry()
        self.viewport().update()

    def _fit_zoom(self) -> float:
        width, height = self._display.size
        view = self.viewport()
        # the view without scroll bars: fitting never needs them
        available_w = view.width() + (self.verticalScrollBar().width() if self.verticalScrollBar().isVisible() else 0)
        available_h = view.height() + (self.horizontalScrollBar().height() if self.horizontalScrollBar().isVisible() else 0)
        return max(MIN_ZOOM, min(MAX_ZOOM, min((available_w - 8) / width, (available_h - 8) / height)))

    def _update_geometry(self) -> None:
        if self._display is None:
            self.horizontalScrollBar().setRange(0, 0)
            self.verticalScrollBar().setRange(0, 0)
            return
        if self._fit:
            zoom = self._fit_zoom()
            if zoom != self._zoom:
                self._zoom = zoom
                self.zoomChanged.emit(zoom)
        width, height = self._display.size
        for bar, content, page in ((self.horizontalScrollBar(), width, self.viewport().width()),
                                   (self.verticalScrollBar(), height, self.viewport().height())):
            bar.setPageStep(page)
            bar.setRange(0, max(0, math.ceil(content * self._zoom) - page))

    # -- painting ------------------------------------------------------------------------
    def _image_rect_on_screen(self, rect: Rect) -> QRect:
        top_left = self.image_to_widget(rect.left, rect.top)
        return QRectF(top_left.x(), top_left.y(), rect.width * self._zoom, rect.height * self._zoom).toAlignedRect()

    def _repaint_image_rect(self, rect: Rect) -> None:
        self.viewport().update(self._image_rect_on_screen(rect).adjusted(-1, -1, 1, 1))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        exposed = event.rect()
        painter.fillRect(exposed, BACKDROP)
        if self._display is None:
            if self._notice:
                self._draw_notice(painter)
            else:
                painter.setPen(QColor("#b0b0b8"))
                painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
            return
        width, height = self._display.size
        zoom = self._zoom
        origin = self._origin()
        # the exposed part in image pixels, widened to whole pixels
        left = max(0, math.floor((exposed.left() - origin.x()) / zoom))
        top = max(0, math.floor((exposed.top() - origin.y()) / zoom))
        right = min(width, math.ceil((exposed.right() + 1 - origin.x()) / zoom))
        bottom = min(height, math.ceil((exposed.bottom() + 1 - origin.y()) / zoom))
        if right > left and bottom > top:
            source = QRectF(left, top, right - left, bottom - top)
            target = QRectF(origin.x() + left * zoom, origin.y() + top * zoom, source.width() * zoom, source.height() * zoom)
            if self._display.shows_alpha:
                painter.save()
                painter.setClipRect(target)
                if self.state.background == "checker":
                    painter.setBrushOrigin(origin)
                    painter.fillRect(target, self._checker)
                else:
                    painter.fillRect(target, QColor(self.state.background_color))
                painter.restore()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoom < 1.0)
            painter.drawImage(target, self._display.qimage, source)
        if self._notice:
            self._draw_notice(painter)
        if self._box is not None:
            if self.state.tool == CAR_BOX:  # the preview: all outside the box becomes background
                outside = QRegion(self.viewport().rect()).subtracted(QRegion(QRectF(*self._box).normalized().toAlignedRect()))
                painter.save()
                painter.setClipRegion(outside)
                painter.fillRect(self.viewport().rect(), QColor(0, 0, 0, 110))
                painter.restore()
            painter.setBrush(QColor(255, 255, 255, 40))
            for color, style in ((QColor(0, 0, 0, 220), Qt.PenStyle.SolidLine), (QColor(255, 255, 255), Qt.PenStyle.DashLine)):
                painter.setPen(QPen(color, 1, style))
                painter.drawRect(QRectF(*self._box).normalized())
        if self._pointer is not None and self.editing_enabled and self._pan_from is None and not self._space:
            self._draw_brush_cursor(painter, self._pointer)

    def _draw_notice(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        box = QRect(10, 10, metrics.horizontalAdvance(self._notice) + 20, metrics.height() + 10)
        painter.fillRect(box, QColor(0, 0, 0, 170))
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._notice)

    def _cursor_radius(self) -> float:
        return max(1.0, self.state.brush_size * self._zoom / 2)

    def _draw_brush_cursor(self, painter: QPainter, point: QPointF) -> None:
        if self.state.tool in (REGION, *BOX_TOOLS):  # a cross hair: these tools point, they do not paint
            for color, width in ((QColor(0, 0, 0, 200), 3), (QColor(255, 255, 255, 230), 1)):
                painter.setPen(QPen(color, width))
                painter.drawLine(point + QPointF(-8, 0), point + QPointF(8, 0))
                painter.drawLine(point + QPointF(0, -8), point + QPointF(0, 8))
            return
        radius = self._cursor_radius()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((QColor(0, 0, 0, 200), 3), (QColor(255, 255, 255, 230), 1)):
            painter.setPen(QPen(color, width))
            painter.drawEllipse(point, radius, radius)
            if self.state.hardness < 1.0 and radius * self.state.hardness > 3:
                inner = radius * self.state.hardness
                painter.setPen(QPen(color, width, Qt.PenStyle.DotLine))
                painter.drawEllipse(point, inner, inner)
                painter.setPen(QPen(color, width))
            arm = 4
            painter.drawLine(point + QPointF(-arm, 0), point + QPointF(arm, 0))
            if self.state.tool == BRUSH:
                painter.drawLine(point + QPointF(0, -arm), point + QPointF(0, arm))

    def _cursor_area(self, point: QPointF | None) -> QRect:
        if point is None:
            return QRect()
        radius = self._cursor_radius() + 4
        return QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius).toAlignedRect()

    def _move_pointer(self, point: QPointF | None) -> None:
        old = self._cursor_area(self._pointer)
        self._pointer = point
        self.viewport().update(old.united(self._cursor_area(point)))

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space and self._display is not None:
            shape = Qt.CursorShape.OpenHandCursor
        elif self.editing_enabled:
            shape = Qt.CursorShape.BlankCursor
        else:
            shape = Qt.CursorShape.ArrowCursor
        self.viewport().setCursor(shape)

    # -- input ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self._update_cursor()
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) and not self._stroking:
            tool = self.state.tool
            if tool == REGION:
                self.flip_region(*self.widget_to_image(event.position()))
            elif tool in BOX_TOOLS:
                if button == Qt.MouseButton.LeftButton and self.editing_enabled:
                    self._box = (event.position(), event.position())
            else:
                if button == Qt.MouseButton.RightButton and tool != REFINE:
                    tool = {BRUSH: ERASER, ERASER: BRUSH, CUT_AWAY: CUT_IN}.get(tool, tool)
                plain = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
                if self.begin_stroke(tool, self.state.smart != plain):
                    self.continue_stroke(*self.widget_to_image(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._pan_from is not None:
            delta = position - self._pan_from
            self._pan_from = position
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
        elif self._stroking:
            self.continue_stroke(*self.widget_to_image(position))
        elif self._box is not None:
            old = QRectF(*self._box).normalized().toAlignedRect()
            self._box = (self._box[0], position)
            if self.state.tool == CAR_BOX:
                self.viewport().update()  # the shade outside the box moves too
            else:
                self.viewport().update(old.united(QRectF(*self._box).normalized().toAlignedRect()).adjusted(-3, -3, 3, 3))
        self._move_pointer(position)
        if self._display is not None:
            x, y = self.widget_to_image(position)
            width, height = self._display.size
            inside = 0 <= x < width and 0 <= y < height
            self.cursorMoved.emit(int(x) if inside else -1, int(y) if inside else -1)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor()
        elif self._stroking and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.end_stroke()
        elif self._box is not None and event.button() == Qt.MouseButton.LeftButton:
            rect = self.box_rect()
            self._box = None
            self.viewport().update()
            if rect is not None and not rect.empty:
                self.boxRequested.emit(rect)
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._display is None:
            return
        delta = event.angleDelta()
        if delta.y():
            self.set_zoom(self._zoom * ZOOM_STEP ** (delta.y() / 120), event.position())
        elif delta.x():
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._update_cursor()
            self.viewport().update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self._update_cursor()
            self.viewport().update()
            return
        super().keyReleaseEvent(event)

    def enterEvent(self, event) -> None:
        focused = QApplication.focusWidget()
        if not isinstance(focused, (QLineEdit, QAbstractSpinBox)):
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self._move_pointer(None)
        self.cursorMoved.emit(-1, -1)
        super().leaveEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space = False
        self._update_cursor()
        super().focusOutEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_geometry()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def _on_state_changed(self, name: str) -> None:
        if name in ("view_mode", "overlay_color", "overlay_opacity") and self._display is not None:
            self._display.configure(mode=self.state.view_mode, color=self.state.overlay_color,
                                    opacity=self.state.overlay_opacity)
            self._update_cursor()
            self.viewport().update()
        elif name in ("background", "background_color"):
            self.viewport().update()
        elif name in ("brush_size", "hardness", "tool", "smart") and self._pointer is not None:
            self.viewport().update()

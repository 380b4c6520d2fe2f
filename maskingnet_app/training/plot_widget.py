"""A small line plot drawn with QPainter: a few named series, dashed reference lines, a legend.

Enough for live training curves without QtCharts or pyqtgraph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")


@dataclass
class Series:
    name: str
    color: QColor
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Reference:
    name: str
    value: float
    color: QColor


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _format(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{min(decimals, 5)}f}"


class LinePlot(QWidget):
    """Series of (x, y) points drawn as lines with dots; the y range follows the data unless fixed."""

    def __init__(self, title: str = "", *, x_label: str = "", y_range: tuple[float, float] | None = None,
                 integer_x: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.x_label = x_label
        self.fixed_y_range = y_range
        self.integer_x = integer_x
        self.empty_text = "no data yet"
        self._series: dict[str, Series] = {}
        self._references: dict[str, Reference] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(220, 150)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(380, 230)

    # data -------------------------------------------------------------------------------
    def _ensure(self, name: str, color: str | None) -> Series:
        if name not in self._series:
            chosen = QColor(color or PALETTE[len(self._series) % len(PALETTE)])
            self._series[name] = Series(name, chosen)
        elif color:
            self._series[name].color = QColor(color)
        return self._series[name]

    def set_series(self, name: str, points: list[tuple[float, float]], color: str | None = None) -> None:
        self._ensure(name, color).points = [(float(x), float(y)) for x, y in points if math.isfinite(y)]
        self.update()

    def add_point(self, name: str, x: float, y: float, color: str | None = None) -> None:
        if y is None or not math.isfinite(y):
            return
        self._ensure(name, color).points.append((float(x), float(y)))
        self.update()

    def set_reference(self, name: str, value: float | None, color: str = "#555555") -> None:
        """A dashed horizontal line (e.g. the starting model's score); None removes it."""
        if value is None or not math.isfinite(value):
            self._references.pop(name, None)
        else:
            self._references[name] = Reference(name, float(value), QColor(color))
        self.update()

    def points(self, name: str) -> list[tuple[float, float]]:
        return list(self._series[name].points) if name in self._series else []

    def clear(self) -> None:
        self._series.clear()
        self._references.clear()
        self.update()

    # geometry ---------------------------------------------------------------------------
    def data_range(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) shown: all points and references, padded a little."""
        xs = [x for s in self._series.values() for x, _ in s.points]
        ys = [y for s in self._series.values() for _, y in s.points] + [r.value for r in self._references.values()]
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        if self.integer_x:
            x0, x1 = min(x0, 1.0), max(x1, x0 + 1.0)
        if x1 <= x0:
            x1 = x0 + 1.0
        margin = (x1 - x0) * 0.03  # keep the end dots off the frame
        x0, x1 = x0 - margin, x1 + margin
        if self.fixed_y_range is not None:
            y0, y1 = self.fixed_y_range
        elif ys:
            y0, y1 = min(ys), max(ys)
            pad = (y1 - y0) * 0.08 or max(abs(y1) * 0.05, 1e-3)
            y0, y1 = y0 - pad, y1 + pad
        else:
            y0, y1 = 0.0, 1.0
        return x0, x1, y0, y1

    def legend_entries(self) -> list[tuple[str, QColor, bool]]:
        """(name, colour, dashed) of every series, then every reference line."""
        return ([(s.name, s.color, False) for s in self._series.values()]
                + [(r.name, r.color, True) for r in self._references.values()])

    def layout_rects(self, metrics: QFontMetrics | None = None,
                     y_labels: list[str] | None = None) -> tuple[QRectF, list[tuple[float, float]]]:
        """The plot area and the top-left corner of each legend entry. The legend sits in rows
        between the title and the plot, so it never hides a point or a reference line."""
        metrics = metrics or QFontMetrics(self.font())
        if y_labels is None:
            _, _, y0, y1 = self.data_range()
            ticks = nice_ticks(y0, y1, 4)
            step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
            y_labels = [_format(t, step) for t in ticks]
        left = 8 + max((metrics.horizontalAdvance(t) for t in y_labels), default=20)
        right = self.width() - 12
        top = 8 + (metrics.height() + 4 if self.title else 0)
        corners, x, row = [], left, 0
        for name, _, _ in self.legend_entries():
            width = 22 + metrics.horizontalAdvance(name) + 14
            if x > left and x + width > right:
                x, row = left, row + 1
            corners.append((x, top + row * (metrics.height() + 2)))
            x += width
        if corners:
            top += (row + 1) * (metrics.height() + 2) + 4
        bottom = 8 + metrics.height() * (2 if self.x_label else 1) + 4
        plot = QRectF(left, top, max(10.0, right - left), max(10.0, self.height() - top - bottom))
        return plot, corners

    # painting ---------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        text_color = palette.text().color()
        font = QFont(self.font())
        metrics = QFontMetrics(font)
        x0, x1, y0, y1 = self.data_range()
        y_ticks = nice_ticks(y0, y1, 4)
        y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
        y_labels = [_format(t, y_step) for t in y_ticks]
        plot, legend = self.layout_rects(metrics, y_labels)
        left = plot.left()

        def to_screen(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (y - y0) / (y1 - y0) * plot.height())

        painter.setPen(text_color)
        if self.title:
            title_font = QFont(font)
            title_font.setBold(True)
            painter.setFont(title_font)
            painter.drawText(QRectF(0, 4, self.width(), metrics.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.title)
            painter.setFont(font)
        grid = QPen(QColor(text_color))
        grid.setColor(QColor(text_color.red(), text_color.green(), text_color.blue(), 40))
        for tick, label in zip(y_ticks, y_labels):
            if not y0 <= tick <= y1:
                continue
            point = to_screen(x0, tick)
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), point.y()), QPointF(plot.right(), point.y()))
            painter.setPen(text_color)
            painter.drawText(QRectF(0, point.y() - metrics.height() / 2, left - 5, metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        x_ticks = nice_ticks(x0, x1, 6)
        if self.integer_x:
            x_ticks = sorted({int(round(t)) for t in x_ticks if abs(t - round(t)) < 1e-9})
        x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
        for tick in x_ticks:
            if not x0 <= tick <= x1:
                continue
            point = to_screen(tick, y0)
            painter.drawText(QRectF(point.x() - 30, plot.bottom() + 2, 60, metrics.height()),
                             Qt.AlignmentFlag.AlignHCenter, _format(tick, x_step))
        if self.x_label:
            painter.drawText(QRectF(plot.left(), plot.bottom() + metrics.height() + 2, plot.width(), metrics.height()),
                             Qt.AlignmentFlag.AlignHCenter, self.x_label)
        painter.setPen(QPen(text_color, 1))
        painter.drawRect(plot)

        painter.save()
        painter.setClipRect(plot.adjusted(-4, -4, 4, 4))
        for reference in self._references.values():
            pen = QPen(reference.color, 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            y = to_screen(x0, reference.value).y()
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        for series in self._series.values():
            if not series.points:
                continue
            path = QPainterPath(to_screen(*series.points[0]))
            for point in series.points[1:]:
                path.lineTo(to_screen(*point))
            painter.setPen(QPen(series.color, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.setBrush(series.color)
            for point in series.points:
                painter.drawEllipse(to_screen(*point), 3, 3)
        painter.restore()

        entries = self.legend_entries()
        if not any(s.points for s in self._series.values()):
            painter.setPen(QColor(text_color.red(), text_color.green(), text_color.blue(), 140))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.empty_text)
        for (name, color, dashed), (x, y) in zip(entries, legend):
            painter.setPen(QPen(color, 2, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine))
            painter.drawLine(QPointF(x, y + metrics.height() / 2), QPointF(x + 18, y + metrics.height() / 2))
            painter.setPen(text_color)
            painter.drawText(QRectF(x + 22, y, metrics.horizontalAdvance(name) + 4, metrics.height()),
                             Qt.AlignmentFlag.AlignLeft, name)
        painter.end()

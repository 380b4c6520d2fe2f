"""The review grid: a batch's exports as thumbnails, the most doubtful first, with marks.

Reads the review log of an output folder (``core.batch.review``) and shows every export with its
mask, sorted by how unsure the model was; the cars on the left, the one whose masks disagree
most across its angles first (flagged with a warning sign past ``DISAGREEMENT_FLAG``).
Choosing a car shows its photos in angle order. Each photo has a mark (accepted / needs
fixing / fixed) saved in the log at once. A click opens the photo in the editor
(``openRequested``); when the editor saves a correction of a photo of this batch
(``on_correction_saved``), its export is made again from the corrected mask and marked fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from core.batch.review import (
    ACCEPTED,
    FIXED,
    MARK_LABELS,
    NEEDS_FIXING,
    UNREVIEWED,
    CarSummary,
    ReviewItem,
    ReviewLog,
    group_cars,
    rank_by_doubt,
)
from maskingnet_app.batch.batch_thumbs import THUMB_SIZE, ThumbnailLoader
from maskingnet_app.worker import TaskQueue

ItemRole = Qt.ItemDataRole.UserRole + 1
MARK_COLORS = {ACCEPTED: "#2e9d4f", NEEDS_FIXING: "#d9480f", FIXED: "#1c7ed6", UNREVIEWED: "#868e96"}
MARK_SYMBOLS = {ACCEPTED: "\u2713", NEEDS_FIXING: "\u2717", FIXED: "\u270e", UNREVIEWED: ""}
MARK_KEYS = {ACCEPTED: "A", NEEDS_FIXING: "F", FIXED: "X", UNREVIEWED: "U"}
_MARK_OF_KEY = {key: mark for mark, key in MARK_KEYS.items()}
ALL_CARS = ""  # the car list's first entry: every photo, most doubtful first
REEXPORT_DELAY_MS = 1200  # a correction is saved after each stroke; export once the user pauses


class ReviewModel(QAbstractListModel):
    """The photos shown: every one by doubt, or one car's by angle; optionally one mark only."""

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.out_dir: Path | None = None
        self.format = "png"
        self.items: dict[str, ReviewItem] = {}
        self.cars: list[CarSummary] = []
        self.car = ALL_CARS
        self.mark_filter: str | None = None
        self._rows: list[ReviewItem] = []
        self._row_of: dict[str, int] = {}
        loader.ready.connect(self._on_thumbnail)

    # -- content -------------------------------------------------------------------------
    def set_items(self, out_dir: Path | None, items: dict[str, ReviewItem], fmt: str) -> None:
        self.out_dir, self.items, self.format = out_dir, items, fmt
        self.cars = group_cars(items.values())
        if self.car != ALL_CARS and self.car not in {car.car for car in self.cars}:
            self.car = ALL_CARS
        self._rebuild()

    def set_car(self, car: str) -> None:
        self.car = car
        self._rebuild()

    def set_mark_filter(self, mark: str | None) -> None:
        self.mark_filter = mark
        self._rebuild()

    def _rebuild(self) -> None:
        if self.car == ALL_CARS:
            rows = rank_by_doubt(self.items.values())
        else:
            rows = next((car.items for car in self.cars if car.car == self.car), [])
        if self.mark_filter is not None:
            rows = [item for item in rows if item.mark == self.mark_filter]
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {item.output: row for row, item in enumerate(self._rows)}
        self.endResetModel()

    def item(self, row: int) -> ReviewItem | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, output: str) -> int:
        return self._row_of.get(output, -1)

    def refresh_item(self, output: str) -> None:
        row = self.row_of(output)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def output_path(self, item: ReviewItem) -> Path:
        return (self.out_dir or Path()) / item.output

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        item = self.item(index.row())
        if item is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == ItemRole:
            return item
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(self.output_path(item), Path(item.source) if item.source else None, self.format)
        if role == Qt.ItemDataRole.ToolTipRole:
            doubt = "not scored" if item.doubt is None else f"{item.doubt:.3f}"
            parts = [item.source or item.output, f"doubt {doubt}"]
            if item.uncertainty is not None:
                parts.append(f"undecided pixels {100 * item.uncertainty:.1f}%")
            if item.mirror is not None:
                parts.append(f"mirror disagreement {100 * item.mirror:.1f}%")
            if item.area is not None:
                parts.append(f"car area {100 * item.area:.0f}%")
            parts.append(f"car {item.car}" + (f", angle {item.angle}" if item.angle >= 0 else ""))
            parts.append(MARK_LABELS[item.mark] + (" (exported from your correction)" if item.corrected else ""))
            return "\n".join(parts)
        return None

    def _on_thumbnail(self, output: str) -> None:
        if self.out_dir is None:
            return
        try:
            key = Path(output).relative_to(self.out_dir).as_posix()
        except ValueError:
            return
        self.refresh_item(key)


class ReviewDelegate(QStyledItemDelegate):
    """A thumbnail, the photo's name, its doubt and its mark."""

    PADDING = 6
    TEXT_HEIGHT = 34

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(THUMB_SIZE[0] + 2 * self.PADDING, THUMB_SIZE[1] + self.TEXT_HEIGHT + 2 * self.PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        item: ReviewItem = index.data(ItemRole)
        if item is None:
            return
        painter.save()
        rect = option.rect.adjusted(2, 2, -2, -2)
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
            text_color = palette.color(QPalette.ColorRole.HighlightedText)
        else:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
            text_color = palette.color(QPalette.ColorRole.Text)
        box = QRect(rect.left() + self.PADDING - 2, rect.top() + self.PADDING - 2, THUMB_SIZE[0], THUMB_SIZE[1])
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if image is not None and not image.isNull():
            scaled = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.drawImage(target, image)
        else:
            painter.fillRect(box, QColor("#dee2e6"))
            painter.setPen(QColor("#495057"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "…" if image is None else "cannot read")
        if item.mark != UNREVIEWED:
            badge = QRect(box.left() + 4, box.top() + 4, 22, 22)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(MARK_COLORS[item.mark]))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(badge)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, MARK_SYMBOLS[item.mark])
        painter.setPen(text_color)
        text_box = QRect(rect.left() + self.PADDING, box.bottom() + 3, rect.width() - 2 * self.PADDING, 16)
        name = painter.fontMetrics().elidedText(item.name, Qt.TextElideMode.ElideMiddle, text_box.width())
        painter.drawText(text_box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        doubt = "not scored" if item.doubt is None else f"doubt {item.doubt:.3f}"
        detail = f"{doubt} · {MARK_LABELS[item.mark]}"
        painter.setPen(QColor(MARK_COLORS[item.mark]) if item.mark != UNREVIEWED else text_color)
        painter.drawText(text_box.translated(0, 15), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(detail, Qt.TextElideMode.ElideRight, text_box.width()))
        painter.restore()


class ReviewGrid(QWidget):
    """See the module docstring. ``corrections``: a ``CorrectionStore`` or a function giving it
    (default: the user's store); ``open_photo`` is called with the photo's path on a click."""

    openRequested = Signal(str)  # the photo's path
    markChanged = Signal(str, str)  # output (relative), mark
    reexported = Signal(str, str)  # output (relative), '' or a one-line error
    _reexportDone = Signal(str, str)

    def __init__(self, out_dir: str | Path | None = None, *, open_photo: Callable[[Path], object] | None = None,
                 corrections=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log: ReviewLog | None = None
        self._corrections = corrections
        self._by_source: dict[str, str] = {}
        self._timers: dict[str, QTimer] = {}
        self._tasks = TaskQueue(self)
        self.loader = ThumbnailLoader(parent=self)
        self.model = ReviewModel(self.loader, self)

        self.cars = QListWidget()
        self.cars.setMinimumWidth(200)
        self.cars.setWordWrap(True)
        self.cars.currentItemChanged.connect(self._on_car)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setSpacing(4)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setItemDelegate(ReviewDelegate(self.view))
        self.view.setModel(self.model)
        self.view.clicked.connect(self._on_clicked)
        self.view.activated.connect(self._open_index)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.mark_filter = QComboBox()
        self.mark_filter.addItem("Every mark", None)
        for mark in (UNREVIEWED, NEEDS_FIXING, ACCEPTED, FIXED):
            self.mark_filter.addItem(MARK_LABELS[mark].capitalize(), mark)
        self.mark_filter.currentIndexChanged.connect(lambda: self.model.set_mark_filter(self.mark_filter.currentData()))
        self.mark_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Show:"))
        buttons.addWidget(self.mark_filter)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Mark:"))
        for mark in (ACCEPTED, NEEDS_FIXING, FIXED, UNREVIEWED):
            label = "Clear" if mark == UNREVIEWED else MARK_LABELS[mark].capitalize()
            button = QPushButton(f"{label} ({MARK_KEYS[mark]})")
            button.setToolTip(f"Mark the selected photos: {MARK_LABELS[mark]}")
            button.clicked.connect(lambda _=False, m=mark: self.mark_selected(m))
            buttons.addWidget(button)
            self.mark_buttons[mark] = button
        self.view.installEventFilter(self)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.view, 1)
        splitter = QSplitter()
        splitter.addWidget(self.cars)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        if open_photo is not None:
            self.openRequested.connect(lambda path: open_photo(Path(path)))
        self._reexportDone.connect(self._on_reexport_done)
        if out_dir is not None:
            self.load_folder(out_dir)
        else:
            self._update_summary()

    # -- loading -------------------------------------------------------------------------
    def load_folder(self, out_dir: str | Path) -> None:
        """Show the batch written to ``out_dir`` (its review log)."""
        self.log = ReviewLog(out_dir)
        self.refresh()

    def refresh(self) -> None:
        """Read the log again (new exports during a batch, marks from elsewhere), keeping the
        current photo and car selected."""
        if self.log is None:
            return
        current = self.current_item()
        items, options = self.log.load()
        self._by_source = {_resolved(item.source): key for key, item in items.items() if item.source}
        self.model.set_items(self.log.out_dir, items, options.format if options is not None else "png")
        self._fill_cars()
        if current is not None and self.model.row_of(current.output) >= 0:
            self.view.setCurrentIndex(self.model.index(self.model.row_of(current.output)))
        self._update_summary()

    def _fill_cars(self) -> None:
        self.cars.blockSignals(True)
        self.cars.clear()
        everything = QListWidgetItem(f"All photos ({len(self.model.items)}), most doubtful first")
        everything.setData(ItemRole, ALL_CARS)
        self.cars.addItem(everything)
        for index, car in enumerate(self.model.cars):
            if len(car.items) < 2:
                continue
            sign = "\u26a0 " if car.flagged else ""
            entry = QListWidgetItem(f"{sign}{car.car}\n    {len(car.items)} photos · area jump {100 * car.disagreement:.0f}%")
            entry.setData(ItemRole, car.car)
            tip = "The car whose masks disagree most across its angles. " if index == 0 else ""
            if car.flagged:
                entry.setForeground(QColor(MARK_COLORS[NEEDS_FIXING]))
                tip += "Its mask area jumps between neighbouring angles more than hand-made masks do: check its photos."
            entry.setToolTip(tip or "The largest change of mask area between two neighbouring angles")
            self.cars.addItem(entry)
            if car.car == self.model.car:
                self.cars.setCurrentItem(entry)
        if self.cars.currentItem() is None:
            self.cars.setCurrentRow(0)
        self.cars.blockSignals(False)

    def _update_summary(self) -> None:
        items = self.model.items
        if not items:
            self.summary.setText("No exports to review yet.")
            return
        counts = {mark: sum(item.mark == mark for item in items.values()) for mark in MARK_LABELS}
        flagged = [car.car for car in self.model.cars if car.flagged]
        text = (f"{len(items)} exports · {counts[UNREVIEWED]} not reviewed · {counts[NEEDS_FIXING]} need fixing · "
                f"{counts[ACCEPTED]} accepted · {counts[FIXED]} fixed")
        problems = self.log.problems if self.log is not None else []
        if problems:  # damaged lines of the log were skipped: say so, the details in the tooltip
            text += f" · \u26a0 {len(problems)} damaged line(s) of the review log skipped"
        self.summary.setToolTip("\n".join(problems))
        if flagged:
            text += f" · \u26a0 {len(flagged)} car(s) whose masks disagree across angles"
        self.summary.setText(text + ". Click a photo to open it in the editor.")

    # -- selection and marks -------------------------------------------------------------
    def current_item(self) -> ReviewItem | None:
        return self.model.item(self.view.currentIndex().row())

    def selected_items(self) -> list[ReviewItem]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        items = [self.model.item(row) for row in rows]
        if not items and self.current_item() is not None:
            items = [self.current_item()]
        return [item for item in items if item is not None]

    def set_mark(self, output: str, mark: str) -> None:
        """Mark one export (saved in the log at once)."""
        item = self.model.items.get(output)
        if item is None or self.log is None:
            return
        self.log.set_mark(output, mark)
        item.mark = mark
        self.model.refresh_item(output)
        self._update_summary()
        self.markChanged.emit(output, mark)

    def output_of(self, source: str | Path) -> str | None:
        """The review's key of the photo at ``source``, or None when it is not in this review."""
        return self._by_source.get(_resolved(str(source)))

    def mark_and_next(self, output: str, mark: str) -> ReviewItem | None:
        """Mark ``output`` and select the photo after it in the list's order; returns that one
        (None at the end of the list, or for the 'clear' mark, which stays)."""
        row = self.model.row_of(output)
        following = self.model.item(row + 1) if row >= 0 and mark != UNREVIEWED else None
        self.set_mark(output, mark)
        shown = output if following is None else following.output
        if self.model.row_of(shown) >= 0:
            self.view.setCurrentIndex(self.model.index(self.model.row_of(shown)))
        return following

    def mark_selected(self, mark: str) -> None:
        for item in self.selected_items():
            self.set_mark(item.output, mark)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The mark keys (A, F, X, U) mark the selected photos when the grid has the focus."""
        if watched is self.view and event.type() == QEvent.Type.KeyPress and not (
                event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            mark = _MARK_OF_KEY.get(event.text().upper())
            if mark is not None:
                self.mark_selected(mark)
                return True
        return super().eventFilter(watched, event)

    def _on_car(self, current: QListWidgetItem | None, _previous=None) -> None:
        self.model.set_car(current.data(ItemRole) if current is not None else ALL_CARS)

    def _on_clicked(self, index: QModelIndex) -> None:
        from PySide6.QtWidgets import QApplication

        if QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier:
            self._open_index(index)

    def _open_index(self, index: QModelIndex) -> None:
        item = self.model.item(index.row())
        if item is not None and item.source:
            self.openRequested.emit(item.source)

    # -- corrections ---------------------------------------------------------------------
    def _store(self):
        if callable(self._corrections):
            return self._corrections()
        if self._corrections is not None:
            return self._corrections
        from core.store.corrections import CorrectionStore

        self._corrections = CorrectionStore()
        return self._corrections

    def on_correction_saved(self, key: str) -> None:
        """A correction was saved (``MainWindow.correctionSaved``): re-export that photo if it is
        one of this batch, once the user pauses."""
        if self.log is None:
            return
        record = self._store().get(key)
        output = self._by_source.get(_resolved(str(record.source))) if record is not None else None
        if output is None:
            return
        timer = self._timers.get(output)
        if timer is None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda o=output: self.reexport(o))
            self._timers[output] = timer
        timer.start(REEXPORT_DELAY_MS)

    def reexport(self, output: str) -> None:
        """Export ``output`` again from its photo's saved correction (on a worker thread)."""
        item = self.model.items.get(output)
        if item is not None and self.log is not None:
            log, store = self.log, self._store()
            self._tasks.submit(lambda: self._reexport(item, log, store))

    def _reexport(self, item: ReviewItem, log: ReviewLog, store) -> None:
        """On the task thread: export ``item`` again from its correction; ``_reexportDone`` follows."""
        from core.batch.review import reexport_from_correction
        from core.io.records import one_line

        try:
            reexport_from_correction(item, log, store)
            message = ""
        except Exception as error:  # noqa: BLE001 - reported to the user as one line
            message = one_line(error)
        self._reexportDone.emit(item.output, message)

    def wait(self, msecs: int = -1) -> bool:
        """Block until re-exports and thumbnails are done (tests, shutdown)."""
        return self._tasks.wait(msecs) and self.loader.wait(msecs)

    def _on_reexport_done(self, output: str, message: str) -> None:
        item = self.model.items.get(output)
        if item is not None and not message:
            item.mark, item.corrected = FIXED, True
            self.model.refresh_item(output)
            self._update_summary()
        self.reexported.emit(output, message)


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path

"""File → Process Folder…: mask and export a whole folder, then review the doubtful masks.

The dialog is not modal and the work runs on a worker thread (``BatchWorker``), so the app
stays usable; closing the dialog hides it and the batch goes on. Progress shows the count,
the rate and the time left; the Files tab each photo's status; the Review tab the grid of
exports (``ReviewGrid``), updated while the batch runs. Running again on the same folders
skips what is already exported unless "Redo" is ticked.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.batch.review import ReviewItem
from core.errors import printable
from core.listing.background import parse_background
from core.masking.export import ExportOptions
from maskingnet_app import app_settings
from maskingnet_app.batch.batch_worker import BatchSettings, BatchWorker, ModelSource
from maskingnet_app.batch.review_grid import ReviewGrid
from maskingnet_app.export.listing_dialog import ListingPanel, remember_spec, remembered_spec

FORMAT_LABELS = {
    "png": "Transparent PNG (cut-out)",
    "mask": "Mask only (PNG, white = car)",
    "jpeg": "JPEG on white",
    "webp": "WebP on white",
    "listing": "Listing photo (framed, on a background, with a shadow)",
}
STATUS_LABELS = {"waiting": "waiting", "done": "done", "skipped": "already exported", "failed": "failed"}
STATUS_COLORS = {"done": "#2e9d4f", "skipped": "#868e96", "failed": "#c92a2a"}
KEY_INPUT, KEY_OUTPUT, KEY_FORMAT, KEY_RECURSIVE, KEY_MIRROR = (
    "batch/input", "batch/output", "batch/format", "batch/recursive", "batch/mirror-average")
REFRESH_MS = 1000  # the review grid re-reads the log at most this often during a batch


class FilesModel(QAbstractTableModel):
    """One row per photo of the batch: photo, status, doubt, output or error."""

    HEADERS = ("Photo", "Status", "Doubt", "Output / message")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[list] = []  # [source, status, doubt or None, text]
        self._row_of: dict[Path, int] = {}
        self.root: Path | None = None

    def set_jobs(self, jobs, root: Path | None) -> None:
        self.beginResetModel()
        self.root = root
        self.rows = [[job.source, "waiting", None, str(job.output)] for job in jobs]
        self._row_of = {job.source: row for row, job in enumerate(jobs)}
        self.endResetModel()

    def update(self, result) -> None:
        row = self._row_of.get(result.source)
        if row is None:
            return
        doubt = ReviewItem("", uncertainty=result.uncertainty, mirror=result.mirror, area=result.area).doubt
        self.rows[row] = [result.source, result.status, doubt, result.error or str(result.output)]
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        source, status, doubt, text = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                try:
                    return source.relative_to(self.root).as_posix() if self.root else source.name
                except ValueError:
                    return source.name
            if column == 1:
                return STATUS_LABELS.get(status, status)
            if column == 2:
                return "" if doubt is None else f"{doubt:.3f}"
            return text
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and status in STATUS_COLORS:
            return QColor(STATUS_COLORS[status])
        if role == Qt.ItemDataRole.ToolTipRole:
            return text
        return None

    def count(self, status: str) -> int:
        return sum(row[1] == status for row in self.rows)


class BatchDialog(QDialog):
    """See the module docstring.

    ``model``: a loaded ``Segmenter``, a function that gives one (called on the worker
    thread), or a model spec. ``open_photo(path)`` opens a photo in the editor (the review
    grid's clicks); ``corrections`` is the ``CorrectionStore`` (or a function giving it).
    """

    batchStarted = Signal()
    batchFinished = Signal(object, bool)  # counts, cancelled

    def __init__(self, model: ModelSource, *, open_photo: Callable[[Path], object] | None = None,
                 corrections=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Process Folder")
        self.setModal(False)
        self._model = model
        self._corrections = corrections
        self.worker: BatchWorker | None = None
        self._active = False

        self.input_edit = QLineEdit(app_settings.value(KEY_INPUT, "", str))
        self.output_edit = QLineEdit(app_settings.value(KEY_OUTPUT, "", str))
        self.input_edit.setPlaceholderText("the folder of photos")
        self.output_edit.setPlaceholderText("where the exports go")
        self.recursive_box = QCheckBox("Include sub-folders (the same sub-folders are made in the output)")
        self.recursive_box.setChecked(app_settings.value(KEY_RECURSIVE, False, bool))
        self.format_box = QComboBox()
        for key, label in FORMAT_LABELS.items():
            self.format_box.addItem(label, key)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(app_settings.value(KEY_FORMAT, "png", str))))
        self.listing_panel = ListingPanel(remembered_spec())
        self.format_box.currentIndexChanged.connect(
            lambda: self.listing_panel.setVisible(self.format_box.currentData() == "listing"))
        self.listing_panel.setVisible(self.format_box.currentData() == "listing")
        self.redo_box = QCheckBox("Redo photos already exported")
        self.redo_box.setToolTip("Otherwise photos whose export exists are skipped, so a stopped batch resumes")
        self.mirror_box = QCheckBox(
            "Average with the mirrored photo (better masks and doubt scores; off: one model pass a photo, 2-4 times faster)")
        self.mirror_box.setChecked(app_settings.value(KEY_MIRROR, True, bool))
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)  # no "0 / 100" before there is a folder; shown once counted
        self.rate_label = QLabel("")
        self.status_label = QLabel("Choose a folder of photos and where the exports go.")
        self.status_label.setWordWrap(True)

        self.files = FilesModel(self)
        self.files_view = QTableView()
        self.files_view.setModel(self.files)
        self.files_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.files_view.verticalHeader().setVisible(False)
        self.files_view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.files_view.setColumnWidth(0, 280)
        self.files_view.setColumnWidth(1, 120)
        self.files_view.doubleClicked.connect(self._open_file_row)
        self.review = ReviewGrid(open_photo=open_photo, corrections=corrections)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.review, "Review")
        self.tabs.addTab(self.files_view, "Files")

        form = QFormLayout()
        form.addRow("Photos from:", self._with_browse(self.input_edit, "Photos from Folder"))
        form.addRow("", self.recursive_box)
        form.addRow("Export to:", self._with_browse(self.output_edit, "Export to Folder"))
        form.addRow("Format:", self.format_box)
        form.addRow(self.listing_panel)
        form.addRow("", self.redo_box)
        form.addRow("", self.mirror_box)
        run_row = QHBoxLayout()
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.rate_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.tabs, 1)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self.review.refresh)
        self.output_edit.editingFinished.connect(self._show_existing_review)
        self.resize(1000, 760)
        self._show_existing_review()

    # -- running -------------------------------------------------------------------------
    def settings(self) -> BatchSettings:
        fmt = self.format_box.currentData()
        if fmt == "listing":  # the angles of a car share a frame (core.listing)
            spec = self.listing_panel.spec()
            options = ExportOptions(format="jpeg" if parse_background(spec.background).opaque else "png", listing=spec)
        else:
            options = ExportOptions(format=fmt)
        return BatchSettings(
            inputs=[Path(self.input_edit.text().strip())], out_dir=Path(self.output_edit.text().strip()),
            options=options, recursive=self.recursive_box.isChecked(),
            redo=self.redo_box.isChecked(), mirror=self.mirror_box.isChecked(),
        )

    def problem(self) -> str:
        """Why the batch cannot start ('' when it can)."""
        source, target = self.input_edit.text().strip(), self.output_edit.text().strip()
        if not source:
            return "Choose the folder of photos."
        if not Path(source).is_dir():
            return f"{source}: no such folder."
        if not target:
            return "Choose the folder the exports go to."
        if self.format_box.currentData() == "listing":
            try:
                self.listing_panel.spec()
            except ValueError as error:
                return str(error).capitalize() + "."
        return ""

    @property
    def running(self) -> bool:
        """True from ``start()`` until ``batchFinished`` (the worker thread may still be exiting)."""
        return self._active

    def start(self) -> bool:
        """Start the batch with the dialog's choices; False (and a message) when it cannot."""
        if self.running:
            return False
        problem = self.problem()
        if problem:
            self._set_status(problem, error=True)
            return False
        settings = self.settings()
        if settings.options.listing is not None:
            remember_spec(settings.options.listing, self.listing_panel.preset_name())
        for key, value in ((KEY_INPUT, self.input_edit.text().strip()), (KEY_OUTPUT, self.output_edit.text().strip()),
                           (KEY_FORMAT, self.format_box.currentData()), (KEY_RECURSIVE, settings.recursive),
                           (KEY_MIRROR, settings.mirror)):
            app_settings.set_value(key, value)
        self.worker = BatchWorker(settings, self._model, corrections=self._corrections, parent=self)
        self.worker.status.connect(self._set_status)
        self.worker.planned.connect(self._on_planned)
        self.worker.result.connect(self._on_result)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.review.load_folder(settings.out_dir)
        self.progress_bar.setRange(0, 0)  # busy until the photos are counted
        self.rate_label.setText("")
        self._set_running(True)
        self.worker.start()
        self.batchStarted.emit()
        return True

    def cancel(self) -> None:
        """Stop the batch: what is exported stays, the rest is done by the next run."""
        if self.running:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self._set_status("Stopping…")

    def shutdown(self, seconds: float = 30.0) -> None:
        """Cancel and wait for the batch (the app is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(seconds)
        self.review.wait(int(seconds * 1000))

    def _set_running(self, running: bool) -> None:
        self._active = running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for widget in (self.input_edit, self.output_edit, self.recursive_box, self.format_box, self.redo_box,
                       self.mirror_box, self.listing_panel):
            widget.setEnabled(not running)

    def _set_status(self, text: str, error: bool = False) -> None:
        shown = html.escape(text)  # a file name is never markup
        self.status_label.setText(f"<span style='color:#c92a2a'>{shown}</span>" if error else shown)

    def _on_planned(self, jobs) -> None:
        root = Path(self.input_edit.text().strip())
        self.files.set_jobs(jobs, root)
        self.progress_bar.setRange(0, len(jobs))
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)

    def _on_result(self, result) -> None:
        self.files.update(result)
        if result.status == "failed":
            self._set_status(result.error, error=True)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start(REFRESH_MS)

    def _on_progress(self, finished: int, total: int, rate: float, seconds_left: float) -> None:
        from core.text import format_duration

        self.progress_bar.setMaximum(total)
        self.progress_bar.setValue(finished)
        parts = []
        if rate > 0:
            parts.append(f"{rate:.1f} photos/s")
        if seconds_left >= 0:
            parts.append(f"{format_duration(seconds_left)} left")
        self.rate_label.setText(" · ".join(parts))

    def _on_finished(self, counts: dict, cancelled: bool) -> None:
        self._set_running(False)
        self._refresh_timer.stop()
        self.review.refresh()
        summary = f"{counts['done']} exported, {counts['skipped']} already there, {counts['failed']} failed"
        summary += self._left_out_note()
        if cancelled:
            self._set_status(f"Stopped: {summary}. Start again to do the rest.")
        else:
            self._set_status(f"Finished: {summary}. The most doubtful masks come first in Review.")
            self.rate_label.setText("")
        self.tabs.setCurrentWidget(self.review)
        self.batchFinished.emit(counts, cancelled)

    def _left_out_note(self) -> str:
        """What the folder scan left out, for the summary; the names go in the status tooltip."""
        from core.io.imageio import describe_left_out

        left_out = self.worker.left_out if self.worker is not None else []
        unreadable = [item for item in left_out if item.unreadable]
        note = "".join(f"; {printable(item.path)}: {item.reason}" for item in unreadable[:3])
        if describe_left_out(left_out):
            note += f"; {describe_left_out(left_out)}"
        self.status_label.setToolTip("\n".join(f"{printable(item.path)}: {item.reason}" for item in left_out[:200]))
        return note

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.progress_bar.setRange(0, max(1, self.progress_bar.maximum()))
        self._set_status(message, error=True)
        self.review.refresh()
        self.batchFinished.emit({"done": 0, "skipped": 0, "failed": 0}, True)

    # -- helpers -------------------------------------------------------------------------
    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, title))
        layout.addWidget(browse)
        return row

    def _browse(self, edit: QLineEdit, title: str) -> None:
        start = edit.text().strip() or app_settings.start_folder(app_settings.OPEN_FOLDER)
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)
            if edit is self.input_edit and not self.output_edit.text().strip():
                self.output_edit.setText(str(Path(folder).parent / f"{Path(folder).name}-cutouts"))
            self._show_existing_review()

    def _show_existing_review(self) -> None:
        target = self.output_edit.text().strip()
        if target and Path(target).is_dir() and not self.running:
            self.review.load_folder(target)

    def _open_file_row(self, index: QModelIndex) -> None:
        source = self.files.rows[index.row()][0]
        self.review.openRequested.emit(str(source))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the dialog; a running batch goes on (File → Process Folder… shows it)."""
        event.accept()

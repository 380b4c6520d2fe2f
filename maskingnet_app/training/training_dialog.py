"""The "Train on my corrections" dialog: choose photos and settings, watch the training, decide.

Pages: set-up (photos with check boxes, the validation share, settings and presets, a name),
training (live curves, progress, time left, Stop), result (the validation Dice of the current
and the new model side by side; use the new model or keep the current one). Training runs on a
``GeneratorWorker`` (``training_worker``); a finished run is saved as a new model version that is
not active until the user chooses it, and a stopped or failed run leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QFont
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import MaskingNetError
from core.models import model_versions
from core.models.device import cuda_available, gpu_available
from core.models.model_store import DEFAULT_MODEL, resolve_model, shipped_model_path
from core.models.model_versions import model_name
from core.store.corrections import CorrectionStore
from core.text import format_duration
from core.training import finetune as ft
from maskingnet_app import app_settings
from maskingnet_app.training.plot_widget import LinePlot
from maskingnet_app.training.training_worker import FinetuneWorker

SETUP, RUNNING, RESULT = 0, 1, 2
VALIDATION_COLOR = QColor("#8a5a00")


class TrainingDialog(QDialog):
    """Fine-tune a model on the user's corrected masks.

    ``active_model`` names the model in use (a version name, ``default`` or a checkpoint path);
    ``activate(name)`` is called when the user chooses the new version (by default it is made
    the active model with ``core.models.model_versions.set_active_model``).
    """

    version_saved = Signal(str)
    model_activated = Signal(str)
    training_ended = Signal(str)  # 'finished', 'stopped' or 'failed', once the worker thread has ended
    progressed = Signal(object)  # each core.training.finetune.FinetuneEvent, on the GUI thread

    def __init__(self, store: CorrectionStore, active_model: str = DEFAULT_MODEL,
                 activate: Callable[[str], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on my corrections")
        self.store = store
        self.active_model = active_model or DEFAULT_MODEL
        self.activate = activate or model_versions.set_active_model
        self.items: list[ft.DataItem] = []
        self.plan = ft.SplitPlan([], [], "")
        self.worker: FinetuneWorker | None = None
        self.version: model_versions.ModelVersion | None = None
        self.result: ft.FinetuneResult | None = None
        self._close_when_done = False
        self._outcome = ""
        self._gpu = gpu_available()
        self.base_problem = ""
        self._shown_blocker = ""

        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_setup())
        self.pages.addWidget(self._build_running())
        self.pages.addWidget(self._build_result())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(900, 560)

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.load_corrections()
        self.apply_preset("gpu" if self._gpu else "cpu")
        self._base_changed()

    # set-up page ------------------------------------------------------------------------
    def _build_setup(self) -> QWidget:
        page = QWidget()
        photos = QGroupBox("Photos")
        self.photo_list = QListWidget()
        self.photo_list.itemChanged.connect(self._update_split)
        self.count_label = QLabel()
        self.split_label = QLabel()
        self.split_label.setWordWrap(True)
        self.val_share = QSpinBox()
        self.val_share.setRange(0, 50)
        self.val_share.setSuffix(" %")
        self.val_share.setValue(20)
        self.val_share.valueChanged.connect(self._update_split)
        add_folder = QPushButton("Add folder of photos + masks…")
        add_folder.clicked.connect(self._choose_folder)
        check_all, check_none = QPushButton("Check all"), QPushButton("Check none")
        check_all.clicked.connect(lambda: self._check_all(True))
        check_none.clicked.connect(lambda: self._check_all(False))
        buttons = QHBoxLayout()
        for button in (add_folder, check_all, check_none):
            buttons.addWidget(button)
        share = QHBoxLayout()
        share.addWidget(QLabel("Held out for validation:"))
        share.addWidget(self.val_share)
        share.addStretch()
        box = QVBoxLayout(photos)
        box.addWidget(self.photo_list)
        box.addLayout(buttons)
        box.addWidget(self.count_label)
        box.addLayout(share)
        box.addWidget(self.split_label)

        settings = QGroupBox("Settings")
        form = QFormLayout(settings)
        presets = QHBoxLayout()
        self.cpu_preset, self.gpu_preset = QPushButton("CPU preset"), QPushButton("GPU preset")
        self.cpu_preset.clicked.connect(lambda: self.apply_preset("cpu"))
        self.gpu_preset.clicked.connect(lambda: self.apply_preset("gpu"))
        presets.addWidget(self.cpu_preset)
        presets.addWidget(self.gpu_preset)
        form.addRow("Presets:", presets)
        self.base_combo = QComboBox()
        self.base_combo.addItem(f"The model in use ({Path(model_name(self.active_model)).name})", self.active_model)
        if self.active_model != DEFAULT_MODEL:
            self.base_combo.addItem("The shipped default model", DEFAULT_MODEL)
            if not shipped_model_path().is_file():
                self.base_combo.model().item(1).setEnabled(False)
                self.base_combo.setItemData(1, "no shipped default model is installed", Qt.ItemDataRole.ToolTipRole)
        self.base_combo.currentIndexChanged.connect(self._base_changed)
        form.addRow("Starting model:", self.base_combo)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        form.addRow("Epochs:", self.epochs)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 0.1)
        self.lr.setSingleStep(1e-4)
        form.addRow("Learning rate:", self.lr)
        self.size = QSpinBox()
        self.size.setRange(64, 2048)
        self.size.setSingleStep(32)
        self.size.setSuffix(" px")
        form.addRow("Working size:", self.size)
        self.batch = QSpinBox()
        self.batch.setRange(1, 128)
        form.addRow("Batch size:", self.batch)
        self.device = QComboBox()
        self.device.addItem("Automatic (GPU if there is one)", "auto")
        self.device.addItem("CPU", "cpu")
        if self._gpu:
            self.device.addItem("GPU", "cuda" if cuda_available() else "mps")
        form.addRow("Device:", self.device)
        self.weighting = QCheckBox("Weight the loss toward the pixels I corrected")
        self.weighting.setChecked(True)
        form.addRow("", self.weighting)
        self.name_edit = QLineEdit(model_versions.suggest_name())
        self.name_edit.textChanged.connect(self._validate)
        form.addRow("Name of the new model:", self.name_edit)
        self.name_problem = QLabel()
        self.name_problem.setStyleSheet("color: #b00020")
        self.name_problem.setWordWrap(True)
        form.addRow("", self.name_problem)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        actions = QHBoxLayout()
        actions.addWidget(self.message, 1)
        actions.addWidget(close)
        actions.addWidget(self.train_button)
        columns = QHBoxLayout()
        columns.addWidget(photos, 3)
        columns.addWidget(settings, 2)
        layout = QVBoxLayout(page)
        layout.addLayout(columns)
        layout.addLayout(actions)
        return page

    def load_corrections(self) -> None:
        """(Re)list the corrected photos of the store, all checked."""
        self.items = [item for item in self.items if item.source != "correction"]
        self.items = ft.correction_items(self.store) + self.items
        self._fill_list()

    def add_folder(self, folder: str | Path, masks: str | Path | None = None) -> int:
        """Add the photos with masks of a folder (checked); returns how many were added."""
        new, unmatched = ft.folder_items(folder, masks)
        known = {item.sample.image.resolve() for item in self.items}  # a corrected photo is listed once
        new = [item for item in new if item.sample.image.resolve() not in known]
        self.items.extend(new)
        self._fill_list()
        note = f"; {len(unmatched)} photo(s) without a mask left out" if unmatched else ""
        self.message.setText(f"Added {len(new)} photo(s) from {folder}{note}.")
        return len(new)

    def _choose_folder(self) -> None:
        start = app_settings.start_folder(app_settings.TRAIN_FOLDER, app_settings.OPEN_FOLDER)
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos (or with images/ and masks/ inside)", start)
        if not folder:
            return
        app_settings.set_value(app_settings.TRAIN_FOLDER, folder)
        try:
            self.add_folder(folder)
        except FileNotFoundError:
            masks = QFileDialog.getExistingDirectory(self, "Folder of the masks of these photos", folder)
            if masks:
                try:
                    self.add_folder(folder, masks)
                except (OSError, ValueError) as error:
                    self.message.setText(str(error))
        except (OSError, ValueError) as error:
            self.message.setText(str(error))

    def _fill_list(self) -> None:
        checked = {self.photo_list.item(i).data(Qt.ItemDataRole.UserRole): self.photo_list.item(i).checkState()
                   for i in range(self.photo_list.count())}
        self.photo_list.blockSignals(True)
        self.photo_list.clear()
        for item in self.items:
            entry = QListWidgetItem()
            entry.setData(Qt.ItemDataRole.UserRole, item.key)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(checked.get(item.key, Qt.CheckState.Checked))
            entry.setToolTip(f"{item.sample.image}\nmask: {item.sample.mask}")
            self.photo_list.addItem(entry)
        self.photo_list.blockSignals(False)
        self._update_split()

    def _check_all(self, checked: bool) -> None:
        self.photo_list.blockSignals(True)
        for index in range(self.photo_list.count()):
            self.photo_list.item(index).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.photo_list.blockSignals(False)
        self._update_split()

    def checked_items(self) -> list[ft.DataItem]:
        return [item for index, item in enumerate(self.items)
                if self.photo_list.item(index).checkState() == Qt.CheckState.Checked]

    def _update_split(self) -> None:
        chosen = self.checked_items()
        self.plan = ft.plan_split([item.sample for item in chosen], self.val_share.value() / 100)
        held_out = {sample.image for sample in self.plan.val}
        corrections = sum(item.source == "correction" for item in self.items)
        self.count_label.setText(f"{len(chosen)} of {len(self.items)} photo(s) checked "
                                 f"({corrections} corrected in the editor, {len(self.items) - corrections} from folders)")
        self.split_label.setText(f"{len(self.plan.train)} for training, {len(self.plan.val)} for validation: "
                                 f"{self.plan.note}.")
        self.photo_list.blockSignals(True)
        for index, item in enumerate(self.items):
            entry = self.photo_list.item(index)
            validation = item.sample.image in held_out
            origin = "corrected" if item.source == "correction" else Path(item.source).name
            entry.setText(f"{item.label}   [{item.sample.group} · {origin}]" + ("   — validation" if validation else ""))
            entry.setForeground(QBrush(VALIDATION_COLOR) if validation else QBrush())
        self.photo_list.blockSignals(False)
        self._validate()

    def apply_preset(self, preset: str) -> None:
        """Fill epochs, learning rate, batch size and device from ``core.training.finetune.PRESETS``."""
        values = ft.PRESETS[preset]
        self.epochs.setValue(values["epochs"])
        self.lr.setValue(values["lr"])
        self.batch.setValue(values["batch_size"])
        index = self.device.findData(values["device"])
        self.device.setCurrentIndex(max(0, index))

    def _base_changed(self) -> None:
        from core.models.checkpoint import read_config

        self.base_problem = ""
        try:
            config = read_config(resolve_model(self.base_combo.currentData()))
            self.size.setValue(config.preprocess.size)
        except MaskingNetError as error:
            self.base_problem = str(error)
        self._validate()

    def _validate(self) -> None:
        problem = ""
        try:
            model_versions.check_name(self.name_edit.text())
        except model_versions.VersionError as error:
            problem = str(error)
        self.name_problem.setText(problem)
        blocker = self.base_problem
        if not self.plan.train:
            blocker = blocker or "Check at least one photo with a corrected mask (or add a folder)."
        if blocker:
            self.message.setText(blocker)
        elif self._shown_blocker and self.message.text() == self._shown_blocker:
            self.message.clear()
        self._shown_blocker = blocker
        self.train_button.setEnabled(not problem and not blocker and self.worker is None)

    def settings(self) -> ft.FinetuneSettings:
        return ft.FinetuneSettings(
            name=self.name_edit.text().strip(), base_model=self.base_combo.currentData(), epochs=self.epochs.value(),
            lr=self.lr.value(), size=self.size.value(), batch_size=self.batch.value(), device=self.device.currentData(),
            weight_corrections=self.weighting.isChecked(), val_fraction=self.val_share.value() / 100,
        )

    # running page -----------------------------------------------------------------------
    def _build_running(self) -> QWidget:
        page = QWidget()
        self.loss_plot = LinePlot("Training loss", x_label="epoch")
        self.dice_plot = LinePlot("Validation Dice", x_label="epoch")
        self.dice_plot.empty_text = "after the first epoch"
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.dice_plot)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.status = QLabel("Starting…")
        self.status.setWordWrap(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.stop_button)
        layout = QVBoxLayout(page)
        layout.addLayout(plots, 1)
        layout.addWidget(self.progress_bar)
        layout.addLayout(bottom)
        return page

    def start(self) -> None:
        """Start training with the current choices (on a worker thread)."""
        if self.worker is not None:
            return
        self._validate()
        if not self.train_button.isEnabled():
            return
        settings = self.settings()
        self.loss_plot.clear()
        self.dice_plot.clear()
        self.progress_bar.setValue(0)
        self.status.setText(f"Preparing {len(self.plan.train)} training and {len(self.plan.val)} validation photos…")
        self.stop_button.setEnabled(True)
        self.stop_button.setText("Stop")
        self.pages.setCurrentIndex(RUNNING)
        sources = {str(item.sample.image): ("correction" if item.source == "correction" else item.source)
                   for item in self.checked_items()}
        self._outcome = ""
        self.worker = FinetuneWorker(settings, self.plan, sources)  # not the dialog's child: it outlives a deleted dialog
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.stopped.connect(self._on_stopped)
        self.worker.failed.connect(self._on_failed)
        self.worker.ended.connect(self._on_worker_done)
        self.train_button.setEnabled(False)
        self.worker.start()

    def stop(self) -> None:
        """End the training cleanly after the current step; nothing is saved."""
        if self.worker is not None:
            self.worker.request_stop()
            self.stop_button.setEnabled(False)
            self.stop_button.setText("Stopping…")
            self.status.setText("Stopping after the current step…")

    @Slot(object)
    def _on_progress(self, event: ft.FinetuneEvent) -> None:
        self._show_progress(event)
        self.progressed.emit(event)

    def _show_progress(self, event: ft.FinetuneEvent) -> None:
        if event.kind == "baseline":
            self.dice_plot.set_reference("starting model", event.val_dice)
            self.status.setText(event.message)
            return
        if event.kind != "train" or event.train is None:
            self.status.setText(event.message.capitalize())
            return
        train = event.train
        if train.kind == "step" and train.steps_per_epoch:
            done = (train.epoch - 1) * train.steps_per_epoch + train.step
            total = max(1, train.epochs * train.steps_per_epoch)
            self.progress_bar.setValue(int(1000 * done / total))
            left = format_duration(train.eta_s)
            self.status.setText(f"Epoch {train.epoch} of {train.epochs} · step {train.step} of {train.steps_per_epoch}"
                                f" · loss {train.loss:.4f}" + (f" · about {left} left" if left else ""))
        elif train.kind == "epoch":
            self.loss_plot.add_point("training loss", train.epoch, train.loss)
            if train.val_dice is not None:
                self.dice_plot.add_point("new model", train.epoch, train.val_dice, color="#2ca02c")
        elif train.message:
            self.status.setText(train.message.capitalize())

    @Slot(object, object)
    def _on_finished(self, version: model_versions.ModelVersion, result: ft.FinetuneResult) -> None:
        self.version, self.result = version, result
        self.progress_bar.setValue(1000)
        self._show_result(version, result)
        self.version_saved.emit(version.name)
        self._outcome = "finished"

    @Slot(str)
    def _on_stopped(self, message: str) -> None:
        self._back_to_setup(message)
        self._outcome = "stopped"

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._back_to_setup(message)
        self._outcome = "failed"

    def _back_to_setup(self, message: str) -> None:
        self.pages.setCurrentIndex(SETUP)
        self.message.setText(message)

    @Slot()
    def _on_worker_done(self) -> None:
        if self.worker is None:
            return  # already handled (by shutdown)
        self.worker = None
        self._validate()
        self.training_ended.emit(self._outcome or "failed")
        if self._close_when_done:
            super().reject()

    def is_running(self) -> bool:
        return self.worker is not None

    def shutdown(self, timeout_ms: int = 120_000) -> bool:
        """Stop a training and wait for its thread (the app is quitting); True when it ended."""
        if self.worker is None:
            return True
        self.worker.request_stop()
        ended = self.worker.wait(timeout_ms / 1000)
        if ended:
            self._outcome = self._outcome or "stopped"
            self._on_worker_done()
        return ended

    # result page ------------------------------------------------------------------------
    def _build_result(self) -> QWidget:
        page = QWidget()
        self.result_title = QLabel()
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.result_title.setFont(font)
        grid = QGridLayout()
        self.old_label, self.new_label = QLabel(), QLabel()
        self.old_dice, self.new_dice = QLabel(), QLabel()
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.8)
        for column, (name, value) in enumerate(((self.old_label, self.old_dice), (self.new_label, self.new_dice))):
            value.setFont(big)
            grid.addWidget(name, 0, column, Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(value, 1, column, Qt.AlignmentFlag.AlignHCenter)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.per_photo = QTableWidget(0, 3)
        self.per_photo.setHorizontalHeaderLabels(["validation photo", "current model", "new model"])
        header = self.per_photo.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.per_photo.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.result_plot = LinePlot("Validation Dice", x_label="epoch")
        self.use_button = QPushButton("Use the new model")
        self.keep_button = QPushButton("Keep the current model")
        self.discard_button = QPushButton("Delete the new model")
        self.use_button.clicked.connect(self.use_new_model)
        self.keep_button.clicked.connect(self.keep_current_model)
        self.discard_button.clicked.connect(self.discard_new_model)
        buttons = QHBoxLayout()
        buttons.addWidget(self.discard_button)
        buttons.addStretch()
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.use_button)
        middle = QHBoxLayout()
        middle.addWidget(self.per_photo, 1)
        middle.addWidget(self.result_plot, 1)
        layout = QVBoxLayout(page)
        layout.addWidget(self.result_title)
        layout.addLayout(grid)
        layout.addWidget(self.verdict)
        layout.addLayout(middle, 1)
        layout.addLayout(buttons)
        return page

    def _show_result(self, version: model_versions.ModelVersion, result: ft.FinetuneResult) -> None:
        before, after = result.val_dice_before, result.val_dice_after
        base_name = Path(model_name(result.settings.base_model)).name
        self.result_title.setText(f"Training finished in {format_duration(result.seconds)}: "
                                  f"saved as the new model \u201c{version.name}\u201d (not in use yet)")
        self.old_label.setText(f"Starting model ({base_name})")
        self.new_label.setText(f"New model ({version.name})")
        self.old_dice.setText(f"{before:.4f}" if before is not None else "n/a")
        self.new_dice.setText(f"{after:.4f}" if after is not None else "n/a")
        if result.improved is None:
            text = ("No validation photos were held out, so the two models could not be compared. "
                    "Correct photos of a few more cars to get a fair comparison.")
        elif result.improved:
            text = (f"The new model is better on the {len(result.val)} validation photo(s) it never trained on "
                    f"(Dice +{after - before:.4f}).")
        else:
            text = (f"The new model is not better on the {len(result.val)} validation photo(s) "
                    f"(Dice {after - before:+.4f}); keeping the current model is recommended.")
        self.verdict.setText(text + f" {result.split_note.capitalize()}. Validation Dice is measured at each photo's "
                                    "own resolution; the model card is in " + str(version.card_path) + ".")
        self.per_photo.setRowCount(len(result.val))
        for row, sample in enumerate(result.val):
            self.per_photo.setItem(row, 0, QTableWidgetItem(sample.image.name))
            for column, scores in ((1, result.dice_before), (2, result.dice_after)):
                value = f"{scores[row]:.4f}" if row < len(scores) else "n/a"
                self.per_photo.setItem(row, column, QTableWidgetItem(value))
        self.result_plot.clear()
        self.result_plot.set_reference("starting model", before)
        self.result_plot.set_series("new model", [(h["epoch"], h["val_dice"]) for h in result.history
                                                  if h.get("val_dice") is not None], color="#2ca02c")
        for button in (self.use_button, self.keep_button, self.discard_button):
            button.setEnabled(True)
        (self.use_button if result.improved is not False else self.keep_button).setDefault(True)
        self.pages.setCurrentIndex(RESULT)

    def use_new_model(self) -> None:
        """Make the new version the model in use (through ``activate``) and close."""
        if self.version is None:
            return
        self.activate(self.version.name)
        self.active_model = self.version.name
        self.model_activated.emit(self.version.name)
        self.accept()

    def keep_current_model(self) -> None:
        """Keep the model in use; the new version stays available in the Model menu."""
        self.reject()

    def discard_new_model(self) -> None:
        """Delete the new version (it was never activated)."""
        if self.version is not None:
            model_versions.remove_version(self.version.name)
            self.version = None
        self.reject()

    # closing ----------------------------------------------------------------------------
    def reject(self) -> None:
        if self.is_running():
            self._close_when_done = True
            self.stop()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.is_running():
            self._close_when_done = True
            self.stop()
            event.ignore()
            return
        super().closeEvent(event)

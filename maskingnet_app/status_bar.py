"""The status bar: model, device, time of the last mask, masking progress with cancel, zoom and
the pixel under the pointer."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from maskingnet_app.model.model_service import ModelService, ServiceState


class AppStatusBar(QStatusBar):
    def __init__(self, service: ModelService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.model_label = QLabel()
        self.device_label = QLabel()
        self.time_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel masking (Esc)")
        self.cancel_button.clicked.connect(service.cancel_all)
        self.zoom_label = QLabel()
        self.position_label = QLabel()
        self.position_label.setMinimumWidth(90)
        for widget in (self.progress, self.cancel_button, self.position_label, self.zoom_label,
                       self.time_label, self.device_label, self.model_label):
            self.addPermanentWidget(widget)
        self.progress.hide()
        self.cancel_button.hide()
        service.modelLoading.connect(self._on_loading)
        service.modelLoaded.connect(self._on_loaded)
        service.modelFailed.connect(self._on_failed)
        service.progress.connect(self._on_progress)
        service.jobFinished.connect(lambda *_: self._show_time())
        self._on_loading(service.spec) if service.state is ServiceState.LOADING else self._refresh()

    def _refresh(self) -> None:
        state = self.service.state
        if state is ServiceState.READY:
            self._on_loaded(self.service.name, self.service.device_label)
        elif state is ServiceState.FAILED:
            self._on_failed(self.service.error)
        else:
            self.model_label.setText("Model: not loaded")
            self.device_label.setText("")

    def _on_loading(self, spec: str) -> None:
        self.model_label.setText(f"Model: loading {spec}…")
        self.model_label.setToolTip("")
        self.device_label.setText("")

    def _on_loaded(self, name: str, device: str) -> None:
        self.model_label.setText(f"Model: {name}")
        self.model_label.setToolTip(self.service.spec)
        self.device_label.setText(device)

    def _on_failed(self, message: str) -> None:
        self.model_label.setText("Model: none (masking off)")
        self.model_label.setToolTip(message)
        self.device_label.setText("")

    def _show_time(self) -> None:
        seconds = self.service.last_seconds
        if seconds is not None:
            self.time_label.setText(f"Last mask: {seconds:.2f} s")

    def _on_progress(self, done: int, total: int) -> None:
        busy = total > 0
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"Masking {min(done + 1, total)}/{total}")

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")

    def show_position(self, x: int, y: int) -> None:
        self.position_label.setText(f"{x}, {y}" if x >= 0 else "")

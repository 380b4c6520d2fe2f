"""The main window: composes the photo list, the canvas, the tool options, the status bar and
the menus, and routes the actions. The work itself lives in the parts it composes.

Its public API, what the features (batch, model, training) may use, is the ``Protocol``
``maskingnet_app.window_api.WindowAPI``. The window does not know the features:
``maskingnet_app.main.compose_window`` makes the window, then each feature on it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QDragEnterEvent, QDropEvent, QIcon, QImage
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.io.imageio import IMAGE_EXTENSIONS, Photo
from core.masking.mask_edit import BRUSH, ERASER, MaskEditor, Rect
from core.masking.smart_cut import CUT_AWAY
from core.masking.smart_tools import REFINE
from core.masking.smart_whole import snap_edges_values
from core.models.device import DEVICE_CHOICES, available_devices
from core.models.model_store import app_home
from core.store.corrections import CorrectionStore
from maskingnet_app import app_settings
from maskingnet_app.actions import DEVICE_LABELS, build_menus, create_actions, shortcut_rows
from maskingnet_app.editor.canvas import Canvas
from maskingnet_app.editor.documents import PhotoDocument, PhotoStatus
from maskingnet_app.editor.editor_state import BOX, CAR_BOX, REGION, EditorState
from maskingnet_app.editor.photo_list import PhotoListView
from maskingnet_app.editor.session import PhotoSession
from maskingnet_app.editor.tool_options import ToolOptionsBar
from maskingnet_app.export.export_controller import ExportController
from maskingnet_app.export.listing_dialog import remembered_spec
from maskingnet_app.help_dialogs import ShortcutsDialog, show_about
from maskingnet_app.message_bar import MessageBar
from maskingnet_app.model.model_service import ModelService, ServiceState
from maskingnet_app.status_bar import AppStatusBar

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "maskingnet.png"
PHOTO_FILTER = "Photos (" + " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS)) + ");;All files (*)"
NOTICES = {PhotoStatus.WAITING: "Waiting for the model…", PhotoStatus.MASKING: "Masking…"}


class MainWindow(QMainWindow):
    """See the module docstring. With ``load_model`` the service loads its model once the
    window is up; ``store_root`` overrides the corrections folder."""

    correctionSaved = Signal(str)
    closing = Signal()  # first thing on close: features stop their long work before the model service shuts down

    def __init__(self, model_service: ModelService | None = None, *, load_model: bool = True,
                 store_root: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MaskingNet")
        self.setAcceptDrops(True)
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.model_service = model_service or ModelService(parent=self)
        self.state = EditorState(self)
        self.session = PhotoSession(self.model_service, self, store_root=store_root)
        self.actions = create_actions(self)
        self.menus = build_menus(self.menuBar(), self.actions)
        self.canvas = Canvas(self.state)
        self.canvas.set_listing(remembered_spec())
        self.message_bar = MessageBar()
        self.photo_list = PhotoListView(self.session.model)
        self.tool_options = ToolOptionsBar(self.state)
        # The tools stand in a strip of their own at the left, as in image editors, so the
        # options bar keeps its boxes in view on a narrow window.
        self.tools_bar = QToolBar("Tools", self)
        self.tools_bar.setObjectName("tools")
        self.tools_bar.setMovable(False)
        self.tools_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for name in ("tool_brush", "tool_eraser", "tool_refine", "tool_cut", "tool_region", "tool_box", "tool_car_box",
                     "smart_edges", "snap_outline"):
            self.tools_bar.addAction(self.actions[name])
        self.status = AppStatusBar(self.model_service)
        self.exports = ExportController(self.session, self)
        self._current: PhotoDocument | None = None
        self._build_layout()
        self._build_device_menu()
        self._connect()
        self._restore_window()
        self._install_box_remask()
        self.features: dict[str, object] = {}  # what main.compose_window added, by name; the window never uses them
        self._sync_actions()
        if load_model and self.model_service.state is ServiceState.IDLE:
            QTimer.singleShot(0, self._load_model_if_idle)

    def _load_model_if_idle(self) -> None:
        """The deferred first load, unless something asked for a model meanwhile (the batch
        dialog, opened before the event loop ran): a second load would replace the model that
        a batch has just borrowed."""
        if self.model_service.state is ServiceState.IDLE:
            self.model_service.load()

    # -- public API ----------------------------------------------------------------------
    @property
    def corrections(self) -> CorrectionStore:
        """The ``CorrectionStore`` of saved corrections (the training data)."""
        return self.session.store

    def open_paths(self, paths: Iterable[str | Path], *, recursive: bool = False) -> list[PhotoDocument]:
        """Open photos and folders (their photos; sub-folders with ``recursive``); shows the
        first one opened. Unreadable files appear in the list as failed with the reason."""
        paths = [Path(p) for p in paths]
        documents = self.session.open_paths(paths, recursive=recursive)
        if paths:
            app_settings.add_recent_files([str(p) for p in paths])
            app_settings.set_value(app_settings.OPEN_FOLDER, str(paths[0] if paths[0].is_dir() else paths[0].parent))
        if documents:
            self.photo_list.select_document(documents[0])
        elif paths:
            self.show_message("No photos found in " + ", ".join(p.name for p in paths[:3]), "warning")
        return documents

    def open_in_editor(self, path: str | Path) -> PhotoDocument | None:
        """Open one photo (if not open yet), show it and bring the window to the front."""
        documents = self.open_paths([path])
        self.raise_()
        self.activateWindow()
        return documents[0] if documents else None

    def current_document(self) -> PhotoDocument | None:
        return self._current

    def show_message(self, text: str, level: str = "info") -> None:
        """A one-line message above the canvas, until closed or replaced."""
        self.message_bar.show_message(text, level)

    def _show_level_message(self, level: str, text: str) -> None:
        """Slot of the parts' ``message(level, text)`` signals (note the order)."""
        self.show_message(text, level)

    def show_status(self, text: str, msecs: int = 5000) -> None:
        """A passing note in the status bar."""
        self.status.showMessage(text, msecs)

    def add_menu_action(self, menu: str, action: QAction, before: str | None = None) -> QAction:
        """Add ``action`` to menu ``menu`` (e.g. 'file'), before the action named ``before``."""
        target = self.menus.get(menu)
        if before is not None:
            target.insertAction(self.actions[before], action)
        else:
            target.addAction(action)
        return action

    def _install_box_remask(self) -> None:
        from maskingnet_app.editor.box_remask import BoxRemasker

        self.box_remask = BoxRemasker(self.canvas, self.model_service, self.current_document, self._after_box_edit, self)
        self.box_remask.message.connect(self.show_message)

    # -- layout and wiring ---------------------------------------------------------------
    def _build_layout(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        dock = QDockWidget("Photos", self)
        dock.setObjectName("photos_dock")
        dock.setWidget(self.photo_list)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.photos_dock = dock
        self.addToolBar(self.tool_options)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, self.tools_bar)
        self.tool_options.return_focus_to(self.canvas)
        self.setStatusBar(self.status)
        a = self.actions
        self.photo_list.add_context_actions([a["remask"], a["revert_mask"], a["export_as"], a["close_photo"]])

    def _build_device_menu(self) -> None:
        group = QActionGroup(self)
        self.device_actions: dict[str, QAction] = {}
        for name in DEVICE_CHOICES:
            action = self.menus.device.addAction(DEVICE_LABELS[name])
            action.setCheckable(True)
            action.setChecked(name == self.model_service.device_preference)
            action.triggered.connect(lambda _=False, n=name: self._set_device(n))
            group.addAction(action)
            self.device_actions[name] = action

    def _connect(self) -> None:
        a, state, canvas = self.actions, self.state, self.canvas
        handlers: dict[str, Callable[[], object]] = {
            "open": self.open_dialog, "open_folder": lambda: self.open_folder_dialog(False),
            "open_folder_recursive": lambda: self.open_folder_dialog(True),
            "export": lambda: self.export_current(choose=False), "export_as": lambda: self.export_current(choose=True),
            "export_all": self.export_all, "export_listing": self.export_listing,
            "close_photo": self.close_current, "quit": self.close,
            "undo": self.undo, "redo": self.redo, "paste": self.paste,
            "zoom_in": canvas.zoom_in, "zoom_out": canvas.zoom_out, "zoom_fit": canvas.fit, "zoom_actual": canvas.actual_size,
            "view_overlay": lambda: state.set("view_mode", "overlay"), "view_cutout": lambda: state.set("view_mode", "cutout"),
            "view_mask": lambda: state.set("view_mode", "mask"), "view_original": lambda: state.set("view_mode", "original"),
            "view_listing": lambda: state.set("view_mode", "listing"),
            "toggle_original": state.toggle_original, "overlay_color": self.tool_options.choose_overlay_color,
            "background_checker": lambda: state.set("background", "checker"), "background_color": self.choose_background,
            "next_photo": lambda: self.photo_list.step(1), "previous_photo": lambda: self.photo_list.step(-1),
            "tool_brush": lambda: state.set("tool", BRUSH), "tool_eraser": lambda: state.set("tool", ERASER),
            "tool_region": lambda: state.set("tool", REGION), "tool_box": lambda: state.set("tool", BOX),
            "tool_car_box": lambda: state.set("tool", CAR_BOX),
            "tool_refine": lambda: state.set("tool", REFINE), "tool_cut": lambda: state.set("tool", CUT_AWAY),
            "smart_edges": lambda: state.set("smart", a["smart_edges"].isChecked()),
            "brush_bigger": lambda: state.step_brush_size(1), "brush_smaller": lambda: state.step_brush_size(-1),
            "brush_harder": lambda: state.step_hardness(1), "brush_softer": lambda: state.step_hardness(-1),
            "fill_holes": lambda: self.run_command(lambda e, d: e.fill_holes()),  # every enclosed hole
            "snap_outline": lambda: self.run_command(
                lambda e, d: e.patch(*snap_edges_values(canvas.guide, e.alpha), "Snap Outline")),
            "remove_islands": lambda: self.run_command(lambda e, d: e.remove_islands(state.cleanup_area(*d.size))),
            "invert_mask": lambda: self.run_command(lambda e, d: e.invert()),
            "revert_mask": lambda: self.run_command(
                lambda e, d: e.replace(d.predicted, "Revert to Model Mask") if d.predicted is not None else None),
            "remask": self.remask_current, "load_model_file": self.load_model_dialog, "cancel_masking": self.cancel_work,
            "shortcuts": lambda: ShortcutsDialog(self, shortcut_rows(self.menus)).exec(),
            "about": lambda: show_about(self, self.model_service.name, self.model_service.device_label, self.model_service.error),
        }
        for name, handler in handlers.items():
            a[name].triggered.connect(lambda _=False, h=handler: h())
        self.menus.recent.aboutToShow.connect(self._fill_recent_menu)
        self.photo_list.currentDocumentChanged.connect(self._on_current_document)
        session = self.session
        session.photoReady.connect(self._on_photo_ready)
        session.maskChanged.connect(self._on_mask_changed)
        session.documentChanged.connect(self._on_document_changed)
        session.message.connect(self._show_level_message)
        session.correctionSaved.connect(self.correctionSaved)
        self.exports.message.connect(self._show_level_message)
        self.exports.status.connect(self.show_status)
        canvas.strokeFinished.connect(self._after_edit)
        canvas.zoomChanged.connect(self.status.show_zoom)
        canvas.cursorMoved.connect(self.status.show_position)
        state.changed.connect(lambda name: self._sync_actions())
        service = self.model_service
        service.modelLoaded.connect(self._on_model_loaded)
        service.modelFailed.connect(lambda message: self.show_message(f"Masking is off: {message}", "warning"))
        service.notice.connect(lambda text: self.show_message(text, "info"))

    def _restore_window(self) -> None:
        geometry = app_settings.byte_value(app_settings.WINDOW_GEOMETRY)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 820)
        window_state = app_settings.byte_value(app_settings.WINDOW_STATE)
        if window_state is not None:
            self.restoreState(window_state)

    # -- opening -------------------------------------------------------------------------
    def _start_folder(self) -> str:
        return app_settings.value(app_settings.OPEN_FOLDER, str(Path.home()), str)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open Photos", self._start_folder(), PHOTO_FILTER)
        if files:
            self.open_paths(files)

    def open_folder_dialog(self, recursive: bool = False) -> None:
        title = "Open Folder with Sub-folders" if recursive else "Open Folder"
        folder = QFileDialog.getExistingDirectory(self, title, self._start_folder())
        if folder:
            self.open_paths([folder], recursive=recursive)

    def _fill_recent_menu(self) -> None:
        menu = self.menus.recent
        menu.clear()
        recent = [p for p in app_settings.recent_files() if Path(p).exists()]
        for path in recent:
            menu.addAction(path).triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear Recent").triggered.connect(app_settings.clear_recent_files)
        else:
            menu.addAction("No recent photos").setEnabled(False)

    def paste(self) -> None:
        """Open the files on the clipboard, or the image on it (saved under the app's folder)."""
        data = QApplication.clipboard().mimeData()
        if data is None:
            self.show_message("The clipboard holds no image and no photo files", "warning")
            return
        files = [url.toLocalFile() for url in data.urls() if url.isLocalFile()] if data.hasUrls() else []
        if not files and data.hasText():
            files = [line.strip() for line in data.text().splitlines() if line.strip() and Path(line.strip()).exists()]
        if files:
            self.open_paths(files)
            return
        image = data.imageData() if data.hasImage() else None
        if isinstance(image, QImage) and not image.isNull():
            folder = app_home() / "pasted"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / time.strftime("pasted-%Y%m%d-%H%M%S.png")
            if image.save(str(path), "PNG"):
                self.open_paths([path])
                return
            self.show_message(f"{path}: cannot save the pasted image", "error")
            return
        self.show_message("The clipboard holds no image and no photo files", "warning")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            recursive = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.open_paths(paths, recursive=recursive)
            event.acceptProposedAction()

    def close_current(self) -> None:
        if self._current is not None:
            self.session.remove(self._current)
            if self.session.model.rowCount() == 0:
                self._on_current_document(None)

    # -- the photo on show ---------------------------------------------------------------
    def _on_current_document(self, document: PhotoDocument | None) -> None:
        self._current = document
        if document is None:
            self.canvas.set_photo(None)
            self.canvas.set_notice("")
        else:
            photo = self.session.request_photo(document)
            if photo is not None:
                self._show_photo(document, photo)
            else:
                self.canvas.set_photo(None)
                self.canvas.set_notice(f"Opening {document.name}…")
        self.setWindowTitle(f"{document.name} — MaskingNet" if document else "MaskingNet")
        self._sync_actions()

    def _show_photo(self, document: PhotoDocument, photo: Photo) -> None:
        self.canvas.set_photo(photo.rgb, photo.alpha, document.editor)
        self.canvas.set_probability(document.probability)
        self._update_notice(document)

    def _update_notice(self, document: PhotoDocument) -> None:
        if document.status == PhotoStatus.FAILED:
            notice = document.error
        elif document.editor is None:
            notice = NOTICES.get(document.status, "") if not document.error else f"Not masked: {document.error}"
        else:
            notice = ""
        self.canvas.set_notice(notice)

    def _on_photo_ready(self, document: PhotoDocument, photo: Photo) -> None:
        if document is self._current:
            self._show_photo(document, photo)

    def _on_mask_changed(self, document: PhotoDocument) -> None:
        if document is self._current and self.canvas.display is not None:
            self.canvas.set_editor(document.editor)
            self.canvas.set_probability(document.probability)
            self._update_notice(document)
            self._sync_actions()

    def _on_document_changed(self, document: PhotoDocument) -> None:
        if document is self._current:
            if document.status == PhotoStatus.FAILED and self.canvas.display is None:
                self.canvas.set_notice(document.error)
            elif self.canvas.display is not None:
                self._update_notice(document)
            self._sync_actions()

    # -- editing -------------------------------------------------------------------------
    def _editor(self) -> tuple[MaskEditor, PhotoDocument] | None:
        document = self._current
        if document is None or document.editor is None or self.canvas.editor is not document.editor:
            return None
        return document.editor, document

    def _after_edit(self) -> None:
        if self._current is not None:
            self.session.mask_edited(self._current)
        self._sync_actions()

    def _after_box_edit(self, document: PhotoDocument, rect: Rect) -> None:
        if document is self._current:
            self.canvas.refresh(rect)
            self._after_edit()
        else:
            self.session.mask_edited(document)

    def undo(self) -> None:
        self._history_step(lambda editor: editor.undo())

    def redo(self) -> None:
        self._history_step(lambda editor: editor.redo())

    def _history_step(self, step: Callable[[MaskEditor], Rect | None]) -> None:
        found = self._editor()
        if found is not None and not self.canvas.in_stroke:
            rect = step(found[0])
            if rect is not None:
                self.canvas.refresh(rect)
                self._after_edit()

    def run_command(self, command: Callable[[MaskEditor, PhotoDocument], Rect | None]) -> bool:
        """Apply an undoable clean-up command to the photo on show; False when nothing changed."""
        found = self._editor()
        if found is None:
            return False
        rect = command(*found)
        if rect is None:
            self.show_status("Nothing to change")
            return False
        self.canvas.refresh(rect)
        self._after_edit()
        return True

    def remask_current(self) -> None:
        if self._current is not None and not self.session.remask(self._current):
            self.show_message("No model to mask with" if not self.model_service.is_ready else "Already masking", "warning")

    def choose_background(self) -> None:
        color = QColorDialog.getColor(QColor(self.state.background_color), self, "Cut-out Background")
        if color.isValid():
            self.state.set("background_color", color.name())
            self.state.set("background", "color")
        self._sync_actions()

    # -- export and model ----------------------------------------------------------------
    def export_current(self, choose: bool = False) -> bool:
        return self._current is not None and self.exports.export([self._current], choose=choose)

    def export_all(self) -> bool:
        return self.exports.export(self.session.documents, choose=True)

    def export_listing(self) -> bool:
        """Listing photos of every masked photo; the listing view follows the dialog's settings."""
        return self.exports.export_listing(self.session.documents, preview=self.canvas.set_listing)

    def cancel_work(self) -> None:
        self.session.cancel_all()
        self.exports.exporter.cancel()

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load Model", str(Path.home()), "MaskingNet models (*.safetensors)")
        if path:
            self.model_service.load(path)

    def _set_device(self, device: str) -> None:
        self.model_service.set_device(device)

    def _on_model_loaded(self, name: str, device: str) -> None:
        self.message_bar.clear("warning")
        if "torch" in sys.modules:  # loaded by now; tells which devices exist
            available = available_devices()
            for key, action in self.device_actions.items():
                action.setEnabled(available[key] or key == self.model_service.device_preference)

    # -- state of the actions ------------------------------------------------------------
    def _sync_actions(self) -> None:
        a, state = self.actions, self.state
        document = self._current
        editor = document.editor if document is not None else None
        editing = editor is not None and self.canvas.editor is editor
        a["undo"].setEnabled(editing and editor.can_undo)
        a["undo"].setText(f"&Undo {editor.undo_label}" if editing and editor.can_undo else "&Undo")
        a["redo"].setEnabled(editing and editor.can_redo)
        a["redo"].setText(f"&Redo {editor.redo_label}" if editing and editor.can_redo else "&Redo")
        for name in ("fill_holes", "remove_islands", "invert_mask", "snap_outline"):
            a[name].setEnabled(editing)
        a["revert_mask"].setEnabled(editing and document.predicted is not None)
        a["remask"].setEnabled(document is not None and document.job is None)
        for name in ("export", "export_as"):
            a[name].setEnabled(editor is not None)
        a["export_all"].setEnabled(any(d.editor is not None for d in self.session.documents))
        a["export_listing"].setEnabled(a["export_all"].isEnabled())
        a["close_photo"].setEnabled(document is not None)
        a[f"view_{state.view_mode}"].setChecked(True)
        a[f"tool_{state.tool}"].setChecked(True)
        a["smart_edges"].setChecked(state.smart)
        a["background_checker" if state.background == "checker" else "background_color"].setChecked(True)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing.emit()
        app_settings.set_value(app_settings.WINDOW_GEOMETRY, self.saveGeometry())
        app_settings.set_value(app_settings.WINDOW_STATE, self.saveState())
        self.canvas.end_stroke()
        self.exports.exporter.wait(60000)
        self.session.shutdown()
        self.model_service.shutdown()
        super().closeEvent(event)

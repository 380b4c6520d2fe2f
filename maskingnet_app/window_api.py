"""What the feature packages (batch, model, training) may use of the main window: a ``Protocol``.

``maskingnet_app.main.compose_window`` builds the ``MainWindow`` and hands it to each feature
as a ``WindowAPI``; the features never import ``main_window`` and never set attributes on the
window, so imports run one way: main -> features -> this API (checked by
``tests/test_import_graph.py``). The window is also a ``QWidget``: features parent their
dialogs and actions to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWidget

    from core.store.corrections import CorrectionStore
    from maskingnet_app.actions import Menus
    from maskingnet_app.editor.documents import PhotoDocument
    from maskingnet_app.editor.photo_list import PhotoListView
    from maskingnet_app.model.model_service import ModelService


class WindowAPI(Protocol):
    """The main window as the features see it."""

    model_service: ModelService  # the active model, mask jobs, ``borrow()`` for other threads
    menus: Menus  # the menus by name; features add their actions to them
    actions: dict[str, QAction]  # every action by name (``actions.ACTION_SPECS``, then the features')
    photo_list: PhotoListView  # ``currentDocumentChanged`` follows the photo on show
    canvas: QWidget  # where the keyboard goes after a photo is opened from elsewhere
    correctionSaved: SignalInstance  # (photo key) after each correction is written
    closing: SignalInstance  # the window is closing: stop long work (before the model service shuts down)

    @property
    def corrections(self) -> CorrectionStore: ...

    def open_paths(self, paths: Iterable[str | Path], *, recursive: bool = False) -> list[PhotoDocument]: ...

    def open_in_editor(self, path: str | Path) -> PhotoDocument | None: ...

    def current_document(self) -> PhotoDocument | None: ...

    def show_message(self, text: str, level: str = "info") -> None: ...

    def show_status(self, text: str, msecs: int = 5000) -> None: ...

    def add_menu_action(self, menu: str, action: QAction, before: str | None = None) -> QAction: ...

    def activateWindow(self) -> None: ...  # noqa: N802 (Qt's name)

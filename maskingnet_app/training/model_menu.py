"""The Model menu's entries: train on my corrections, switch between the shipped default and the
user's versions, remove a version, show a model card, open the models folder.

``ModelChooser`` adds these entries to an existing menu (the window's Model menu) and rebuilds
the list each time the menu opens, from ``core.models.model_versions``. It never changes the model
itself: choosing one calls ``activate(name)`` (the window loads it through its model service),
and the one in use, as ``current()`` names it, is checked and cannot be removed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from core.models import model_versions
from core.models.model_store import DEFAULT_MODEL, shipped_model_path, user_models_dir
from core.models.model_versions import model_name

if TYPE_CHECKING:
    from maskingnet_app.training.training_dialog import TrainingDialog
    from maskingnet_app.window_api import WindowAPI


class ModelChooser(QObject):
    """Puts the model entries at the top of ``menu`` (the window's Model menu, whose own entries
    stay below) and rebuilds the list of models each time the menu opens.

    ``confirm(question)`` asks before a removal (a dialog by default).
    """

    train_requested = Signal()
    model_removed = Signal(str)
    message = Signal(str)  # one-line errors and notes for the status bar

    def __init__(self, menu: QMenu, current: Callable[[], str], activate: Callable[[str], None], *,
                 confirm: Callable[[str], bool] | None = None) -> None:
        super().__init__(menu)
        self.menu = menu
        self.current = current
        self.activate = activate
        self.confirm = confirm or self._ask
        self.train_action = QAction("&Train on My Corrections…", self)
        self.train_action.setStatusTip("Fine-tune a model on the masks you corrected and save it as a new version")
        self.train_action.triggered.connect(lambda: self.train_requested.emit())
        self.choices = QActionGroup(self)
        self.choices.setExclusive(True)
        self.use_menu = QMenu("&Use Model", menu)  # the models to choose from, the one in use checked
        self.remove_menu = QMenu("&Remove a Version", menu)
        self.card_action = QAction("Show the Model &Card", self)
        self.card_action.triggered.connect(lambda: self._open(user_models_dir() / model_name(self.current())
                                                              / model_versions.CARD_FILE))
        self.folder_action = QAction("Open the Models &Folder", self)
        self.folder_action.triggered.connect(lambda: self._open(user_models_dir()))
        self.end = QAction(self)
        self.end.setSeparator(True)
        existing = menu.actions()
        menu.insertActions(existing[0] if existing else None, [
            self.train_action, self.use_menu.menuAction(), self.remove_menu.menuAction(), self.card_action,
            self.folder_action, self.end])
        self._choice_actions: list[QAction] = []
        menu.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """List the models again (versions may have been added or removed)."""
        for action in self._choice_actions:
            self.use_menu.removeAction(action)
            self.choices.removeAction(action)
            action.deleteLater()
        self._choice_actions = []
        self.remove_menu.clear()
        in_use = model_name(self.current())
        installed = shipped_model_path().is_file()
        default = self._choice("Shipped default model" + ("" if installed else " (not installed)"), DEFAULT_MODEL, in_use)
        default.setEnabled(installed or in_use == DEFAULT_MODEL)
        versions = model_versions.list_versions()
        for version in versions:
            action = self._choice(version.summary(), version.name, in_use)
            action.setToolTip(version.problem or str(version.card_path))  # a damaged config.json says so
        known = {DEFAULT_MODEL} | {v.name for v in versions}
        if in_use not in known:
            other = self._choice(f"Other: {Path(in_use).name}", in_use, in_use)
            other.setToolTip(in_use)
        self.use_menu.addActions(self._choice_actions)
        for version in versions:
            label = version.name + (" (in use)" if version.name == in_use else "")
            action = self.remove_menu.addAction(label)
            action.setEnabled(version.name != in_use)
            action.setData(version.name)
            action.triggered.connect(lambda _=False, name=version.name: self.remove(name))
        self.remove_menu.setEnabled(any(v.name != in_use for v in versions))
        self.card_action.setEnabled(in_use in {v.name for v in versions})

    def _choice(self, text: str, name: str, in_use: str) -> QAction:
        action = QAction(text, self)
        action.setCheckable(True)
        action.setChecked(name == in_use)
        action.setData(name)
        action.triggered.connect(lambda _=False, chosen=name: self.choose(chosen))
        self.choices.addAction(action)
        self._choice_actions.append(action)
        return action

    def choice_names(self) -> list[str]:
        """The model names offered, in menu order (for tests and tooltips)."""
        return [action.data() for action in self.choices.actions()]

    def checked_name(self) -> str | None:
        action = self.choices.checkedAction()
        return action.data() if action else None

    def choose(self, name: str) -> None:
        """Switch to ``name`` unless it is already in use."""
        if name != model_name(self.current()):
            self.activate(name)

    def remove(self, name: str) -> bool:
        """Delete version ``name`` after confirmation; the model in use is refused."""
        if name == model_name(self.current()):
            self.message.emit(f"{name} is the model in use; switch to another model before removing it")
            return False
        if not self.confirm(f"Delete the model version \u201c{name}\u201d and its model card? This cannot be undone."):
            return False
        try:
            model_versions.remove_version(name)
        except (model_versions.VersionError, OSError) as error:
            self.message.emit(str(error))
            return False
        self.model_removed.emit(name)
        self.message.emit(f"Removed the model version {name}")
        return True

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self.menu.window(), "Remove a model version", question)
        return answer == QMessageBox.StandardButton.Yes

    def _open(self, path: Path) -> None:
        if not path.exists():
            self.message.emit(f"{path}: not found")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class ModelMenu(QMenu):
    """A stand-alone "Model" menu holding a ``ModelChooser`` (its signals are on ``chooser``)."""

    def __init__(self, current: Callable[[], str], activate: Callable[[str], None], parent: QWidget | None = None,
                 *, confirm: Callable[[str], bool] | None = None) -> None:
        super().__init__("&Model", parent)
        self.chooser = ModelChooser(self, current, activate, confirm=confirm)


class ModelFeature:
    """The model entries on top of a window's Model menu, wired to its model service: choosing
    a model makes it the active one (``core.models.model_versions``) and loads it; "Train on My
    Corrections…" opens the training dialog (not modal: the window stays usable), which a
    closing window stops."""

    def __init__(self, window: WindowAPI) -> None:
        self.window = window
        self.training_dialog: TrainingDialog | None = None
        service = window.model_service
        self.chooser = ModelChooser(window.menus.model, lambda: service.spec, self.activate)
        self.chooser.train_requested.connect(self.open_training)
        self.chooser.message.connect(window.show_message)
        window.closing.connect(self.stop_training)

    def activate(self, name: str) -> None:
        try:
            model_versions.set_active_model(name)
        except model_versions.VersionError as error:
            self.window.show_message(str(error), "warning")
            return
        self.window.model_service.load(name)
        self.window.show_message(f"Switching to the model {name}; Mask \u2192 Mask Again re-masks the open photo")

    def open_training(self) -> None:
        from PySide6.QtCore import Qt

        from maskingnet_app.training.training_dialog import TrainingDialog

        window, dialog = self.window, self.training_dialog
        if dialog is None or not dialog.isVisible():
            dialog = TrainingDialog(window.corrections, window.model_service.spec, activate=self.activate, parent=window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.version_saved.connect(
                lambda name: window.show_message(f"Saved the new model version {name} (Model menu)"))
            dialog.destroyed.connect(lambda *_: self._forget(dialog))
            self.training_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _forget(self, dialog: TrainingDialog) -> None:
        if self.training_dialog is dialog:
            self.training_dialog = None

    def stop_training(self) -> None:
        dialog = self.training_dialog
        if dialog is not None:
            dialog.shutdown()
            dialog.close()

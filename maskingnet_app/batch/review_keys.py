"""Reviewing a batch by keyboard, in the editor: a photo opened from the Review tab is shown in
the main window (the batch dialog steps aside, minimised), and A / F / X mark it accepted,
needs fixing or fixed and open the next photo of the review; U clears its mark. Ctrl+B
brings the dialog back.

``ReviewKeys(window, dialog)`` adds the File → Review Marks actions (enabled while the photo
on show is one of the review's); its ``open_from_review(path)`` is the review's opener.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from core.batch.review import ACCEPTED, FIXED, MARK_LABELS, NEEDS_FIXING, UNREVIEWED
from maskingnet_app.batch.review_grid import MARK_KEYS

if TYPE_CHECKING:
    from maskingnet_app.batch.batch_dialog import BatchDialog
    from maskingnet_app.window_api import WindowAPI

REVIEW_ACTIONS = (
    (ACCEPTED, "review_accept", "&Accept and Next"),
    (NEEDS_FIXING, "review_needs_fixing", "Needs &Fixing and Next"),
    (FIXED, "review_fixed", "Fi&xed and Next"),
    (UNREVIEWED, "review_clear", "Clear Review &Mark"),
)
HINT = "Review: A accept, F needs fixing, X fixed (each opens the next), U clear; Ctrl+B shows the review"


class ReviewKeys:
    """File → Review Marks on a window: one action per mark, with the review grid's keys,
    enabled while the photo on show is one of the review's. ``dialog()`` gives the batch
    dialog, or None before it is made."""

    def __init__(self, window: WindowAPI, dialog: Callable[[], BatchDialog | None]) -> None:
        self.window = window
        self.dialog = dialog
        menu = QMenu("Review &Marks", window)
        window.menus.get("file").insertMenu(window.actions["export"], menu)
        for mark, name, text in REVIEW_ACTIONS:
            action = QAction(text, window)
            action.setShortcut(QKeySequence(MARK_KEYS[mark]))
            action.setStatusTip(f"Mark the photo on show {MARK_LABELS[mark]} in the batch review")
            action.setEnabled(False)
            action.triggered.connect(lambda _=False, m=mark: self.mark_current(m))
            menu.addAction(action)
            window.actions[name] = action
        window.photo_list.currentDocumentChanged.connect(lambda _document: self.sync_actions())

    def _review_output(self) -> str | None:
        """The review's key of the photo on show, or None when it is not in the open review."""
        dialog, document = self.dialog(), self.window.current_document()
        if dialog is None or document is None:
            return None
        return dialog.review.output_of(document.path)

    def sync_actions(self) -> None:
        reviewing = self._review_output() is not None
        for _mark, name, _text in REVIEW_ACTIONS:
            self.window.actions[name].setEnabled(reviewing)

    def open_from_review(self, path: Path) -> None:
        """Show ``path`` in the editor with the keyboard on the canvas; the batch dialog steps aside."""
        window = self.window
        window.open_in_editor(path)
        dialog = self.dialog()
        if dialog is not None and dialog.isVisible():
            dialog.showMinimized()
        window.activateWindow()
        window.canvas.setFocus()
        self.sync_actions()
        window.show_status(HINT, 10000)

    def mark_current(self, mark: str) -> None:
        """Mark the photo on show in the review; for every mark but 'clear', open the next one."""
        output = self._review_output()
        dialog = self.dialog()
        if output is None or dialog is None:
            return
        window = self.window
        following = dialog.review.mark_and_next(output, mark)
        name = Path(output).name
        if mark == UNREVIEWED:
            window.show_status(f"{name}: mark cleared")
        elif following is None:
            window.show_status(f"{name}: {MARK_LABELS[mark]}; that was the last photo of the review")
            window.show_message(f"Review: {name} marked {MARK_LABELS[mark]}; no more photos in the review's list "
                                "(Ctrl+B shows the review)")
        else:
            self.open_from_review(Path(following.source))
            window.show_status(f"{name}: {MARK_LABELS[mark]}. Next: {following.name}. {HINT}", 10000)

"""The window's actions and menus, declared once: the menus, the Help → Shortcuts dialog and
the README's shortcut table all come from ``ACTION_SPECS`` and ``MOUSE_CONTROLS``."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

MENU_TITLES = {"file": "&File", "edit": "&Edit", "view": "&View", "image": "&Mask", "model": "Mo&del", "help": "&Help"}


@dataclass(frozen=True)
class ActionSpec:
    """One menu action: ``group`` makes checkable actions of one group exclusive."""

    name: str
    menu: str
    text: str
    shortcuts: tuple[str, ...] = ()
    checkable: bool = False
    group: str = ""
    tip: str = ""


S = ActionSpec
SEPARATOR = "-"

# (menu entries in order; SEPARATOR lines are separators, "@name" a sub-menu placeholder)
ACTION_SPECS: tuple[ActionSpec | str, ...] = (
    S("open", "file", "&Open Photos…", ("Ctrl+O",), tip="Open one or more photos"),
    S("open_folder", "file", "Open &Folder…", ("Ctrl+Shift+O",), tip="Open every photo in a folder"),
    S("open_folder_recursive", "file", "Open Folder with &Sub-folders…", ("Ctrl+Alt+O",)),
    "file@recent",
    "file-",
    S("export", "file", "&Export", ("Ctrl+S",), tip="Export the current photo with the last export settings"),
    S("export_as", "file", "Export &As…", ("Ctrl+E", "Ctrl+Shift+S"), tip="Choose format, folder and naming, then export"),
    S("export_all", "file", "Export A&ll…", ("Ctrl+Shift+E",), tip="Export every masked photo"),
    S("export_listing", "file", "Export for Lis&ting…", ("Ctrl+L",),
      tip="Listing photos of every masked photo: framed, on a background, with a shadow"),
    "file-",
    S("close_photo", "file", "&Close Photo", ("Ctrl+W",)),
    S("quit", "file", "&Quit", ("Ctrl+Q",)),
    S("undo", "edit", "&Undo", ("Ctrl+Z",)),
    S("redo", "edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    "edit-",
    S("paste", "edit", "&Paste Photos", ("Ctrl+V",), tip="Open the image or the files on the clipboard"),
    S("zoom_in", "view", "Zoom &In", ("Ctrl++", "Ctrl+=")),
    S("zoom_out", "view", "Zoom &Out", ("Ctrl+-",)),
    S("zoom_fit", "view", "&Fit in Window", ("Ctrl+0",)),
    S("zoom_actual", "view", "&100%", ("Ctrl+1",)),
    "view-",
    S("view_overlay", "view", "Mask O&verlay", ("1",), checkable=True, group="view"),
    S("view_cutout", "view", "&Cut-out", ("2",), checkable=True, group="view"),
    S("view_mask", "view", "&Mask Only", ("3",), checkable=True, group="view"),
    S("view_original", "view", "O&riginal", ("4",), checkable=True, group="view"),
    S("view_listing", "view", "&Listing (framed, background, shadow)", ("5",), checkable=True, group="view"),
    S("toggle_original", "view", "&Toggle Overlay / Original", ("Tab", "O")),
    "view-",
    S("overlay_color", "view", "Overlay Co&lour…"),
    S("background_checker", "view", "Cut-out on Chec&kerboard", checkable=True, group="background"),
    S("background_color", "view", "Cut-out on Colo&ur…", checkable=True, group="background"),
    "view-",
    S("next_photo", "view", "&Next Photo", ("PgDown",)),
    S("previous_photo", "view", "&Previous Photo", ("PgUp",)),
    S("tool_brush", "image", "&Brush (adds car)", ("B",), checkable=True, group="tool"),
    S("tool_eraser", "image", "&Eraser (removes car)", ("E",), checkable=True, group="tool"),
    S("tool_refine", "image", "Re&fine Edge (stroke)", ("G",), checkable=True, group="tool",
      tip="Stroke along an edge: the mask's edge under the stroke is re-drawn on the photo's"),
    S("tool_cut", "image", "Cu&t to Edges (stroke)", ("K",), checkable=True, group="tool",
      tip="Stroke over background taken for car (right drag: car taken for background): it is cut "
          "away up to the photo's edges, even where it has the car's colours"),
    S("tool_region", "image", "Flip Re&gion (click)", ("R",), checkable=True, group="tool",
      tip="Click a wrongly masked region (a window, a mirror, a floor patch) to flip it whole"),
    S("tool_box", "image", "Re-mask in Bo&x (drag)", ("M",), checkable=True, group="tool",
      tip="Drag a box around a part: the model masks it at its full working size"),
    S("tool_car_box", "image", "C&ar in Box (drag)", ("C",), checkable=True, group="tool",
      tip="Drag a box around the car: all outside it becomes background, inside it snaps to the car"),
    S("smart_edges", "image", "&Smart Edges", ("S",), checkable=True,
      tip="Brush and eraser snap to the photo's edges (Ctrl + drag: the plain brush)"),
    S("snap_outline", "image", "Sna&p Outline", ("Ctrl+Shift+G",),
      tip="The mask's whole outline moves onto the photo's edges nearby, in one step"),
    S("brush_bigger", "image", "Bigger Brush", ("]",)),
    S("brush_smaller", "image", "Smaller Brush", ("[",)),
    S("brush_harder", "image", "Harder Brush", ("Shift+]", "}")),
    S("brush_softer", "image", "Softer Brush", ("Shift+[", "{")),
    "image-",
    S("fill_holes", "image", "Fill &Holes", ("Ctrl+Shift+H",), tip="Make car of small background holes inside the car"),
    S("remove_islands", "image", "Remove Small &Islands", ("Ctrl+Shift+I",), tip="Remove small specks of car"),
    S("invert_mask", "image", "In&vert Mask", ("Ctrl+I",)),
    S("revert_mask", "image", "Revert to &Model Mask", tip="Undo every correction of this photo (undoable)"),
    S("remask", "image", "Mask &Again with the Model", ("Ctrl+R",)),
    "model@device",
    S("load_model_file", "model", "Load Model &File…"),
    S("cancel_masking", "model", "&Cancel Masking", ("Esc",)),
    S("shortcuts", "help", "Keyboard &Shortcuts", ("F1", "Ctrl+/")),
    S("about", "help", "&About MaskingNet"),
)

DEVICE_LABELS = {"auto": "&Automatic (GPU when there is one)", "cuda": "&CUDA GPU", "mps": "Apple &MPS", "cpu": "C&PU"}

MOUSE_CONTROLS: tuple[tuple[str, str], ...] = (  # (command, control)
    ("Paint with the current tool", "Left drag"),
    ("Paint with the other tool", "Right drag"),
    ("Plain brush while Smart Edges is on (smart while off)", "Ctrl + drag"),
    ("Cut away to the edges / add car to the edges (Cut to Edges tool)", "Left drag / right drag"),
    ("Flip the region under the pointer (Flip Region tool)", "Click"),
    ("Re-mask inside a box (Re-mask in Box tool)", "Drag"),
    ("Cut the car out of a box (Car in Box tool)", "Drag"),
    ("Zoom around the pointer", "Wheel"),
    ("Pan", "Space + drag, middle drag"),
    ("Open photos and folders", "Drop on the window (Shift: with sub-folders)"),
)


@dataclass
class Menus:
    """The window's menus; feature dialogs add their actions to these."""

    file: QMenu
    edit: QMenu
    view: QMenu
    image: QMenu
    model: QMenu
    help: QMenu
    recent: QMenu
    device: QMenu

    def get(self, name: str) -> QMenu:
        return getattr(self, name)


def specs() -> list[ActionSpec]:
    return [spec for spec in ACTION_SPECS if isinstance(spec, ActionSpec)]


def create_actions(parent: QWidget) -> dict[str, QAction]:
    """One ``QAction`` per spec, with its shortcuts and exclusive groups; not yet connected."""
    actions: dict[str, QAction] = {}
    groups: dict[str, QActionGroup] = {}
    for spec in specs():
        action = QAction(spec.text, parent)
        action.setObjectName(spec.name)
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(key) for key in spec.shortcuts])
        if spec.tip:
            action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        if spec.group:
            groups.setdefault(spec.group, QActionGroup(parent)).addAction(action)
        actions[spec.name] = action
    return actions


def build_menus(menubar: QMenuBar, actions: dict[str, QAction]) -> Menus:
    menus = {name: menubar.addMenu(title) for name, title in MENU_TITLES.items()}
    submenus: dict[str, QMenu] = {}
    for entry in ACTION_SPECS:
        if isinstance(entry, ActionSpec):
            menus[entry.menu].addAction(actions[entry.name])
        elif entry.endswith(SEPARATOR):
            menus[entry[:-1]].addSeparator()
        else:
            menu, name = entry.split("@")
            title = {"recent": "Open &Recent", "device": "&Device"}[name]
            submenus[name] = menus[menu].addMenu(title)
    return Menus(**menus, **submenus)


def _keys(sequences: list[QKeySequence]) -> str:
    """Shortcuts in Qt's portable form, e.g. 'Ctrl+Shift+Z, Ctrl+Y' (on macOS Ctrl is ⌘)."""
    return ", ".join(key.toString(QKeySequence.SequenceFormat.PortableText) for key in sequences)


def _command(text: str) -> str:
    return text.replace("&", "").rstrip("…").rstrip(".")


def shortcut_rows(menus: Menus | None = None) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every menu action with a shortcut, then the mouse controls.

    With ``menus`` (a window's live menus) the actions that feature dialogs added are listed
    too; without, the window's own actions from ``ACTION_SPECS``.
    """
    rows: list[tuple[str, str, str]] = []
    if menus is None:
        rows += [(MENU_TITLES[spec.menu].replace("&", ""), _command(spec.text), _keys([QKeySequence(k) for k in spec.shortcuts]))
                 for spec in specs() if spec.shortcuts]
    else:
        # the command's own name: Undo and Redo show what they would undo ("Undo Mask Again")
        names = {spec.name: spec.text for spec in specs()}
        for name, title in MENU_TITLES.items():
            rows += [(title.replace("&", ""), _command(names.get(action.objectName(), action.text())), _keys(action.shortcuts()))
                     for action in _menu_actions(menus.get(name)) if action.shortcuts()]
    rows += [("Mouse", command, control) for command, control in MOUSE_CONTROLS]
    return rows


def _menu_actions(menu: QMenu) -> list[QAction]:
    found = []
    for action in menu.actions():
        found += _menu_actions(action.menu()) if action.menu() is not None else [action]
    return found


def shortcuts_markdown(rows: list[tuple[str, str, str]] | None = None) -> str:
    """The README's shortcut table: the rows of the Help → Keyboard Shortcuts dialog."""
    lines = ["| Menu | Command | Keys |", "| --- | --- | --- |"]
    lines += [f"| {menu} | {command} | {keys.replace('|', '&#124;')} |" for menu, command, keys in rows or shortcut_rows()]
    return "\n".join(lines)

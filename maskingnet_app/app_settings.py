"""The app's remembered settings: one ``QSettings`` store, typed access and the key names.

Every module reads and writes settings through ``settings()`` so they all share one store
(tests point it at a temporary folder with ``QSettings.setPath``). Keys used across modules:

- ``model/device``: auto/cuda/mps/cpu (the model in use is ``core.models.model_versions.active_model``)
- ``brush/size``, ``brush/hardness``, ``view/mode``, ``view/overlay_color``, ``view/overlay_opacity``,
  ``view/background``
- ``folders/open``, ``folders/export``, ``recent/files``, ``window/geometry``, ``window/state``
- ``export/*``: the export dialog's last choices

``model/active`` (the model in use, before it moved to core's record) is read once by
``migrate_legacy_settings`` and removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "MaskingNet"
APPLICATION = "MaskingNet"

MODEL_DEVICE = "model/device"
RECENT_FILES = "recent/files"
OPEN_FOLDER = "folders/open"
EXPORT_FOLDER = "folders/export"
TRAIN_FOLDER = "folders/train"  # the last folder added to fine-tuning
WINDOW_GEOMETRY = "window/geometry"
WINDOW_STATE = "window/state"
MAX_RECENT = 12
LEGACY_ACTIVE_MODEL = "model/active"


def settings() -> QSettings:
    """The app's settings store (user scope, INI format on every platform)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def migrate_legacy_settings() -> None:
    """Carry the model in use from an older version's ``model/active`` key into
    ``core.models.model_versions``' record, unless that record exists already (it wins), then drop
    the key. A value that no longer names a model or a file is dropped too."""
    from core.models.model_store import app_home
    from core.models.model_versions import ACTIVE_FILE, remember_active_model

    store = settings()
    old = store.value(LEGACY_ACTIVE_MODEL, None)
    if old is None:
        return
    store.remove(LEGACY_ACTIVE_MODEL)
    if isinstance(old, str) and old.strip() and not (app_home() / ACTIVE_FILE).exists():
        try:
            remember_active_model(old.strip())
        except OSError:
            pass  # the record cannot be written: the app starts on the default, as it would anyway


def value(key: str, default: Any, kind: type | None = None) -> Any:
    """``key``'s value converted to ``kind`` (the default's type when None); ``default`` when
    missing or unconvertible."""
    raw = settings().value(key, None)
    if raw is None:
        return default
    kind = kind or type(default)
    try:
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        if kind is list:
            return [str(item) for item in raw] if isinstance(raw, (list, tuple)) else ([str(raw)] if raw else [])
        return kind(raw)
    except (TypeError, ValueError):
        return default


def byte_value(key: str) -> QByteArray | None:
    """``key``'s value when it holds bytes (window geometry and state); None when missing or
    of another type (a plain string written by hand or another program is ignored)."""
    raw = settings().value(key, None)
    if isinstance(raw, (bytes, bytearray)):
        raw = QByteArray(bytes(raw))
    return raw if isinstance(raw, QByteArray) and not raw.isEmpty() else None


def set_value(key: str, new_value: Any) -> None:
    settings().setValue(key, new_value)


def start_folder(*keys: str) -> str:
    """Where a folder dialog opens: the first remembered folder of ``keys`` that still
    exists, else the user's home (never the process's working directory)."""
    for key in keys:
        folder = value(key, "", str)
        if folder and Path(folder).is_dir():
            return folder
    return str(Path.home())


def recent_files() -> list[str]:
    return value(RECENT_FILES, [], list)


def add_recent_files(paths: list[str]) -> list[str]:
    """Put ``paths`` first in the recent list (no duplicates, at most ``MAX_RECENT``)."""
    current = [p for p in recent_files() if p not in paths]
    updated = (list(dict.fromkeys(paths)) + current)[:MAX_RECENT]
    set_value(RECENT_FILES, updated)
    return updated


def clear_recent_files() -> None:
    set_value(RECENT_FILES, [])

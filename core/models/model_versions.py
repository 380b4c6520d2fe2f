"""The user's own model versions (made by fine-tuning) and which model is active.

A version is a folder ``<user models dir>/<name>/`` holding

- ``model.safetensors``: weights + the model configuration (``info.name`` is the version name)
- ``config.json``: the same configuration in plain JSON, plus the recipe, data and figures
- ``MODEL_CARD.md``: a readable card: where it came from, the data it saw, its figures

A version is written into a staging folder and renamed into place, so it is either complete
or absent, and an existing name is never overwritten. The active model choice is
``<app home>/active_model.json`` (``{"model": "<name or file>"}``, ``default`` = the shipped
model), written atomically: the one record of the model in use, read by the app and the CLI.
This module does not import torch until a version is saved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.io.atomic import current_umask, write_bytes_atomic
from core.io.records import Fields, RecordError, one_line, read_json
from core.models.model_store import (
    CHECKPOINT_SUFFIX,
    DEFAULT_MODEL,
    app_home,
    list_shipped_models,
    shipped_model_path,
    user_model_path,
    user_models_dir,
)

ACTIVE_FILE = "active_model.json"
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"
MODEL_FILE = f"model{CHECKPOINT_SUFFIX}"
STAGING_DIR = ".staging"  # under the app home, on the same file system as the models
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class VersionError(ValueError):
    """A version name or operation that cannot be done; the message is one line for the user."""


@dataclass
class ModelVersion:
    """A saved version, read from its ``config.json`` (no tensors are loaded)."""

    name: str
    folder: Path
    created: float = 0.0
    base_model: str = ""
    record: dict[str, Any] = field(default_factory=dict, repr=False)
    problem: str = ""  # one line when config.json was damaged and defaults stand in for it

    @classmethod
    def from_json(cls, data: Any, name: str, folder: Path) -> ModelVersion:
        """The version described by ``folder/config.json`` holding ``data``; ``RecordError`` (one
        line naming the file) for wrong types: ``created`` a time, ``base_model`` a text,
        ``figures`` an object whose Dice figures are numbers from 0 to 1."""
        fields = Fields(data, folder / CONFIG_FILE)
        created = fields.float("created", 0.0, low=0.0, high=1e11)
        base_model = fields.str("base_model", "")
        figures = Fields(fields.dict("figures", {}), fields.path, "figures")
        for key in ("val_dice_before", "val_dice_after"):
            figures.float(key, None, low=0.0, high=1.0)
        return cls(name=name, folder=folder, created=created, base_model=base_model, record=fields.data)

    @property
    def path(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def card_path(self) -> Path:
        return self.folder / CARD_FILE

    @property
    def val_dice_before(self) -> float | None:
        return (self.record.get("figures") or {}).get("val_dice_before")  # "figures": null is none

    @property
    def val_dice_after(self) -> float | None:
        return (self.record.get("figures") or {}).get("val_dice_after")

    def summary(self) -> str:
        """One line for menus: name, date, and the validation Dice it reached."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)) if self.created else "?"
        after = self.val_dice_after
        return f"{self.name} ({when}" + (f", Dice {after:.4f})" if after is not None else ")")


def check_name(name: str) -> str:
    """Return ``name`` when it can name a new version; raise ``VersionError`` saying why not."""
    name = name.strip()
    if not _NAME.match(name):
        raise VersionError(
            f"{name!r}: a model name is 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    if name == DEFAULT_MODEL or name in list_shipped_models():
        raise VersionError(f"{name!r} is the name of a shipped model; choose another name")
    if (user_models_dir() / name).exists():
        raise VersionError(f"{user_models_dir() / name}: a model named {name!r} exists; choose another name")
    return name


def suggest_name(stem: str = "my-model") -> str:
    """A free version name: ``stem-YYYYMMDD`` then ``-2``, ``-3``..."""
    base = f"{stem}-{time.strftime('%Y%m%d')}"
    candidate, number = base, 1
    while (user_models_dir() / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def read_version(name: str) -> ModelVersion | None:
    """The version called ``name``, or None when there is no complete one."""
    folder = user_models_dir() / name
    if not (folder / MODEL_FILE).is_file():
        return None
    try:
        version = ModelVersion.from_json(read_json(folder / CONFIG_FILE), name, folder)
    except FileNotFoundError:
        version = ModelVersion(name=name, folder=folder)
    except RecordError as error:  # the weights are checked when loaded; the card's figures are lost
        version = ModelVersion(name=name, folder=folder, problem=one_line(error))
    if not version.created:
        version.created = (folder / MODEL_FILE).stat().st_mtime
    return version


def list_versions() -> list[ModelVersion]:
    """The user's versions, oldest first."""
    root = user_models_dir()
    if not root.is_dir():
        return []
    found = [read_version(p.name) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted((v for v in found if v is not None), key=lambda v: (v.created, v.name))


def save_version(name: str, checkpoint: str | Path, record: dict[str, Any]) -> ModelVersion:
    """Make ``checkpoint`` the new version ``name`` with ``record`` as its configuration and card.

    The weights are rewritten with ``info.name = name``. Raises ``VersionError`` when the name
    is taken or invalid; nothing is left behind on failure.
    """
    from core.models.checkpoint import ModelConfig, read_safetensors, save_tensors

    name = check_name(name)
    root = user_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    tensors, metadata = read_safetensors(checkpoint)
    config = ModelConfig.from_json(metadata["maskingnet"])
    config.info = {**config.info, "name": name, "base_model": record.get("base_model", ""),
                   "figures": record.get("figures", {})}
    model = {key: value for key, value in json.loads(config.to_json()).items() if key != "info"}
    record = {**record, "name": name, "created": record.get("created") or time.time(), "model": model}
    scratch = app_home() / STAGING_DIR
    scratch.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=scratch))
    try:
        save_tensors(staging / MODEL_FILE, tensors, {**metadata, "maskingnet": config.to_json()})
        write_bytes_atomic(staging / CONFIG_FILE, json.dumps(record, indent=1, default=str).encode())
        write_bytes_atomic(staging / CARD_FILE, render_model_card(record).encode())
        os.chmod(staging, 0o777 & ~current_umask())
        try:
            os.rename(staging, root / name)  # fails when the name appeared meanwhile: never overwrite
        except OSError:
            raise VersionError(f"{root / name}: a model named {name!r} exists; choose another name") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    version = read_version(name)
    if version is None:  # removed or made unreadable between the rename and now
        raise VersionError(f"{root / name}: the saved version cannot be read back; save it again")
    return version


def remove_version(name: str) -> None:
    """Delete a version. The active model cannot be removed: switch to another one first."""
    if read_version(name) is None:
        raise VersionError(f"{user_models_dir() / name}: no such model version")
    active = active_model()
    if active == name or (Path(active).is_absolute() and Path(active) == user_model_path(name).resolve()):
        raise VersionError(f"{name!r} is the model in use; switch to another model before removing it")
    folder = user_models_dir() / name
    scratch = app_home() / STAGING_DIR
    scratch.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=f"{name}.removing.", dir=scratch)) / name
    os.rename(folder, trash)  # the version disappears at once, even if deleting the files is slow
    shutil.rmtree(trash.parent, ignore_errors=True)


def active_model() -> str:
    """The active model: ``default``, a shipped model, a version name, or a checkpoint file's
    path; one that has disappeared reads as ``default``."""
    try:
        name = Fields(read_json(app_home() / ACTIVE_FILE), app_home() / ACTIVE_FILE).str("model", DEFAULT_MODEL)
    except (OSError, RecordError):
        return DEFAULT_MODEL
    if _is_model_name(name) or (Path(name).is_absolute() and Path(name).is_file()):
        return name
    return DEFAULT_MODEL


def set_active_model(name: str | Path) -> str:
    """Make ``name`` (``default``, a shipped model, a version, or a checkpoint file) the active
    model, atomically; returns what was stored (a file as its absolute path)."""
    name = str(name)
    if not _is_model_name(name):
        if not Path(name).is_file():
            raise VersionError(f"{user_models_dir() / name}: no such model version or model file")
        name = str(Path(name).resolve())
    app_home().mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(app_home() / ACTIVE_FILE, json.dumps({"model": name, "since": time.time()}).encode())
    return name


def model_name(spec: str | Path | None) -> str:
    """The model name a spec stands for: ``default``, a version name, or the spec itself."""
    if spec in (None, ""):
        return DEFAULT_MODEL
    path = Path(str(spec))
    try:
        if path.name == MODEL_FILE and path.parent.parent.resolve() == user_models_dir().resolve():
            return path.parent.name
        if path.resolve() == shipped_model_path().resolve():
            return DEFAULT_MODEL
    except OSError:
        pass
    return str(spec)


def remember_active_model(spec: str | Path) -> bool:
    """Make the model a successful load used the active one (``set_active_model``), when it
    names a model name or file; False (nothing stored) for a spec such as a run folder."""
    name = model_name(spec)
    if name == active_model():
        return True
    try:
        set_active_model(name)
    except VersionError:
        return False
    return True


def _is_model_name(name: str) -> bool:
    if name == DEFAULT_MODEL or name in list_shipped_models():
        return True
    return bool(_NAME.match(name)) and user_model_path(name).is_file()


def model_path(name: str) -> Path:
    """The checkpoint file of a model name (it may not exist for the shipped default)."""
    if name == DEFAULT_MODEL or name in list_shipped_models():
        return shipped_model_path(name)
    return user_model_path(name)


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def render_model_card(record: dict[str, Any]) -> str:
    """Markdown model card from a version record (see ``core.training.finetune.version_record``)."""
    figures = record.get("figures", {})
    data = record.get("data", {})
    recipe = record.get("train_config", {})
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.get("created") or time.time()))
    before, after = figures.get("val_dice_before"), figures.get("val_dice_after")
    lines = [
        f"# Model card: {record.get('name', '?')}",
        "",
        f"Fine-tuned on {created} from `{record.get('base_model', '?')}` with MaskingNet's in-app fine-tuning.",
        "",
        "## Model",
        f"- architecture: {recipe.get('arch', '?')}, width {recipe.get('width', '?')}, "
        f"working size {recipe.get('size', '?')} px",
        f"- starting model: `{record.get('base_model', '?')}`"
        + (f" ({record['base_model_path']})" if record.get("base_model_path") not in (None, record.get("base_model"))
           else ""),
        "",
        "## Figures",
        f"Validation Dice on the {len(data.get('val', []))} held-out photo(s) ({data.get('split_note', '')}):",
        "",
        "| model | mean Dice |",
        "|---|---|",
        f"| starting model | {_fmt(before)} |",
        f"| this model | {_fmt(after)} |",
        "",
        f"Training took {_fmt(figures.get('train_seconds'), 0)} s on {figures.get('device', '?')}, "
        f"{figures.get('epochs_done', '?')} epoch(s); the weights of epoch {figures.get('best_epoch', '?')} "
        "(the best validation Dice) were kept.",
        "",
    ]
    history = figures.get("history") or []
    if history:
        lines += ["| epoch | training loss | validation Dice |", "|---|---|---|"]
        lines += [f"| {h.get('epoch')} | {_fmt(h.get('loss'))} | {_fmt(h.get('val_dice'))} |" for h in history]
        lines.append("")
    lines += [
        "## Recipe",
        ", ".join(f"{key} {recipe[key]}" for key in ("epochs", "lr", "batch_size", "size", "correction_weight",
                                                       "augment", "device", "seed") if key in recipe),
        "",
        "## Data",
        f"{len(data.get('train', []))} training photo(s) and {len(data.get('val', []))} validation photo(s); "
        f"corrected pixels weighted {recipe.get('correction_weight', 0)}x extra.",
        "",
    ]
    for part in ("train", "val"):
        rows = data.get(part, [])
        if rows:
            lines.append(f"### {'Training' if part == 'train' else 'Validation'} photos")
            lines += [f"- {row.get('image')} (group {row.get('group')}, {row.get('source')})" for row in rows]
            lines.append("")
    return "\n".join(lines)

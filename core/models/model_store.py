"""Where models live: the shipped ones under ``resources/models`` and the user's own versions.

A model is named by a checkpoint file, a training run folder (its best, else last,
checkpoint), the name of a shipped model (``default``) or of a user model version.
User versions live in ``<MASKINGNET_HOME or ~/.local/share/maskingnet>/models/<name>/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import CheckpointError

RESOURCES_DIR = Path(__file__).resolve().parents[2] / "resources"
SHIPPED_MODELS_DIR = RESOURCES_DIR / "models"
DEFAULT_MODEL = "default"
CHECKPOINT_SUFFIX = ".safetensors"


def app_home() -> Path:
    """The user's data folder (``MASKINGNET_HOME`` overrides it, e.g. in tests)."""
    override = os.environ.get("MASKINGNET_HOME")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or (Path.home() / ".local" / "share")
    return Path(base) / "maskingnet"


def user_models_dir() -> Path:
    return app_home() / "models"


def shipped_model_path(name: str = DEFAULT_MODEL) -> Path:
    return SHIPPED_MODELS_DIR / f"{name}{CHECKPOINT_SUFFIX}"


def list_shipped_models() -> list[str]:
    if not SHIPPED_MODELS_DIR.is_dir():
        return []
    return sorted(p.stem for p in SHIPPED_MODELS_DIR.glob(f"*{CHECKPOINT_SUFFIX}"))


def list_user_models() -> list[str]:
    """Names of the user's model versions, oldest first."""
    folder = user_models_dir()
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if (p / f"model{CHECKPOINT_SUFFIX}").is_file()]
    return [p.name for p in sorted(found, key=lambda p: (p / f"model{CHECKPOINT_SUFFIX}").stat().st_mtime)]


def user_model_path(name: str) -> Path:
    return user_models_dir() / name / f"model{CHECKPOINT_SUFFIX}"


def resolve_model(spec: str | Path | None = None) -> Path:
    """The checkpoint file that ``spec`` names; raises ``CheckpointError`` with what to do."""
    spec = DEFAULT_MODEL if spec in (None, "") else spec
    path = Path(spec)
    if path.is_file():
        return path
    if path.is_dir():
        for name in ("best", "last", "model"):
            candidate = path / f"{name}{CHECKPOINT_SUFFIX}"
            if candidate.is_file():
                return candidate
        raise CheckpointError(path, "a folder without best/last/model.safetensors")
    name = str(spec)
    if shipped_model_path(name).is_file():
        return shipped_model_path(name)
    if user_model_path(name).is_file():
        return user_model_path(name)
    if name == DEFAULT_MODEL:
        raise CheckpointError(
            shipped_model_path(name), "no default model is installed; train one (see the README) or pass --model"
        )
    known = list_shipped_models() + list_user_models()
    raise CheckpointError(
        path, "no such model file or model name" + (f"; installed models: {', '.join(known)}" if known else "")
    )

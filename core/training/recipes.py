"""Recipe files: a JSON object of ``TrainConfig`` fields that may extend another recipe.

``{"extends": "outdoor-512.json", "zoom_in": 0.15}`` is the recipe ``outdoor-512.json`` (a file
in the same folder, itself read the same way) with ``zoom_in`` set: a variant names only what it
changes. Every file's fields are checked by ``recipe_from_json``; a missing, damaged or circular
base is a one-line ``RecordError`` naming the file that points at it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.io.records import RecordError, inside, printable, read_json
from core.training.train import recipe_from_json

EXTENDS = "extends"
MAX_EXTENDS_DEPTH = 8  # a chain longer than this is refused (a variant of a variant of ...)


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The checked fields of the recipe file ``path``, its bases' fields first, its own over
    them. ``FileNotFoundError`` for ``path`` itself passes through."""
    return _read(Path(path), chain=())


def _read(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict) or EXTENDS not in data:
        return recipe_from_json(data, path)
    own = dict(data)
    base_name = own.pop(EXTENDS)
    if not isinstance(base_name, str) or not base_name.endswith(".json"):
        raise RecordError(path, f"{EXTENDS!r} should name a recipe file (*.json) in the same folder")
    base_path = inside(path.parent, base_name, path)
    visited = (*chain, path.resolve())
    if base_path.resolve() in visited:
        raise RecordError(path, f"{EXTENDS!r} leads back to {printable(base_name)}: recipes extend in a circle")
    if len(visited) >= MAX_EXTENDS_DEPTH:
        raise RecordError(path, f"more than {MAX_EXTENDS_DEPTH} recipes extend one another")
    try:
        base = _read(base_path, visited)
    except FileNotFoundError:
        raise RecordError(path, f"the recipe it extends, {printable(base_name)}, does not exist") from None
    return {**base, **recipe_from_json(own, path)}

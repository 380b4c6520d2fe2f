"""Named listing presets: the output size, margin, background and shadow of a listing photo.

Built-in presets are defined here; the user's own (new ones, or edited built-ins under the
same name) live in ``<app home>/listing_presets.json``, written atomically and validated when
read: a broken file is reported in one line naming it, never half-used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from core.io.atomic import write_bytes_atomic
from core.io.records import RecordError, one_line, read_json
from core.listing.background import parse_background
from core.listing.shadow import ShadowStyle
from core.models.model_store import app_home

PRESETS_FILE = "listing_presets.json"
MAX_SIDE = 10000


@dataclass(frozen=True)
class ListingSpec:
    """How a listing photo is made. ``width`` x ``height`` 0 x 0 keeps the photo's own frame
    (no cropping); otherwise the car is framed inside that size with ``margin`` (a share of
    each side) around its box. ``shadow`` None: on when the background is opaque."""

    width: int = 1600
    height: int = 1200
    margin: float = 0.10
    background: str = "studio-white"
    shadow: bool | None = None
    shadow_opacity: float = 0.55
    shadow_softness: float = 0.03
    shadow_length: float = 0.06
    decontaminate: bool = True

    @property
    def framed(self) -> bool:
        return self.width > 0 and self.height > 0

    @property
    def shadow_style(self) -> ShadowStyle:
        return ShadowStyle(self.shadow_opacity, self.shadow_softness, self.shadow_length)

    @property
    def wants_shadow(self) -> bool:
        return self.shadow if self.shadow is not None else parse_background(self.background).opaque

    def checked(self) -> ListingSpec:
        """Itself, or ValueError (one line) naming what is wrong."""
        if (self.width > 0) != (self.height > 0) or not (0 <= self.width <= MAX_SIDE and 0 <= self.height <= MAX_SIDE):
            raise ValueError(f"the size {self.width}x{self.height} is not valid: both sides 1..{MAX_SIDE}, or both 0")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"the margin must be in [0, 0.5), got {self.margin}")
        parse_background(self.background)
        self.shadow_style.checked()
        return self


@dataclass(frozen=True)
class ListingPreset:
    name: str
    spec: ListingSpec
    builtin: bool = False


BUILTIN_PRESETS = (
    ListingPreset("4:3 1600x1200", ListingSpec(1600, 1200, 0.10), True),
    ListingPreset("1:1 1080x1080", ListingSpec(1080, 1080, 0.08), True),
    ListingPreset("16:9 1920x1080", ListingSpec(1920, 1080, 0.10), True),
    ListingPreset("3:2 1800x1200 showroom", ListingSpec(1800, 1200, 0.10, "showroom-grey"), True),
    ListingPreset("4:3 1600x1200 transparent", ListingSpec(1600, 1200, 0.10, "transparent", shadow=True), True),
)
DEFAULT_PRESET = BUILTIN_PRESETS[0].name


def presets_path() -> Path:
    return app_home() / PRESETS_FILE


def spec_from_dict(data: object, where: str) -> ListingSpec:
    """A checked ``ListingSpec`` from a JSON object; ValueError naming ``where``."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a preset must be an object")
    known = {f.name: f for f in fields(ListingSpec)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown setting {unknown[0]!r}")
    values = {}
    for name, value in data.items():
        kind = known[name].type
        if "bool" in kind:
            ok = isinstance(value, bool) or (value is None and "None" in kind)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ValueError(f"{where}: {name} has the wrong type ({type(value).__name__})")
        values[name] = float(value) if kind == "float" else value
    try:
        return ListingSpec(**values).checked()
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def load_user_presets(path: Path | None = None) -> list[ListingPreset]:
    """The user's presets (none when the file is absent); ValueError (one line, naming the
    file) when it is not a valid presets file: unreadable, not a regular file, not JSON, or a
    preset with a missing name, an unknown setting or a value of the wrong type or range."""
    path = path or presets_path()
    try:
        data = read_json(path)  # a regular file of sane size, parsed (core.io.records)
    except FileNotFoundError:
        return []
    except RecordError as error:
        raise ValueError(one_line(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("presets"), list):
        raise ValueError(f"{path}: expected {{\"presets\": [...]}}")
    presets, names = [], set()
    for index, entry in enumerate(data["presets"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ValueError(f"{path}: preset {index + 1} has no name")
        name = entry["name"].strip()
        if name in names:
            raise ValueError(f"{path}: preset {name!r} appears twice")
        names.add(name)
        settings = {key: value for key, value in entry.items() if key != "name"}
        presets.append(ListingPreset(name, spec_from_dict(settings, f"{path}: preset {name!r}")))
    return presets


def save_user_presets(presets: list[ListingPreset], path: Path | None = None) -> Path:
    """Write the user's presets atomically (built-ins left as they are are not written)."""
    path = path or presets_path()
    entries = [{"name": preset.name, **asdict(preset.spec.checked())} for preset in presets if not preset.builtin]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (json.dumps({"presets": entries}, indent=2) + "\n").encode("utf-8"))
    return path


def all_presets(path: Path | None = None) -> dict[str, ListingPreset]:
    """Built-ins, then the user's (a user preset named like a built-in replaces it)."""
    presets = {preset.name: preset for preset in BUILTIN_PRESETS}
    for preset in load_user_presets(path):
        presets[preset.name] = preset
    return presets


def find_preset(name: str, path: Path | None = None) -> ListingPreset:
    """The preset called ``name``; ValueError listing the names otherwise."""
    presets = all_presets(path)
    if name not in presets:
        raise ValueError(f"unknown listing preset {name!r}; choose one of: {', '.join(presets)}")
    return presets[name]


def with_size(spec: ListingSpec, text: str) -> ListingSpec:
    """``spec`` with the size of 'WxH' (e.g. '1600x1200'); ValueError otherwise."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use WxH, e.g. 1600x1200)") from None
    return replace(spec, width=width, height=height).checked()

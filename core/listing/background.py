"""Backgrounds of a listing photo, named by one string:

- ``transparent``: none (a PNG keeps the car's alpha);
- ``#rrggbb``: a flat colour;
- ``gradient:#top,#bottom``: a vertical gradient;
- a preset drawn here (``BACKGROUND_PRESETS``): ``studio-white`` (a white sweep, its floor a
  soft gradient), ``showroom-grey`` (a light grey wall and floor), ``charcoal``;
- any other text: an image file of the user's, scaled to cover the output and centred.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import MaskingNetError
from core.io.imageio import read_photo

TRANSPARENT = "transparent"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
# preset -> (wall top, wall at the horizon, floor at the horizon, floor at the bottom, horizon as a share of the height)
BACKGROUND_PRESETS = {
    "studio-white": ((246, 246, 246), (252, 252, 252), (236, 236, 237), (252, 252, 252), 0.62),
    "showroom-grey": ((214, 216, 219), (228, 229, 231), (196, 197, 200), (226, 227, 229), 0.6),
    "charcoal": ((38, 40, 44), (70, 72, 77), (58, 60, 64), (30, 31, 34), 0.62),
}


@dataclass(frozen=True)
class Background:
    """A parsed background: ``kind`` is 'transparent', 'color', 'gradient', 'preset' or 'image'."""

    kind: str
    colors: tuple[tuple[int, int, int], ...] = ()
    name: str = ""

    @property
    def opaque(self) -> bool:
        return self.kind != "transparent"


def parse_color(text: str) -> tuple[int, int, int]:
    """'#rrggbb' (or 'rrggbb') -> (r, g, b); ValueError otherwise."""
    match = _HEX.match(text.strip())
    if not match:
        raise ValueError(f"not a colour: {text!r} (use #rrggbb)")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def parse_background(text: str) -> Background:
    """The ``Background`` a string names (see the module docstring). An image is checked to
    exist here and decoded when first drawn."""
    text = text.strip()
    if not text:
        raise ValueError("the background is empty; use transparent, #rrggbb, gradient:#top,#bottom, a preset or an image")
    if text == TRANSPARENT:
        return Background("transparent")
    if text in BACKGROUND_PRESETS:
        return Background("preset", name=text)
    if _HEX.match(text) and (text.startswith("#") or not Path(text).exists()):
        return Background("color", (parse_color(text),))
    if text.startswith("gradient:"):
        parts = text[len("gradient:"):].split(",")
        if len(parts) != 2:
            raise ValueError(f"not a gradient: {text!r} (use gradient:#top,#bottom)")
        return Background("gradient", tuple(parse_color(part) for part in parts))
    if not Path(text).is_file():
        raise ValueError(f"{text}: no such background image (or use transparent, #rrggbb, "
                         f"gradient:#top,#bottom, {', '.join(BACKGROUND_PRESETS)})")
    return Background("image", name=str(Path(text)))


def render_background(background: Background, width: int, height: int) -> np.ndarray | None:
    """(height, width, 3) uint8 pixels of ``background`` (a new array), None when transparent.
    The last few drawn are cached: a batch draws the same one for every photo."""
    if background.kind == "transparent":
        return None
    stamp = 0
    if background.kind == "image":
        try:
            stamp = Path(background.name).stat().st_mtime_ns
        except OSError as error:
            raise MaskingNetError(f"{background.name}: cannot read the background image "
                                  f"({error.strerror or error})") from None
    return _drawn(background, stamp, width, height).copy()


@functools.lru_cache(maxsize=4)
def _drawn(background: Background, stamp: int, width: int, height: int) -> np.ndarray:
    """The pixels of an opaque background (read-only; ``stamp`` is an image file's mtime)."""
    if background.kind == "color":
        out = np.empty((height, width, 3), np.uint8)
        out[:] = background.colors[0]
    elif background.kind == "gradient":
        out = _vertical(height, width, [(0.0, background.colors[0]), (1.0, background.colors[1])])
    elif background.kind == "preset":
        out = _studio(width, height, *BACKGROUND_PRESETS[background.name])
    else:
        out = _cover(background.name, width, height)
    out.setflags(write=False)
    return out


def _vertical(height: int, width: int, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Rows interpolated between (position 0..1, colour) stops, then widened."""
    rows = np.linspace(0, 1, height, dtype=np.float32)
    positions = [p for p, _ in stops]
    column = np.stack([np.interp(rows, positions, [c[i] for _, c in stops]) for i in range(3)], axis=1)
    column = np.clip(column + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(column[:, None, :], (height, width, 3)))


def _studio(width: int, height: int, wall_top, wall_low, floor_high, floor_low, horizon: float) -> np.ndarray:
    """A seamless sweep: the wall's gradient bends into the floor's over a soft band at ``horizon``,
    with a faint darkening toward the sides."""
    bend = 0.08
    image = _vertical(height, width, [(0.0, wall_top), (horizon - bend, wall_low),
                                      (horizon + bend, floor_high), (1.0, floor_low)]).astype(np.float32)
    xs = np.linspace(-1, 1, width, dtype=np.float32)
    vignette = 1 - 0.05 * xs**2
    image *= vignette[None, :, None]
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _cover(path: str, width: int, height: int) -> np.ndarray:
    """The image at ``path`` scaled to cover width x height and centred."""
    try:
        rgb = read_photo(path).rgb
    except MaskingNetError as error:
        raise MaskingNetError(f"background image {error}") from None
    except OSError as error:
        raise MaskingNetError(f"{path}: cannot read the background image ({error.strerror or error})") from None
    scale = max(width / rgb.shape[1], height / rgb.shape[0])
    size = (max(width, round(rgb.shape[1] * scale)), max(height, round(rgb.shape[0] * scale)))
    resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])

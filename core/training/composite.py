"""New kinds of car photos made from masked ones: the car pasted onto other backgrounds.

Used to check that fine-tuning helps on photos unlike the training set (the studio photos):
``build_composite_set`` writes ``images/`` + ``masks/`` whose cars keep their masks and whose
backgrounds are procedural (gradients, textures such as asphalt, grass or bricks, clutter of
random shapes and noise, a simple outdoor scene) or crops of real photos given as a folder.
Everything is drawn from a seeded generator, so a set is reproducible from its recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.io.imageio import IMAGE_EXTENSIONS, read_mask, read_rgb, write_image
from core.training.data import Sample

BACKGROUND_KINDS = ("flat", "gradient", "texture", "bricks", "clutter", "scene", "photo")

_PALETTES = {  # (dark, light) RGB pairs that read as materials
    "asphalt": ((45, 45, 48), (120, 118, 115)),
    "grass": ((30, 70, 25), (110, 160, 60)),
    "sand": ((150, 125, 90), (225, 205, 160)),
    "concrete": ((110, 108, 104), (190, 188, 182)),
    "foliage": ((20, 45, 20), (90, 130, 50)),
    "water": ((20, 50, 90), (90, 140, 180)),
}


def fractal_noise(height: int, width: int, rng: np.random.Generator, *, octaves: int = 5,
                  base_cells: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Smooth multi-scale noise in [0, 1], (height, width) float32."""
    total = np.zeros((height, width), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        amplitude *= persistence
    total /= norm
    low, high = np.percentile(total, (1, 99))
    return np.clip((total - low) / max(high - low, 1e-6), 0, 1)


def _blend(dark: Sequence[float], light: Sequence[float], t: np.ndarray) -> np.ndarray:
    dark, light = np.asarray(dark, np.float32), np.asarray(light, np.float32)
    return dark + (light - dark) * t[..., None]


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def gradient_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A linear or radial blend of two or three random colours."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.6:
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx / width - 0.5) * np.cos(angle) + (yy / height - 0.5) * np.sin(angle)
    else:
        cy, cx = rng.uniform(0.2, 0.8, size=2) * (height, width)
        t = np.hypot((yy - cy) / height, (xx - cx) / width)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    first, second = _random_colour(rng), _random_colour(rng)
    image = _blend(first, second, t)
    if rng.random() < 0.5:
        image = 0.7 * image + 0.3 * _blend(_random_colour(rng), second, t**2)
    return image


def texture_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A material-like texture: asphalt, grass, sand, concrete, foliage or water, or wood grain."""
    if rng.random() < 0.2:
        warp = fractal_noise(height, width, rng, octaves=3) * rng.uniform(8, 25)
        yy = np.mgrid[0:height, 0:width][0].astype(np.float32)
        grain = 0.5 + 0.5 * np.sin(yy / rng.uniform(3, 9) + warp)
        return _blend((90, 55, 30), (190, 140, 90), 0.7 * grain + 0.3 * fractal_noise(height, width, rng))
    dark, light = _PALETTES[rng.choice(sorted(_PALETTES))]
    coarse = fractal_noise(height, width, rng, base_cells=int(rng.integers(2, 6)))
    fine = rng.random((height, width), dtype=np.float32)
    return _blend(dark, light, np.clip(0.75 * coarse + 0.25 * fine, 0, 1))


def bricks_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A brick or tile wall with mortar lines and per-brick colour."""
    brick_h = int(rng.integers(14, 40))
    brick_w = int(brick_h * rng.uniform(1.8, 3.2))
    mortar = max(1, brick_h // 8)
    base = np.array(rng.choice([(150, 60, 45), (170, 100, 70), (120, 110, 100), (200, 195, 185)]), np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = np.array((200, 195, 185), np.float32) * rng.uniform(0.6, 1.0)
    for row, top in enumerate(range(0, height, brick_h)):
        offset = (row % 2) * brick_w // 2
        for left in range(-offset, width, brick_w):
            tone = base * rng.uniform(0.75, 1.15)
            image[top + mortar : top + brick_h, max(0, left + mortar) : max(0, left + brick_w)] = tone
    image *= (0.8 + 0.4 * fractal_noise(height, width, rng))[..., None]
    return image


def clutter_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Random filled and outlined shapes (rectangles, ellipses, polygons, lines) over noise."""
    base = gradient_background(height, width, rng) if rng.random() < 0.5 else texture_background(height, width, rng)
    image = np.ascontiguousarray(base.astype(np.uint8))
    for _ in range(int(rng.integers(15, 45))):
        colour = tuple(int(c) for c in _random_colour(rng))
        thickness = -1 if rng.random() < 0.6 else int(rng.integers(2, 8))
        kind = rng.integers(0, 4)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            w, h = (rng.uniform(0.03, 0.35, size=2) * (width, height)).astype(int)
            cv2.rectangle(image, (x, y), (x + int(w), y + int(h)), colour, thickness)
        elif kind == 1:
            axes = tuple(int(a) for a in rng.uniform(0.02, 0.2, size=2) * (width, height))
            cv2.ellipse(image, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, thickness)
        elif kind == 2:
            points = (rng.uniform(-0.15, 0.15, size=(int(rng.integers(3, 7)), 2)) * (width, height) + (x, y))
            cv2.fillPoly(image, [points.astype(np.int32)], colour)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(image, (x, y), end, colour, int(rng.integers(1, 10)))
    noise = rng.normal(0, rng.uniform(3, 15), size=image.shape).astype(np.float32)
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.5)).astype(np.float32) + noise


def scene_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A simple outdoor scene: sky, a skyline or trees on the horizon, textured ground."""
    horizon = int(height * rng.uniform(0.3, 0.6))
    yy = np.mgrid[0:height, 0:width][0].astype(np.float32)
    sky_top = np.array(rng.choice([(70, 120, 200), (150, 170, 200), (200, 140, 100), (110, 110, 120)]), np.float32)
    sky = _blend(sky_top, (225, 230, 235), np.clip(yy / max(horizon, 1), 0, 1))
    clouds = fractal_noise(height, width, rng, base_cells=3)
    sky = sky * (1 - 0.35 * clouds[..., None]) + 255 * 0.35 * clouds[..., None]
    ground = texture_background(height, width, rng) * rng.uniform(0.8, 1.1)
    image = np.where((yy < horizon)[..., None], sky, ground).astype(np.float32)
    canvas = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))
    left = 0
    while left < width:  # buildings or tree crowns standing on the horizon
        w = int(rng.uniform(0.05, 0.2) * width)
        h = int(rng.uniform(0.05, 0.3) * height)
        tone = tuple(int(c) for c in rng.uniform(40, 170, size=3))
        if rng.random() < 0.6:
            cv2.rectangle(canvas, (left, horizon - h), (left + w, horizon), tone, -1)
            for wy in range(horizon - h + 6, horizon - 6, 12):
                for wx in range(left + 4, left + w - 6, 10):
                    cv2.rectangle(canvas, (wx, wy), (wx + 4, wy + 5), (200, 210, 150), -1)
        else:
            green = (int(rng.integers(20, 60)), int(rng.integers(60, 120)), int(rng.integers(20, 60)))
            cv2.ellipse(canvas, (left + w // 2, horizon - h // 2), (w // 2 + 4, h // 2 + 4), 0, 0, 360, green, -1)
        left += w + int(rng.integers(0, width // 10))
    return canvas.astype(np.float32)


def photo_background(height: int, width: int, rng: np.random.Generator, photos: Sequence[Path]) -> np.ndarray:
    """A random crop of one of ``photos``, resized to the size."""
    if not photos:
        raise ValueError("the 'photo' background needs a folder of photos")
    rgb = read_rgb(photos[int(rng.integers(0, len(photos)))])
    side = int(min(rgb.shape[:2]) * rng.uniform(0.5, 1.0))
    top = int(rng.integers(0, rgb.shape[0] - side + 1))
    left = int(rng.integers(0, rgb.shape[1] - side + 1))
    crop = rgb[top : top + side, left : left + side]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)


def make_background(kind: str, height: int, width: int, rng: np.random.Generator,
                    photos: Sequence[Path] = ()) -> np.ndarray:
    """A background of ``kind`` (one of ``BACKGROUND_KINDS``), (height, width, 3) uint8."""
    if kind == "flat":
        image = np.empty((height, width, 3), np.float32)
        image[:] = _random_colour(rng)
    elif kind == "gradient":
        image = gradient_background(height, width, rng)
    elif kind == "texture":
        image = texture_background(height, width, rng)
    elif kind == "bricks":
        image = bricks_background(height, width, rng)
    elif kind == "clutter":
        image = clutter_background(height, width, rng)
    elif kind == "scene":
        image = scene_background(height, width, rng)
    elif kind == "photo":
        image = photo_background(height, width, rng, photos)
    else:
        raise ValueError(f"unknown background {kind!r}; choose one of {', '.join(BACKGROUND_KINDS)}")
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def composite(rgb: np.ndarray, mask: np.ndarray, background: np.ndarray, *, feather: float = 0.8) -> np.ndarray:
    """The car of ``rgb`` (where ``mask``) over ``background``, edges softened by ``feather`` px."""
    alpha = mask.astype(np.float32)
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
    alpha = alpha[..., None]
    out = rgb.astype(np.float32) * alpha + background.astype(np.float32) * (1 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def camera_look(rgb: np.ndarray, rng: np.random.Generator, *, cast: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The same camera and light for a whole set: a colour ``cast``, then per-photo exposure,
    contrast, sensor noise and a slight blur."""
    image = rgb.astype(np.float32) * cast
    image = (image - 128) * rng.uniform(1 - 0.15 * strength, 1 + 0.1 * strength) + 128
    image *= rng.uniform(1 - 0.2 * strength, 1 + 0.1 * strength)
    image += rng.normal(0, 4 * strength, size=image.shape)
    image = cv2.GaussianBlur(np.clip(image, 0, 255), (0, 0), 0.3 + 0.4 * strength * rng.random())
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@dataclass
class CompositeRecipe:
    """How a set is made: background kinds drawn in turn, the seed of the photos, and the camera
    look shared by every set of the same ``kind_seed`` (one kind of photos, many sets)."""

    kinds: tuple[str, ...] = ("gradient", "texture", "bricks", "clutter", "scene")
    seed: int = 0
    kind_seed: int = 0
    look: bool = True
    look_strength: float = 1.0
    photos: list[Path] = field(default_factory=list)

    def cast(self) -> np.ndarray:
        """The set's colour cast (one light for the whole kind of photos)."""
        rng = np.random.default_rng([self.kind_seed, 999])
        return rng.uniform(0.85, 1.12, size=3).astype(np.float32)


def nice_kinds(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list of background kinds, refusing unknown ones."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in BACKGROUND_KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown background {', '.join(unknown) or '(none)'}; choose from {', '.join(BACKGROUND_KINDS)}")
    return kinds


def find_photos(folder: str | Path) -> list[Path]:
    """Image files in a folder (sorted), for the 'photo' background."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def build_composite_set(samples: Sequence[Sample], out_dir: str | Path, recipe: CompositeRecipe) -> list[Sample]:
    """Write each sample's car over a new background to ``out_dir/images/<name>.jpg`` with its mask
    as ``out_dir/masks/<name>.png``; returns the new samples (same groups). Photo ``i`` uses the
    generator seeded by ``(recipe.seed, i)`` and the background kind ``kinds[i % len(kinds)]``."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    kinds = list(recipe.kinds) + (["photo"] if recipe.photos and "photo" not in recipe.kinds else [])
    cast = recipe.cast()
    made = []
    for index, sample in enumerate(samples):
        rng = np.random.default_rng([recipe.seed, index])
        rgb, mask = read_rgb(sample.image), read_mask(sample.mask)
        background = make_background(kinds[index % len(kinds)], rgb.shape[0], rgb.shape[1], rng, recipe.photos)
        image = composite(rgb, mask, background)
        if recipe.look:
            image = camera_look(image, rng, cast=cast, strength=recipe.look_strength)
        image_path = out_dir / "images" / f"{sample.name}.jpg"
        mask_path = out_dir / "masks" / f"{sample.name}.png"
        write_image(image_path, image, quality=90)
        write_image(mask_path, mask.astype(np.uint8) * 255)
        made.append(Sample(image=image_path, mask=mask_path, group=sample.group))
    return made

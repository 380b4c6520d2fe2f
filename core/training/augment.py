"""Augmentations for car photos: mirror, scale/aspect/shift jitter, colour jitter, and zoom-out.

They work on working-size uint8 photos and float targets, before ``Preprocess.to_tensor``.
Zoom-out shows a photo shrunk inside the frame, so the network also learns cars that fill only part
of it (as on a lot or a street); the frame around the shrunk photo is filled by reflection and is
unknown (weight 0): what lies there is not taught either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    scale: float = 0.10  # zoom in [1 - scale, 1 + scale]
    aspect: float = 0.10  # horizontal stretch in [1 - aspect, 1 + aspect]
    shift: float = 0.06  # translation, as a share of the side
    rotate_degrees: float = 3.0
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue_degrees: float = 8.0
    zoom_out: float = 0.0  # share of photos shrunk to [zoom_out_min, 1 - scale] of their size (needs a weight)
    zoom_out_min: float = 0.4


def augment(
    image: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Apply one random geometric and colour change; the target and weight follow the geometry.

    ``weight`` is (H, W) or (H, W, C) of per-pixel loss weights; only a photo with one can be zoomed
    out, as the frame around it gets weight 0.
    """
    height, width = target.shape
    if config.flip and rng.random() < 0.5:
        image, target = image[:, ::-1], target[:, ::-1]
        weight = weight[:, ::-1] if weight is not None else None
    zoomed_out = weight is not None and config.zoom_out > 0 and rng.random() < config.zoom_out
    if zoomed_out:
        scale = rng.uniform(config.zoom_out_min, 1.0 - config.scale)
    else:
        scale = 1.0 + rng.uniform(-config.scale, config.scale)
    aspect = 1.0 + rng.uniform(-config.aspect, config.aspect)
    angle = np.deg2rad(rng.uniform(-config.rotate_degrees, config.rotate_degrees))
    room = (1.0 - scale) / 2 if zoomed_out else config.shift  # a shrunk photo may sit anywhere in the frame
    shift_x, shift_y = rng.uniform(-room, room, size=2) * (width, height)
    sx, sy = scale * aspect, scale
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[sx * cos, -sy * sin], [sx * sin, sy * cos]])
    centre = np.array([width / 2, height / 2])
    offset = centre - linear @ centre + (shift_x, shift_y)
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float32)

    def warp(array: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            np.ascontiguousarray(array), matrix, (width, height),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101,
        )

    image, target = warp(image), warp(target)
    weight = warp(weight) if weight is not None else None
    if zoomed_out:
        inside = cv2.warpAffine(np.ones((height, width), np.float32), matrix, (width, height),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        inside = (inside > 0.999).astype(weight.dtype)
        weight = weight * (inside[..., None] if weight.ndim == 3 else inside)
    return _colour_jitter(image, rng, config), target, weight


def _colour_jitter(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-config.hue_degrees, config.hue_degrees) * 256 / 360) % 256
    hsv[..., 1] *= 1.0 + rng.uniform(-config.saturation, config.saturation)
    image = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    contrast = 1.0 + rng.uniform(-config.contrast, config.contrast)
    brightness = rng.uniform(-config.brightness, config.brightness) * 255
    mean = image.mean()
    image = (image - mean) * contrast + mean + brightness
    return np.clip(image, 0, 255).astype(np.uint8)

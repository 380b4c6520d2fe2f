"""Augmentations for car photos: mirror, scale/aspect/shift jitter, colour jitter, zoom-out and
camera degradations.

They work on working-size uint8 photos and float targets, before ``Preprocess.to_tensor``.
Zoom-out shows a photo shrunk inside the frame, so the network also learns cars that fill only part
of it (as on a lot or a street); the frame around the shrunk photo is filled by reflection and is
unknown (weight 0): what lies there is not taught either way.
Degradations show the photo as a poor camera or a video frame would: motion blur, low resolution,
sensor noise and JPEG blocks (the target stays the sharp mask: the car is where it was). Panning
streaks only the background, as a camera following a moving car does (the target says where the car
is, so it is for exact masks).
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
    # share of photos magnified to [1 + scale, zoom_in_max] and moved anywhere within the view: the
    # car crosses the frame's edge, as in close and cropped shots (exact masks never show it there)
    zoom_in: float = 0.0
    zoom_in_max: float = 1.6
    degrade: float = 0.0  # share of photos given one or more camera degradations (``degrade``)
    panning: float = 0.0  # share of photos whose background is streaked, the car (target >= 0.5) sharp


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
    zoomed_in = not zoomed_out and config.zoom_in > 0 and rng.random() < config.zoom_in
    if zoomed_out:
        scale = rng.uniform(config.zoom_out_min, 1.0 - config.scale)
    elif zoomed_in:
        scale = rng.uniform(1.0 + config.scale, config.zoom_in_max)
    else:
        scale = 1.0 + rng.uniform(-config.scale, config.scale)
    aspect = 1.0 + rng.uniform(-config.aspect, config.aspect)
    angle = np.deg2rad(rng.uniform(-config.rotate_degrees, config.rotate_degrees))
    # a shrunk photo may sit anywhere in the frame, a magnified one show any part of itself
    room = abs(1.0 - scale) / 2 if zoomed_out or zoomed_in else config.shift
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
    image = _colour_jitter(image, rng, config)
    if config.panning > 0 and rng.random() < config.panning:
        length = streak_length(rng.uniform(*PANNING_BLUR), width)
        image = panning_blur(image, target >= 0.5, length, rng.uniform(-10, 10))
    if config.degrade > 0 and rng.random() < config.degrade:
        image = degrade(image, rng)
    return image, target, weight


# Ranges at the working size (a 512 photo): blur length as a share of the width, the side kept when
# shrunk, noise sigma in grey levels, JPEG quality.
MOTION_BLUR = (0.004, 0.02)
PANNING_BLUR = (0.01, 0.06)  # the background's streak behind a car the camera follows
LOW_RESOLUTION = (0.3, 0.7)
NOISE_SIGMA = (2.0, 12.0)
JPEG_QUALITY = (20, 70)
DEGRADATION_CHANCE = 0.4  # each kind's chance; at least one is applied


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 -> the same photo with one or more of: motion blur (mostly along the road),
    low resolution, sensor noise (grain or colour speckle) and JPEG compression, in the order a
    camera applies them."""
    chosen = rng.random(4) < DEGRADATION_CHANCE
    if not chosen.any():
        chosen[rng.integers(4)] = True
    height, width = image.shape[:2]
    if chosen[0]:
        length = streak_length(rng.uniform(*MOTION_BLUR), width)
        image = motion_blur(image, length, rng.uniform(-15, 15) if rng.random() < 0.75 else rng.uniform(0, 180))
    if chosen[1]:
        keep = rng.uniform(*LOW_RESOLUTION)
        image = low_resolution(image, (max(1, round(width * keep)), max(1, round(height * keep))))
    if chosen[2]:
        sigma = rng.uniform(*NOISE_SIGMA)
        image = sensor_noise(image, sigma, rng, grain=rng.random() >= 0.5)
    if chosen[3]:
        image = jpeg_round_trip(image, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
    return np.ascontiguousarray(image)


def streak_length(share: float, width: int) -> int:
    """The length in pixels of a streak ``share`` of ``width`` long: odd (a kernel centred on its
    pixel, so the photo is not shifted by half a pixel) and at least 3."""
    return max(3, round(share * width) | 1)


def motion_blur(array: np.ndarray, length: int, angle: float = 0.0) -> np.ndarray:
    """(H, W[, C]) array (a uint8 photo, a float map) smeared along a line of ``length`` px at ``angle``
    degrees (0: horizontal), in its own type."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    if angle:
        rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(array, -1, kernel / max(float(kernel.sum()), 1e-6), borderType=cv2.BORDER_REFLECT_101)


def panning_blur(image: np.ndarray, car: np.ndarray, length: int, angle: float = 0.0) -> np.ndarray:
    """(H, W, 3) uint8 as a camera panning with a moving car sees it: the background (``car`` False)
    smeared along a line of ``length`` px at ``angle`` degrees, from background pixels only (the car
    stands in front of it, so no ghost of the car is smeared into the street), the car (``car`` True,
    (H, W) bool) sharp; the seam is softened over a few pixels, as a real one is."""
    behind = (~car).astype(np.float32)
    streaked = motion_blur(image.astype(np.float32) * behind[..., None], length, angle)
    reach = motion_blur(behind, length, angle)[..., None]
    streaked = np.where(reach > 1e-3, streaked / np.maximum(reach, 1e-3), image)
    feather = max(1, length // 8) * 2 + 1
    alpha = cv2.GaussianBlur(car.astype(np.float32), (feather, feather), 0)[..., None]
    return np.clip(alpha * image + (1.0 - alpha) * streaked + 0.5, 0, 255).astype(np.uint8)


def passing_blur(image: np.ndarray, car: np.ndarray, length: int, angle: float = 0.0) -> np.ndarray:
    """(H, W, 3) uint8 as a still camera sees a car driving past: the car (``car`` True, (H, W) bool)
    smeared along a line of ``length`` px at ``angle`` degrees over the street, which stays sharp;
    where the smear thins out at the car's ends, the street behind the car shows through
    (``street_behind``)."""
    covered = car.astype(np.float32)
    smeared = motion_blur(image.astype(np.float32) * covered[..., None], length, angle)
    reach = motion_blur(covered, length, angle)[..., None]
    return np.clip(smeared + (1.0 - reach) * street_behind(image, car) + 0.5, 0, 255).astype(np.uint8)


STREET_FILL_SIZE = 256  # px: the car's hole is filled at this size (a guess either way, and fast)


def street_behind(image: np.ndarray, car: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: the photo with the car's pixels (``car`` True) filled in from the street
    around them (``cv2.inpaint`` on a copy shrunk to ``STREET_FILL_SIZE``): a guess of what it hides."""
    height, width = car.shape
    scale = min(1.0, STREET_FILL_SIZE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    hole = cv2.resize(car.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))
    filled = cv2.resize(cv2.inpaint(small, hole, 3, cv2.INPAINT_TELEA), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(car[..., None], filled, image).astype(np.float32)


def low_resolution(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 shrunk to ``size`` (width, height) and enlarged back: the detail of a smaller sensor."""
    height, width = image.shape[:2]
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def sensor_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, *, grain: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 plus Gaussian noise of ``sigma`` grey levels: per colour (speckle), or the same
    in all three (``grain``)."""
    shape = image.shape[:2] + (1,) if grain else image.shape
    return np.clip(image + rng.normal(0.0, sigma, shape), 0, 255).astype(np.uint8)


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB saved as JPEG at ``quality`` and read back (unchanged if encoding fails)."""
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # OpenCV's order is BGR: its luma and chroma planes are then the photo's
        return image
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])


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

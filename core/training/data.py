"""Folders of photos and masks: pairing, grouping by car, splitting, in-memory caching.

Two namings are understood, per photo ``images/<stem>.<ext>``:
Carvana's ``masks/<stem>_mask.gif`` and the plain ``masks/<stem>.png`` (also ``.gif``,
``<stem>_mask.png``). The mask foreground rule is in ``core.io.imageio.read_mask``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core.errors import ImageReadError, printable
from core.grouping import photo_group
from core.io.imageio import IMAGE_EXTENSIONS, read_gray, read_mask, read_rgb
from core.masking.cleanup import ground_below, outline_band
from core.models.preprocess import Preprocess, resize_array

_MASK_PATTERNS = ("{stem}_mask.gif", "{stem}_mask.png", "{stem}.png", "{stem}.gif", "{stem}_mask.jpg")


@dataclass(frozen=True)
class Sample:
    """One photo with its mask; ``group`` keeps photos of one car together in splits.

    ``weight`` optionally names an 8-bit map whose pixels > 0 count extra in the loss
    (the pixels a user corrected). ``confidence`` optionally names an 8-bit map of how far each
    mask pixel is trusted (255: fully, 0: unknown, left out of the loss and of the Dice), as for
    labels made by teacher models. ``source`` names the data set, for figures per source.
    ``edge_emphasis`` > 0 adds the pixels within that many pixels (at the working size) of the mask's
    outline to ``weight`` (for exact masks, whose outline is worth teaching hardest);
    ``edge_unknown`` > 0 makes the pixels that near the outline unknown (for teacher labels, whose
    outline is not the truth). ``ground_unknown`` > 0 makes the background within that many pixels
    straight below the mask's car unknown (the ground shadow, which teacher labels take for car).
    ``degrade`` is the share of this sample's training views given camera degradations
    (``augment.degrade``), ``panning`` the share shown with the background streaked
    (``augment.panning_blur``); None: the recipe's share. ``augment`` False shows this sample's
    training views as they are (no geometric, colour or camera change), whatever the recipe says.
    """

    image: Path
    mask: Path
    group: str
    weight: Path | None = None
    confidence: Path | None = None
    source: str = ""
    edge_emphasis: int = 0
    edge_unknown: int = 0
    ground_unknown: int = 0
    degrade: float | None = None
    panning: float | None = None
    augment: bool = True

    @property
    def name(self) -> str:
        return self.image.stem


def find_mask(image: Path, masks_dir: Path) -> Path | None:
    """The mask file for ``image`` in ``masks_dir`` (either naming), or None."""
    for pattern in _MASK_PATTERNS:
        candidate = masks_dir / pattern.format(stem=image.stem)
        if candidate.is_file() and candidate != image:
            return candidate
    return None


def find_samples(images_dir: str | Path, masks_dir: str | Path) -> tuple[list[Sample], list[Path]]:
    """Pair every photo in ``images_dir`` with its mask; returns (samples, photos without a mask).

    ``images_dir`` and ``masks_dir`` may be one folder (``car.jpg`` beside ``car_mask.png``).
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"{images_dir}: no such folder")
    if not masks_dir.is_dir():
        raise FileNotFoundError(f"{masks_dir}: no such folder")
    samples, unmatched = [], []
    for image in sorted(images_dir.iterdir()):
        if image.suffix.lower() not in IMAGE_EXTENSIONS or image.name.startswith("."):
            continue
        mask = find_mask(image, masks_dir)
        if mask is None:
            unmatched.append(image)
        else:
            samples.append(Sample(image=image, mask=mask, group=photo_group(image, images_dir)))
    # Photos and masks in one folder: a mask is not a photo of its own.
    masks = {sample.mask for sample in samples}
    return [s for s in samples if s.image not in masks], [p for p in unmatched if p not in masks]


def split_by_group(
    samples: Sequence[Sample], val_fraction: float = 0.2, *, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """Split so that no group (car) has photos on both sides; deterministic for a seed.

    With a single group everything goes to training; otherwise at least one group is held out
    when ``val_fraction`` > 0.
    """
    groups = sorted({sample.group for sample in samples})
    random.Random(seed).shuffle(groups)
    count = round(len(groups) * val_fraction)
    if val_fraction > 0 and count == 0 and len(groups) > 1:
        count = 1
    held_out = set(groups[:count])
    train = [s for s in samples if s.group not in held_out]
    val = [s for s in samples if s.group in held_out]
    return train, val


@dataclass
class CachedSamples:
    """Decoded photos at the working size, with soft masks at the working size for training
    and boolean masks at their own resolution for evaluation. ``left_out`` holds one line per
    sample that could not be used (and is not among ``samples``)."""

    samples: list[Sample]
    images: list[np.ndarray] = field(default_factory=list)  # (S, S, 3) uint8
    targets: list[np.ndarray] = field(default_factory=list)  # (S, S) float32 in [0, 1]
    weights: list[np.ndarray | None] = field(default_factory=list)  # (S, S) float32 or None
    confidences: list[np.ndarray | None] = field(default_factory=list)  # (S, S) float32 in [0, 1] or None
    full_masks: list[np.ndarray] = field(default_factory=list)  # (H, W) bool
    full_confidences: list[np.ndarray | None] = field(default_factory=list)  # (H, W) bool (trusted) or None
    left_out: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def emphasis(self, index: int) -> np.ndarray | None:
        """(S, S) float32 in [0, 1]: the pixels that count extra in the loss (the weight map, and the
        band around the target's outline where the sample has one; made on demand, as storing
        it for thousands of photos would cost gigabytes of memory), or None."""
        weight, band = self.weights[index], self._sample_field(index, "edge_emphasis")
        if band <= 0:
            return weight
        outline = outline_band(self.targets[index] >= 0.5, band).astype(np.float32)
        return outline if weight is None else np.maximum(weight, outline)

    def trust(self, index: int) -> np.ndarray | None:
        """(S, S) float32 in [0, 1]: how far each target pixel is trusted (the confidence map, 0 in the
        band around the target's outline and in the ground below its car where the sample asks so),
        or None: all trusted."""
        confidence = self.confidences[index]
        band, depth = self._sample_field(index, "edge_unknown"), self._sample_field(index, "ground_unknown")
        if band <= 0 and depth <= 0:
            return confidence
        car = self.targets[index] >= 0.5
        unknown = ground_below(car, depth)
        if band > 0:
            unknown |= outline_band(car, band)
        known = (~unknown).astype(np.float32)
        return known if confidence is None else confidence * known

    def augment_share(self, index: int, name: str, default: float) -> float:
        """The share of sample ``index``'s training views given an augmentation (``"degrade"`` or
        ``"panning"``): its own, else ``default``."""
        share = self._sample_field(index, name, None)
        return default if share is None else share

    def augments(self, index: int) -> bool:
        """Whether sample ``index``'s training views may be augmented (its source's ``augment``)."""
        return bool(self._sample_field(index, "augment", True))

    def _sample_field(self, index: int, name: str, missing: Any = 0) -> Any:
        """Field ``name`` of sample ``index``; ``missing`` for columns built without their samples."""
        return getattr(self.samples[index], name) if index < len(self.samples) else missing


def mask_problem(mask: np.ndarray, photo_shape: tuple[int, ...]) -> str | None:
    """Why a mask cannot teach its photo (another size, no car, nothing but car), or None."""
    if mask.shape != tuple(photo_shape[:2]):
        return (f"the mask is {mask.shape[1]}x{mask.shape[0]}, its photo {photo_shape[1]}x{photo_shape[0]}; "
                "a mask must have its photo's size")
    if not mask.any():
        return "the mask is empty (no car)"
    if mask.all():
        return "the mask is all car (no background)"
    return None


def cache_samples(
    samples: Sequence[Sample],
    preprocess: Preprocess,
    *,
    keep_full_masks: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CachedSamples:
    """Decode and resize every sample once so training never touches the disk again.

    A sample listed more than once (oversampled) is decoded once; its entries share the arrays.
    A sample whose photo, mask or confidence map cannot be read, whose mask is another size,
    empty, all car or a photo, is left out with one line in ``left_out`` naming the file."""
    cached = CachedSamples(samples=[])
    seen: dict[Sample, int] = {}  # sample -> its index in the cached columns
    for index, sample in enumerate(samples):
        if sample in seen:
            first = seen[sample]
            cached.samples.append(sample)
            for column in (cached.images, cached.targets, cached.weights, cached.confidences):
                column.append(column[first])
            if keep_full_masks:
                cached.full_masks.append(cached.full_masks[first])
                cached.full_confidences.append(cached.full_confidences[first])
            if progress is not None:
                progress(index + 1, len(samples))
            continue
        confidence = None
        try:
            rgb = read_rgb(sample.image)
            mask = read_mask(sample.mask, strict=True)
            problem = mask_problem(mask, rgb.shape)
            weight = read_mask(sample.weight) if sample.weight is not None and problem is None else None
            if weight is not None and weight.shape != mask.shape:
                problem = f"its weight map {printable(sample.weight)} does not have the mask's size"
            if sample.confidence is not None and problem is None:
                confidence = read_confidence(sample.confidence, mask.shape)
        except ImageReadError as error:
            problem, mask = error.problem, None
            cached.left_out.append(str(error))
        except ValueError as error:
            problem = str(error)
            cached.left_out.append(problem)
        else:
            if problem is not None:
                cached.left_out.append(f"{printable(sample.mask)}: {problem}")
        if problem is None:
            seen[sample] = len(cached.samples)
            cached.samples.append(sample)
            cached.images.append(preprocess.resize(rgb))
            cached.targets.append(preprocess.resize_mask(mask))
            cached.weights.append(preprocess.resize_mask(weight) if weight is not None else None)
            cached.confidences.append(resize_array(confidence, preprocess.size, preprocess.size)
                                      if confidence is not None else None)
            if keep_full_masks:
                cached.full_masks.append(mask)
                cached.full_confidences.append(confidence > 0.5 if confidence is not None else None)
        if progress is not None:
            progress(index + 1, len(samples))
    return cached


def with_confidence(samples: Sequence[Sample], folder: Path) -> list[Sample]:
    """The samples that have a confidence map ``folder/<stem>.png``, with it set."""
    paired = [(sample, folder / f"{sample.image.stem}.png") for sample in samples]
    return [replace(sample, confidence=path) for sample, path in paired if path.is_file()]


def with_emphasis(samples: Sequence[Sample], folder: Path) -> list[Sample]:
    """The samples, each with its weight map ``folder/<stem>.png`` set where there is one."""
    return [replace(sample, weight=path) if (path := folder / f"{sample.image.stem}.png").is_file() else sample
            for sample in samples]


def read_confidence(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """An 8-bit confidence map as float32 in [0, 1]; it must have the mask's ``shape``."""
    confidence = read_gray(path).astype(np.float32) / 255.0
    if confidence.shape != shape:
        raise ValueError(f"{path}: confidence map size {confidence.shape[::-1]} differs from its mask's {shape[::-1]}")
    return confidence

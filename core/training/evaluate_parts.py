"""Recall of hand-labelled car parts: for photos whose labels cover only parts of the car.

A part label map is an 8-bit image, 0 = not labelled, k > 0 = part k (named in a JSON file
``{"k": "name"}``, like car-parts' ``parts.json``). A labelled pixel is surely car, an unlabelled
one may be either, so the fair figure is how many labelled pixels the mask keeps (recall). It
says nothing of background wrongly kept: pair it with a Dice on whole-car labels. The recall near
the frame's edge is apart too: a car cut by the frame is where a model trained on whole cars fails.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.io.imageio import IMAGE_EXTENSIONS, read_gray, read_photo
from core.masking.inference import Prediction, Segmenter
from core.training.evaluate import reporting

NEAR_EDGE = 0.08  # a pixel this close to the frame's edge (share of the photo's longer side) is "near the edge"


@dataclass
class PartsReport:
    model: str
    device: str
    part_names: dict[int, str]
    kept: dict[str, float] = field(default_factory=dict)  # photo -> share of its labelled pixels kept
    kept_pixels: dict[int, int] = field(default_factory=dict)  # part -> labelled pixels kept, over all photos
    total_pixels: dict[int, int] = field(default_factory=dict)  # part -> labelled pixels, over all photos
    # photo -> {part: (labelled pixels kept, labelled pixels)}, for figures over any subset of the photos
    photo_parts: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    near_edge_kept: int = 0  # labelled pixels near the frame's edge (``near_frame_edge``) kept, over all photos
    near_edge_total: int = 0
    seconds: float = 0.0

    def recall(self, parts: set[int] | None = None) -> float:
        """Labelled pixels kept / labelled pixels, over all photos, for ``parts`` (all by default)."""
        keys = parts if parts is not None else set(self.total_pixels)
        total = sum(self.total_pixels.get(k, 0) for k in keys)
        return sum(self.kept_pixels.get(k, 0) for k in keys) / total if total else float("nan")

    def near_edge_recall(self) -> float:
        """Labelled pixels kept / labelled pixels, of those near the frame's edge, over all photos."""
        return self.near_edge_kept / self.near_edge_total if self.near_edge_total else float("nan")

    def parts_named(self, word: str) -> set[int]:
        return {k for k, name in self.part_names.items() if word in name}

    def worst(self, count: int = 5) -> list[tuple[str, float]]:
        return sorted(self.kept.items(), key=lambda item: item[1])[:count]

    def to_dict(self) -> dict[str, Any]:
        return {"photos": len(self.kept), "recall": self.recall(), "photo_mean": float(np.mean(list(self.kept.values()))),
                "wheels": self.recall(self.parts_named("wheel")), "mirrors": self.recall(self.parts_named("mirror")),
                "near_edge": self.near_edge_recall(),
                "per_part": {self.part_names.get(k, str(k)): self.recall({k}) for k in sorted(self.total_pixels)},
                "worst": [{"image": n, "kept": v} for n, v in self.worst()], "model": self.model,
                "device": self.device, "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        figures = self.to_dict()
        lines = [f"labelled car-part pixels kept: {figures['recall']:.4f} over {len(self.kept)} photos "
                 f"(mean per photo {figures['photo_mean']:.4f}; wheels {figures['wheels']:.4f}, "
                 f"mirrors {figures['mirrors']:.4f}, near the frame's edge {figures['near_edge']:.4f}; "
                 f"{self.model} on {self.device}, {self.seconds:.1f} s)", "worst:"]
        lines += [f"  {name}: {value:.4f}" for name, value in self.worst()]
        return "\n".join(lines)


def read_part_names(path: str | Path) -> dict[int, str]:
    """``{"1": "back_bumper", ...}`` -> {1: "back_bumper", ...}; raises ValueError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable JSON object of part names ({error})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and k.isdigit() for k, v in data.items()):
        raise ValueError(f"{path}: part names are an object like {{\"1\": \"wheel\"}}")
    return {int(k): v for k, v in data.items() if int(k) > 0}


def near_frame_edge(height: int, width: int, share: float = NEAR_EDGE) -> np.ndarray:
    """(height, width) bool: the pixels closer to the frame's edge than ``share`` x its longer side."""
    reach = share * max(height, width)
    rows = np.minimum(np.arange(height), np.arange(height)[::-1]) < reach
    cols = np.minimum(np.arange(width), np.arange(width)[::-1]) < reach
    return rows[:, None] | cols[None, :]


def part_label_pairs(images_dir: str | Path, parts_dir: str | Path) -> list[tuple[Path, Path]]:
    """(photo, ``parts_dir/<stem>.png``) for every photo of ``images_dir`` that has part labels, sorted.
    ``FileNotFoundError`` for a missing folder, ``ValueError`` when no photo has labels."""
    images_dir, parts_dir = Path(images_dir), Path(parts_dir)
    for folder in (images_dir, parts_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
    pairs = [(image, parts_dir / f"{image.stem}.png") for image in sorted(images_dir.iterdir())
             if image.suffix.lower() in IMAGE_EXTENSIONS and (parts_dir / f"{image.stem}.png").is_file()]
    if not pairs:
        raise ValueError(f"{images_dir}: no photos with part labels in {parts_dir}")
    return pairs


def read_part_labels(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A part-label map (H, W) uint8, 0 = not labelled, read for a photo of (H, W) ``shape``;
    ``ValueError`` naming the file when its size differs."""
    parts = read_gray(path)
    if parts.shape != tuple(shape[:2]):
        raise ValueError(f"{path}: label size {parts.shape[::-1]} differs from its photo's {tuple(shape[:2])[::-1]}")
    return parts


def evaluate_parts(
    segmenter: Segmenter, images_dir: str | Path, parts_dir: str | Path, *, part_names: dict[int, str] | None = None,
    limit: int = 0, progress=None, observe: Callable[[str, Prediction], None] | None = None,
) -> PartsReport:
    """Mask every photo of ``images_dir`` that has ``parts_dir/<stem>.png`` and count the parts kept.

    ``progress`` and ``observe`` are as in ``core.training.evaluate.evaluate_folder``.
    """
    pairs = part_label_pairs(images_dir, parts_dir)
    if limit:
        pairs = pairs[:limit]
    report = PartsReport(model=segmenter.name, device=segmenter.device_label, part_names=part_names or {})
    started = time.perf_counter()
    with reporting(progress, len(pairs)) as advance:
        for image, parts_path in pairs:
            photo = read_photo(image)
            prediction = segmenter.predict_batch([photo.rgb], [photo.alpha])[0]
            if observe is not None:
                observe(image.stem, prediction)
            mask = prediction.mask
            parts = read_part_labels(parts_path, mask.shape)
            labelled = parts > 0
            if labelled.any():
                report.kept[image.stem] = float((mask & labelled).sum() / labelled.sum())
            near_edge = labelled & near_frame_edge(*labelled.shape)
            report.near_edge_total += int(near_edge.sum())
            report.near_edge_kept += int((mask & near_edge).sum())
            counts = report.photo_parts.setdefault(image.stem, {})
            for part in np.unique(parts[labelled]):
                where = parts == part
                counts[int(part)] = (int((mask & where).sum()), int(where.sum()))
                report.total_pixels[int(part)] = report.total_pixels.get(int(part), 0) + counts[int(part)][1]
                report.kept_pixels[int(part)] = report.kept_pixels.get(int(part), 0) + counts[int(part)][0]
            advance(image.stem)
    report.seconds = time.perf_counter() - started
    return report

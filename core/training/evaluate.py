"""Mean Dice of a model on a folder of photos with masks, at each mask's own resolution."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from core.io.imageio import read_mask, read_photo
from core.masking.inference import Prediction, Segmenter
from core.training.data import find_samples, read_confidence, with_confidence
from core.training.metrics import dice, stray_regions


@dataclass
class EvalReport:
    model: str
    device: str
    scores: dict[str, float] = field(default_factory=dict)  # photo name -> Dice
    speckles: dict[str, int] = field(default_factory=dict)  # photo name -> car islands in the background
    holes: dict[str, int] = field(default_factory=dict)  # photo name -> background gaps in the body
    unmatched: int = 0
    seconds: float = 0.0
    mirror: bool = False  # masks averaged with the mirrored photos' (``Segmenter.flip_tta``)
    close_up: bool = False  # small cars masked again from a crop (``Segmenter.close_up``)
    frame_edge: bool = False  # cars cut by the frame masked again past it (``Segmenter.frame_edge``)

    @property
    def dice(self) -> float:
        return float(np.mean(list(self.scores.values()))) if self.scores else float("nan")

    def worst(self, count: int = 5) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda item: item[1])[:count]

    def stray_summary(self) -> str:
        """One line: how many photos have speckles or holes, and how many of each in all."""
        with_speckles = sum(1 for count in self.speckles.values() if count)
        with_holes = sum(1 for count in self.holes.values() if count)
        return (f"speckles (car islands in the background): {sum(self.speckles.values())} in {with_speckles} of "
                f"{len(self.scores)} photos; holes (gaps in the body): {sum(self.holes.values())} in {with_holes}")

    def to_dict(self) -> dict[str, Any]:
        return {"dice": self.dice, "count": len(self.scores), "worst": [{"image": n, "dice": d} for n, d in self.worst()],
                "speckles": sum(self.speckles.values()), "holes": sum(self.holes.values()),
                "model": self.model, "device": self.device, "mirror": self.mirror, "close_up": self.close_up,
                "frame_edge": self.frame_edge,
                "photos_without_mask": self.unmatched,
                "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        mirror = ((", mirror-averaged" if self.mirror else "") + (", small cars looked at closer" if self.close_up else "")
                  + (", cars cut by the frame looked at past it" if self.frame_edge else ""))
        lines = [f"mean Dice {self.dice:.5f} over {len(self.scores)} photos ({self.model} on {self.device}{mirror}, "
                 f"{self.seconds:.1f} s)", self.stray_summary(), "worst:"]
        lines += [f"  {name}: {score:.5f}" for name, score in self.worst()]
        return "\n".join(lines)


@contextmanager
def reporting(progress, total: int) -> Iterator[Callable[[str], None]]:
    """Give ``progress`` (see ``evaluate_folder``) its ``total`` and yield its ``advance``; close it
    at the end, also on error. With ``progress`` None, yields a no-op."""
    if progress is None:
        yield lambda name: None
        return
    progress.total = total
    try:
        yield progress.advance
    finally:
        progress.close()


def evaluate_folder(
    segmenter: Segmenter, images_dir: str | Path, masks_dir: str | Path, *, limit: int = 0, progress=None,
    groups: set[str] | None = None, confidence_dir: str | Path | None = None, stems: set[str] | None = None,
    observe: Callable[[str, Prediction], None] | None = None,
) -> EvalReport:
    """Predict every photo that has a mask and score it against the mask.

    ``groups`` keeps only photos of those groups (cars), e.g. a model's held-out validation cars;
    ``stems`` only the photos of those names.
    ``confidence_dir``, if given, holds ``<stem>.png`` maps: only pixels above 127 are scored (photos
    without a map are left out), for labels that are trusted only in part.
    ``progress``, if given, is an object with a ``total`` attribute (set here once the photos are
    counted), ``advance(name)`` (called per photo) and ``close()`` (called at the end, also on error),
    such as ``core.cli.ProgressBar``. ``observe``, if given, is called with each photo's name and
    its ``Prediction`` (for figures beyond the Dice, e.g. the doubt).
    """
    import time

    samples, unmatched = find_samples(images_dir, masks_dir)
    if groups is not None:
        samples = [sample for sample in samples if sample.group in groups]
    if stems is not None:
        samples = [sample for sample in samples if sample.image.stem in stems]
    if confidence_dir is not None:
        if not Path(confidence_dir).is_dir():
            raise FileNotFoundError(f"{confidence_dir}: no such folder")
        samples = with_confidence(samples, Path(confidence_dir))
    if limit:
        samples = samples[:limit]
    if not samples:
        raise ValueError(f"{images_dir}: no photos with masks in {masks_dir}")
    report = EvalReport(model=segmenter.name, device=segmenter.device_label, unmatched=len(unmatched),
                        mirror=segmenter.flip_tta, close_up=segmenter.close_up,
                        frame_edge=segmenter.frame_edge)
    started = time.perf_counter()
    with reporting(progress, len(samples)) as advance:
        for start in range(0, len(samples), segmenter.batch_size):
            chunk = samples[start : start + segmenter.batch_size]
            photos = [read_photo(sample.image) for sample in chunk]
            predictions = segmenter.predict_batch([p.rgb for p in photos], [p.alpha for p in photos])
            for sample, prediction in zip(chunk, predictions):
                truth = read_mask(sample.mask)
                if truth.shape != prediction.mask.shape:
                    raise ValueError(f"{sample.mask}: mask size {truth.shape[::-1]} differs from its photo's "
                                     f"{prediction.mask.shape[::-1]}")
                if sample.confidence is not None:
                    trusted = read_confidence(sample.confidence, truth.shape) > 0.5
                    report.scores[sample.name] = dice(prediction.mask[trusted], truth[trusted])
                else:
                    report.scores[sample.name] = dice(prediction.mask, truth)
                report.speckles[sample.name], report.holes[sample.name] = stray_regions(prediction.mask, truth)
                if observe is not None:
                    observe(sample.name, prediction)
                advance(sample.name)
    report.seconds = time.perf_counter() - started
    return report

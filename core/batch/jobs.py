"""The records a batch passes around: a job (one photo, where its export goes) and its result.

Shared by the pipeline (``core.batch.pipeline``), its progress and the review log, which import
this module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class BatchStatus(str, Enum):
    """How one photo of a batch ended (str-valued: the counts and the CLI's report use the values)."""

    DONE = "done"
    SKIPPED = "skipped"  # its export was there already
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass
class BatchJob:
    """One input photo, where its export goes, and the input folder it was found under."""

    source: Path
    output: Path
    root: Path | None = None


@dataclass
class BatchResult:
    """The outcome for one photo: ``status`` (with ``error`` when it failed).

    ``uncertainty``: share of working-size pixels with probability in (0.1, 0.9).
    ``mirror``: share of pixels where the photo and its mirror image disagree (when asked).
    ``area``: share of the photo that is car. ``corrected``: exported from the user's mask.
    """

    source: Path
    output: Path
    status: BatchStatus
    error: str = ""
    uncertainty: float | None = None
    area: float | None = None
    seconds: float = 0.0
    mirror: float | None = None
    corrected: bool = False
    box: tuple[int, int, int, int] | None = None  # the car's box in the photo, when framed with its car

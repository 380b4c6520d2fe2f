"""One frame for every angle of a car in a batch: the gate that holds a car's masked photos
until all of them are masked, then hands them over with their shared ``GroupFrame``.

Cars are grouped as the review groups them (``core.grouping.car_and_angle``: ``<car>_<nn>``
names, else one car per folder). A photo alone in its group passes straight through. Held
photos keep their pixels while all held pixels stay under ``keep_bytes``; past that only their
mask is kept and the photo is decoded again when it is written. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

import numpy as np

from core.grouping import car_and_angle
from core.listing.framing import Box, GroupFrame, car_box, fit_group
from core.listing.presets import ListingSpec


class _Job(Protocol):
    source: Path
    output: Path
    root: Path | None


@dataclass
class Held:
    """A masked photo waiting for its car: ``item`` is the caller's, ``photo`` its decoded photo
    (set to None by the gate when it is not kept: decode it again), ``box`` None without a car."""

    item: Any
    photo: Any
    mask: np.ndarray
    box: Box | None
    kept: int = 0  # bytes of ``photo`` counted in the gate's ``held_bytes``


@dataclass
class ReadyGroup:
    """A car whose photos are all masked (or failed): write ``held`` with ``frame``."""

    held: list[Held]
    frame: GroupFrame | None


class FrameGate:
    """See the module docstring. ``spec`` must be framed (``spec.framed``)."""

    def __init__(self, jobs: Iterable[_Job], spec: ListingSpec, keep_bytes: int) -> None:
        self.spec, self.keep_bytes = spec, keep_bytes
        self.car_of: dict[Path, str] = {}
        members: dict[str, list[Path]] = defaultdict(list)
        for job in jobs:
            car = car_and_angle(job.source, job.root)[0]
            self.car_of[job.output] = car
            members[car].append(job.output)
        self.members = dict(members)
        self._waiting = {car: len(outputs) for car, outputs in members.items()}
        self._held: dict[str, list[Held]] = defaultdict(list)
        self.held_bytes = 0
        self._lock = threading.Lock()

    def grouped(self, job: _Job) -> bool:
        """True when ``job`` shares its frame with other photos (and so waits at the gate)."""
        return len(self.members.get(self.car_of.get(job.output, ""), ())) > 1

    def must_redo(self, job: _Job) -> bool:
        """With ``skip_existing``: a car is skipped only when all its outputs exist, since a
        part of it cannot be framed like the rest without the others."""
        return self.grouped(job) and not all(output.is_file() for output in self.members[self.car_of[job.output]])

    def hold(self, job: _Job, held: Held | None, nbytes: int = 0) -> ReadyGroup | None:
        """Note that ``job`` is masked (``held``, its photo ``nbytes``) or will not come (None:
        failed or skipped). Returns the car's ``ReadyGroup`` when this completes it."""
        car = self.car_of[job.output]
        with self._lock:
            if held is not None:
                if self.held_bytes + nbytes > self.keep_bytes:
                    held.photo = None
                else:
                    held.kept = nbytes
                    self.held_bytes += nbytes
                self._held[car].append(held)
            self._waiting[car] -= 1
            if self._waiting[car] > 0:
                return None
            group = self._held.pop(car, [])
        return ReadyGroup(group, self._frame(group))

    def release(self, held: Held) -> None:
        """``held`` was written: its photo is no longer held."""
        with self._lock:
            self.held_bytes -= held.kept
            held.kept = 0

    def _frame(self, group: list[Held]) -> GroupFrame | None:
        boxes = [held.box for held in group if held.box is not None]
        return fit_group(boxes, self.spec.width, self.spec.height, self.spec.margin) if boxes else None


def frames_by_car(entries: Iterable[tuple[Path, np.ndarray]], spec: ListingSpec) -> list[GroupFrame | None]:
    """The frame of each (photo path, alpha) shared with the other photos of its car (grouped
    as ``FrameGate`` groups them); None for all when ``spec`` is not framed or a car is empty."""
    entries = list(entries)
    if not spec.framed:
        return [None] * len(entries)
    cars = [car_and_angle(path)[0] for path, _ in entries]
    boxes: dict[str, list[Box]] = defaultdict(list)
    for car, (_, alpha) in zip(cars, entries):
        box = car_box(alpha)
        if box is not None:
            boxes[car].append(box)
    frames = {car: fit_group(found, spec.width, spec.height, spec.margin) for car, found in boxes.items()}
    return [frames.get(car) for car in cars]

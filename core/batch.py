"""The batch engine behind ``maskingnet predict`` and the app's "Process folder".

Reading, inference and writing overlap: a reader thread decodes and shrinks photos, the
caller's thread runs the model on batches, a writer thread upsamples, encodes and writes
atomically. ``run_batch`` is a generator of ``BatchResult``s (one per input, in completion
order) and honours ``should_stop`` between batches; a stopped or killed run leaves only
complete files, and a rerun with ``skip_existing`` does the rest.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from core.errors import MaskingNetError
from core.export import ExportOptions, export_photo
from core.imageio import Photo, iter_image_files, read_photo
from core.inference import Segmenter

_DONE = object()


@dataclass
class BatchJob:
    """One input photo and where its export goes."""

    source: Path
    output: Path


@dataclass
class BatchResult:
    """The outcome for one photo: ``status`` is 'done', 'skipped' or 'failed' (with ``error``)."""

    source: Path
    output: Path
    status: str
    error: str = ""
    uncertainty: float | None = None
    area: float | None = None  # share of the photo that is car
    seconds: float = 0.0


def plan_jobs(
    inputs: Iterable[str | Path], out_dir: str | Path, options: ExportOptions, *, recursive: bool = False
) -> list[BatchJob]:
    """One job per photo found; sub-folders are mirrored under ``out_dir``.

    Two inputs that would get the same output name (``car.jpg`` and ``car.png``) are told
    apart by keeping the original extension in the second name (``car.png.png``).
    """
    out_dir = Path(out_dir)
    jobs, taken = [], set()
    for source, root in iter_image_files(inputs, recursive=recursive):
        relative = source.parent.relative_to(root) if source.parent != root and root in source.parents else Path()
        output = out_dir / relative / f"{source.stem}{options.suffix}"
        if output in taken:
            output = out_dir / relative / f"{source.name}{options.suffix}"
        taken.add(output)
        jobs.append(BatchJob(source=source, output=output))
    return jobs


def run_batch(
    jobs: list[BatchJob],
    segmenter: Segmenter,
    options: ExportOptions = ExportOptions(),
    *,
    skip_existing: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[BatchResult]:
    """Mask and export every job; see the module docstring."""
    preprocess = segmenter.config.preprocess
    loaded: queue.Queue = queue.Queue(maxsize=2 * segmenter.batch_size + 2)
    to_write: queue.Queue = queue.Queue(maxsize=2 * segmenter.batch_size + 2)
    results: queue.Queue = queue.Queue()
    stop_event = threading.Event()

    def read_all() -> None:
        for job in jobs:
            if stop_event.is_set():
                break
            if skip_existing and job.output.is_file():
                results.put(BatchResult(job.source, job.output, "skipped"))
                continue
            tick = time.perf_counter()
            try:
                photo = read_photo(job.source)
                small = preprocess.resize(photo.rgb)
            except MaskingNetError as error:
                results.put(BatchResult(job.source, job.output, "failed", str(error)))
                continue
            except MemoryError:
                results.put(BatchResult(job.source, job.output, "failed", f"{job.source}: not enough memory"))
                continue
            loaded.put((job, photo, small, time.perf_counter() - tick))
        loaded.put(_DONE)

    def write_all() -> None:
        while (item := to_write.get()) is not _DONE:
            job, photo, probability, seconds = item
            results.put(_write_one(job, photo, probability, seconds, options))
        results.put(_DONE)

    reader = threading.Thread(target=read_all, name="batch-reader", daemon=True)
    writer = threading.Thread(target=write_all, name="batch-writer", daemon=True)
    reader.start()
    writer.start()
    try:
        finished = False
        while not finished:
            batch = [loaded.get()]
            while len(batch) < segmenter.batch_size and batch[-1] is not _DONE:
                try:
                    batch.append(loaded.get_nowait())
                except queue.Empty:
                    break
            finished = batch[-1] is _DONE
            work = [item for item in batch if item is not _DONE]
            if work and not stop_event.is_set():
                tick = time.perf_counter()
                probabilities = segmenter.probabilities(preprocess.to_tensor([item[2] for item in work]))
                share = (time.perf_counter() - tick) / len(work)
                for (job, photo, _, seconds), probability in zip(work, probabilities):
                    to_write.put((job, photo, probability, seconds + share))
            yield from _drain(results)
            if should_stop() and not stop_event.is_set():
                stop_event.set()
                _empty(loaded)
                finished = True
        to_write.put(_DONE)
        while (result := results.get()) is not _DONE:
            yield result
    finally:
        stop_event.set()
        _empty(loaded)
        reader.join(timeout=10)
        to_write.put(_DONE)
        writer.join(timeout=60)


def _write_one(job: BatchJob, photo: Photo, probability: np.ndarray, seconds: float, options: ExportOptions) -> BatchResult:
    tick = time.perf_counter()
    try:
        prediction = Segmenter.finish(probability, photo.rgb.shape[1], photo.rgb.shape[0], photo.alpha)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        export_photo(photo, prediction.mask, job.output, options)
    except (MaskingNetError, ValueError, OSError) as error:
        return BatchResult(job.source, job.output, "failed", str(error))
    return BatchResult(
        job.source, job.output, "done", uncertainty=prediction.uncertainty,
        area=float(np.mean(probability >= 0.5)), seconds=seconds + time.perf_counter() - tick,
    )


def _drain(results: queue.Queue) -> Iterator[BatchResult]:
    while True:
        try:
            item = results.get_nowait()
        except queue.Empty:
            return
        if item is _DONE:  # only the writer puts it, after the final flush; put it back
            results.put(item)
            return
        yield item


def _empty(q: queue.Queue) -> None:
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if item is _DONE:
            q.put(item)
            return

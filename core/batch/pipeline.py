"""The batch engine behind ``maskingnet predict`` and the app's "Process folder".

Reading, inference and writing overlap: reader threads decode and shrink photos, the
caller's thread runs the model on batches, writer threads upsample, encode and write each
export atomically (a complete file at its final name, or nothing). ``run_batch`` is a
generator of ``BatchResult`` (one per input, in completion order) that honours
``should_stop`` within a fraction of a second; a stopped or killed run leaves only complete
files, and a rerun with ``skip_existing`` does the rest.

With an output folder (``out_dir``) a run also holds a lock on it (one batch per folder),
removes the temporary files a killed run left, and keeps the review log (``core.batch.review``).
Photos with a saved correction (``corrections``) are exported with the user's mask instead of
the model's, so rerunning a batch never undoes a fix.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch

from core.batch.jobs import BatchJob, BatchResult, BatchStatus
from core.batch.review import REVIEW_LOG_NAME, ReviewLog, folder_lock
from core.errors import MaskingNetError, printable
from core.io.atomic import temp_stem, write_bytes_atomic
from core.io.imageio import LeftOut, Photo, encode_image, iter_image_files, read_photo, with_icc_profile
from core.io.records import one_line
from core.listing.framing import GroupFrame, car_box
from core.listing.group_gate import FrameGate, Held, ReadyGroup
from core.listing.render import render_listing
from core.masking.cleanup import clean_probability
from core.masking.close_up import CloseUp
from core.masking.doubt import pass_doubt
from core.masking.export import ExportOptions, alpha_from_mask, export_profile, render_export, soft_edge_alpha
from core.masking.frame_edge import EdgeLook
from core.masking.inference import Segmenter
from core.store.corrections import CorrectionStore, photo_key

# In a batch the PNG encoder, not the disk, competes with the model for the CPU. zlib level 1
# with the "up" filter encodes a 1918x1280 cut-out in about 45% of the CPU time of Pillow's
# level 1 with adaptive filters, at the same file size (measured on Carvana cut-outs).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP] if hasattr(cv2, "IMWRITE_PNG_FILTER_UP") else []
)
_POLL = 0.05  # seconds between checks of should_stop while waiting
# Decoded photos held at once between reading and writing, in bytes, beside the count limits of the
# queues: ordinary photos (7 MB at 1918x1280) never reach it, while 100-megapixel ones (300 MB
# each) go through a few at a time instead of twenty. A photo larger than this goes through alone.
MAX_BYTES_IN_FLIGHT = 1 << 30


def plan_jobs(
    inputs: Iterable[str | Path], out_dir: str | Path, options: ExportOptions, *, recursive: bool = False,
    left_out: list[LeftOut] | None = None,
) -> list[BatchJob]:
    """One job per photo found; sub-folders are mirrored under ``out_dir``.

    Photos inside ``out_dir`` (an output folder within the input folder) are left out. Two
    inputs that would get the same output name (``car.jpg`` and ``car.png``) are told apart
    by keeping the original extension in the second name (``car.png.png``). Raises
    ``MaskingNetError`` when ``out_dir`` is an input folder, an input folder cannot be read or
    an export would overwrite its own input photo. ``left_out`` receives what the folder scan
    left out and why (``core.io.imageio.iter_image_files``).
    """
    out_dir = Path(out_dir)
    out_real = Path(os.path.realpath(out_dir))
    inputs = list(inputs)
    for folder in inputs:
        if Path(folder).is_dir() and Path(os.path.realpath(folder)) == out_real:
            raise MaskingNetError(f"{folder}: the output folder must not be the input folder; choose another")
    jobs, taken = [], set()
    for source, root in iter_image_files(inputs, recursive=recursive, left_out=left_out):
        real = Path(os.path.realpath(source))
        if out_real in real.parents and out_real != Path(os.path.realpath(root)):
            continue  # an earlier export in an output folder inside the input folder
        relative = source.parent.relative_to(root) if source.parent != root and root in source.parents else Path()
        output = out_dir / relative / f"{source.stem}{options.suffix}"
        if output in taken:
            output = out_dir / relative / f"{source.name}{options.suffix}"
        if Path(os.path.realpath(output)) == real:
            raise MaskingNetError(f"{source}: the export would overwrite this photo; choose another output folder")
        taken.add(output)
        jobs.append(BatchJob(source=source, output=output, root=root))
    return jobs


def cpu_count() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_model_threads(cores: int | None = None) -> int:
    """Threads for CPU inference in a batch: all cores but one, which decodes and encodes."""
    cores = cores or cpu_count()
    return max(1, cores - 1)


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output folder's batch lock (``core.batch.review.folder_lock``); a second batch into
    the folder is refused with a one-line ``MaskingNetError``."""
    with folder_lock(out_dir) as held:
        if not held:
            raise MaskingNetError(f"{out_dir}: another batch is writing to this folder")
        yield


def remove_partial_files(jobs: Iterable[BatchJob], extra: Iterable[Path] = ()) -> int:
    """Delete the temporary files (``.<name>.XXXXXXXX.part``) that a killed run left beside
    the outputs of ``jobs`` (and beside the ``extra`` paths); returns how many went."""
    names: dict[Path, set[str]] = {}
    for path in [job.output for job in jobs] + list(extra):
        names.setdefault(path.parent, set()).add(temp_stem(path.name))
    removed = 0
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(".part"):
                base = entry.name[1:-5].rsplit(".", 1)[0]
                if base in wanted:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
    return removed


def run_batch(
    jobs: list[BatchJob],
    segmenter: Segmenter,
    options: ExportOptions = ExportOptions(),
    *,
    skip_existing: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    out_dir: str | Path | None = None,
    review: ReviewLog | None = None,
    corrections: CorrectionStore | None = None,
    mirror: bool | None = None,
    close_up: bool | None = None,
    frame_edge: bool | None = None,
    threads: int | None = None,
    max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT,
) -> Iterator[BatchResult]:
    """Mask and export every job; see the module docstring.

    ``skip_existing`` leaves photos whose output exists (unless their correction is newer).
    ``mirror`` also runs the model on the mirrored photos: the mask comes from the average of
    both (twice the model time, a better mask) and each result gets a ``mirror`` disagreement
    score. None (the default) follows ``segmenter.flip_tta``. ``close_up`` masks small cars a second
    time from a crop (``core.masking.close_up``); None follows ``segmenter.close_up``. ``frame_edge``
    masks a car cut by the frame a second time from the photo reflected outward
    (``core.masking.frame_edge``); None follows ``segmenter.frame_edge``.
    ``threads``: CPU threads for the model (default: all cores but one; restored afterwards).
    ``max_bytes_in_flight`` bounds the decoded photos held between reading and writing.
    """
    out_path = Path(out_dir) if out_dir is not None else None
    if review is None and out_path is not None:
        review = ReviewLog(out_path)
    lock = output_lock(out_path) if out_path is not None else contextlib.nullcontext()
    with lock, _thread_settings(segmenter, threads):
        if out_path is not None:
            remove_partial_files(jobs, [out_path / REVIEW_LOG_NAME])
        if review is not None:
            review.record_options(options)
        if mirror is None:
            mirror = segmenter.flip_tta
        if close_up is None:
            close_up = segmenter.close_up
        if frame_edge is None:
            frame_edge = segmenter.frame_edge
        pipeline = _Pipeline(jobs, segmenter, options, skip_existing, review, corrections, mirror,
                             max_bytes_in_flight, close_up=close_up, frame_edge=frame_edge)
        yield from pipeline.run(should_stop)


@contextlib.contextmanager
def _thread_settings(segmenter: Segmenter, threads: int | None) -> Iterator[None]:
    """Model threads as asked (CPU only), OpenCV single-threaded in the pipeline's threads."""
    torch_threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    if segmenter.device.type == "cpu":
        torch.set_num_threads(threads or default_model_threads())
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv_threads)


class _Crash:
    """An unexpected error in a pipeline thread, re-raised in the caller's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_READER_DONE, _WRITER_DONE = object(), object()


@dataclass
class _Loaded:
    job: BatchJob
    photo: Photo
    small: np.ndarray | None  # working-size photo for the model, None when ``mask`` is given
    mask: np.ndarray | None = None  # the user's corrected alpha (uint8, exact)
    seconds: float = 0.0
    probability: np.ndarray | None = None  # the model's working-size car probabilities
    cleaned: np.ndarray | None = None  # the same after ``clean_probability``, when the closer look made it
    mirror: float | None = None
    close_up: CloseUp | None = None  # the second pass on a crop around a small car
    edge: EdgeLook | None = None  # the second pass on the photo reflected outward, for a car cut by the frame
    uncertainty: float | None = None  # of the finished mask, for a photo held at the listing gate
    area: float | None = None

    @property
    def nbytes(self) -> int:
        """The decoded arrays this item holds (what the byte budget counts)."""
        return self.nbytes_of(self.photo) + (self.mask.nbytes if self.mask is not None else 0)

    @staticmethod
    def nbytes_of(photo: Photo | None) -> int:
        arrays = (photo.rgb, photo.alpha) if photo is not None else ()
        return sum(array.nbytes for array in arrays if array is not None)


class _ByteBudget:
    """Bytes of decoded photos in flight. ``take`` waits while taking would pass ``limit``, except
    when nothing is held: one photo always goes through, however large."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.peak = limit, 0, 0
        self._changed = threading.Condition()

    def take(self, nbytes: int, stopped: Callable[[], bool]) -> bool:
        """Wait for room for ``nbytes``; False once ``stopped()`` (nothing taken)."""
        with self._changed:
            while self.used and self.used + nbytes > self.limit:
                if stopped():
                    return False
                self._changed.wait(timeout=_POLL)
            self.used += nbytes
            self.peak = max(self.peak, self.used)
            return True

    def give_back(self, nbytes: int) -> None:
        with self._changed:
            self.used -= nbytes
            self._changed.notify_all()


class _Pipeline:
    def __init__(
        self, jobs: list[BatchJob], segmenter: Segmenter, options: ExportOptions, skip_existing: bool,
        review: ReviewLog | None, corrections: CorrectionStore | None, mirror: bool,
        max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT, *, close_up: bool = False, frame_edge: bool = False,
    ) -> None:
        self.segmenter, self.options, self.skip_existing = segmenter, options, skip_existing
        self.review, self.corrections, self.mirror, self.close_up = review, corrections, mirror, close_up
        self.frame_edge = frame_edge
        self.preprocess = segmenter.config.preprocess
        self.known = set(review.items()) if review is not None else set()
        self.corrected_keys = _correction_keys(corrections)
        cores = cpu_count()
        on_cpu = segmenter.device.type == "cpu"
        spare = cores - (default_model_threads(cores) if on_cpu else 1)
        self.n_readers = 1 if spare <= 3 else 2
        # Two writers at least: one encodes while the other waits for its file to reach the disk.
        self.n_writers = max(2, min(4, spare - self.n_readers))
        # Enough decoded photos for the next batch while the model runs this one, and no more:
        # each holds a full-resolution photo (7 MB at 1918x1280).
        self.todo: queue.Queue = queue.Queue()
        for job in jobs:
            self.todo.put(job)
        self.loaded: queue.Queue = queue.Queue(maxsize=2 * segmenter.batch_size)
        self.to_write: queue.Queue = queue.Queue(maxsize=segmenter.batch_size + self.n_writers)
        self.results: queue.Queue = queue.Queue()
        self.budget = _ByteBudget(max_bytes_in_flight)
        self.stop = threading.Event()
        listing = options.listing
        # every angle of a car shares one frame: its photos wait at the gate until all are masked
        self.gate = (FrameGate(jobs, listing, max_bytes_in_flight // 2)
                     if listing is not None and listing.framed else None)

    def run(self, should_stop: Callable[[], bool]) -> Iterator[BatchResult]:
        threads = [threading.Thread(target=self._guard, args=(self._read_all, _READER_DONE), name=f"batch-reader-{i}",
                                    daemon=True) for i in range(self.n_readers)]
        threads += [threading.Thread(target=self._guard, args=(self._write_all, _WRITER_DONE), name=f"batch-writer-{i}",
                                     daemon=True) for i in range(self.n_writers)]
        for thread in threads:
            thread.start()

        def stopping() -> bool:
            if not self.stop.is_set() and should_stop():
                self.stop.set()
            return self.stop.is_set()

        try:
            readers_left = self.n_readers
            while readers_left and not stopping():
                batch: list[_Loaded] = []
                try:
                    item = self.loaded.get(timeout=_POLL)
                except queue.Empty:
                    yield from self._drain()
                    continue
                while True:
                    if item is _READER_DONE:
                        readers_left -= 1
                    else:
                        batch.append(item)
                    if len(batch) >= self.segmenter.batch_size:
                        break
                    try:
                        item = self.loaded.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._infer(batch)
                    for loaded in batch:
                        if not _put(self.to_write, loaded, stopping):
                            break
                yield from self._drain()
            for _ in range(self.n_writers):
                _put(self.to_write, _WRITER_DONE, stopping)
            writers_left = self.n_writers
            while writers_left:
                stopping()
                try:
                    item = self.results.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if item is _WRITER_DONE:
                    writers_left -= 1
                elif item is not _READER_DONE:
                    yield self._checked(item)
            yield from self._drain()
        finally:
            self.stop.set()
            # Writers finish the file they are on (atomic either way) before the caller goes on;
            # a reader still decoding a photo drops it and ends on its own.
            for thread in threads:
                thread.join(timeout=60 if thread.name.startswith("batch-writer") else 0.5)

    def _drain(self) -> Iterator[BatchResult]:
        while True:
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                return
            if item is _WRITER_DONE or item is _READER_DONE:  # counted by run(); put it back
                self.results.put(item)
                return
            yield self._checked(item)

    @staticmethod
    def _checked(item: BatchResult | _Crash) -> BatchResult:
        if isinstance(item, _Crash):
            raise item.error
        return item

    def _guard(self, work: Callable[[], None], done: object) -> None:
        """Run a thread's loop; an unexpected error stops the batch and reaches the caller."""
        try:
            work()
        except Exception as error:  # noqa: BLE001 - handed to the caller's thread, which raises it
            self.results.put(_Crash(error))
            self.stop.set()
        finally:
            if done is _READER_DONE:
                _put(self.loaded, _READER_DONE, self.stop.is_set)
            else:
                self.results.put(_WRITER_DONE)

    def _read_all(self) -> None:
        while not self.stop.is_set():
            try:
                job = self.todo.get_nowait()
            except queue.Empty:
                return
            item = self._read_one(job)
            if self.stop.is_set():
                return
            if isinstance(item, BatchResult):
                unknown = self.review is not None and self.review.key(job.output) not in self.known
                if item.status is BatchStatus.SKIPPED and unknown:
                    self.review.record_known(item, job)
                self.results.put(item)
                ready = self.gate.hold(job, None) if self.gate is not None else None
                if ready is not None:
                    _put(self.to_write, ready, self.stop.is_set)
            elif not self.budget.take(item.nbytes, self.stop.is_set):
                return
            elif item.mask is not None:
                _put(self.to_write, item, self.stop.is_set)
            else:
                _put(self.loaded, item, self.stop.is_set)

    def _read_one(self, job: BatchJob) -> _Loaded | BatchResult:
        tick = time.perf_counter()
        try:
            key = photo_key(job.source) if self.corrected_keys else None
            correction = self.corrections.get(key) if key in self.corrected_keys else None
            if self.skip_existing and job.output.is_file() and not (self.gate and self.gate.must_redo(job)):
                if correction is None or correction.updated <= job.output.stat().st_mtime:
                    return BatchResult(job.source, job.output, BatchStatus.SKIPPED)
            photo = read_photo(job.source)
            mask = self.corrections.load_alpha(job.source, key=key) if correction is not None else None
            if mask is not None and mask.shape != photo.rgb.shape[:2]:
                mask = None  # a correction of another version of the photo: predict afresh
            small = self.preprocess.resize(photo.rgb) if mask is None else None
        except MaskingNetError as error:
            return BatchResult(job.source, job.output, BatchStatus.FAILED, str(error))
        except OSError as error:
            return BatchResult(job.source, job.output, BatchStatus.FAILED,
                               f"{printable(job.source)}: cannot read ({error.strerror or error})")
        except MemoryError:
            return BatchResult(job.source, job.output, BatchStatus.FAILED, f"{printable(job.source)}: not enough memory")
        except Exception as error:  # noqa: BLE001 - one photo's surprise must not stop the batch
            return BatchResult(job.source, job.output, BatchStatus.FAILED, f"{printable(job.source)}: {one_line(error)}")
        return _Loaded(job, photo, small, mask, time.perf_counter() - tick)

    def _infer(self, batch: list[_Loaded]) -> None:
        tick = time.perf_counter()
        tensor = self.preprocess.to_tensor([item.small for item in batch])
        probabilities, disagreement = self.segmenter.probabilities_and_disagreement(tensor, mirror=self.mirror)
        if disagreement is None:
            disagreement = [None] * len(batch)
        # only the second looks need the clean-up here; without them, the writers clean (in parallel)
        second_looks = self.close_up or self.frame_edge
        cleaned = [clean_probability(probability) if second_looks else None for probability in probabilities]
        rgbs = [item.photo.rgb for item in batch]
        looks = (self.segmenter.look_closer(rgbs, cleaned, mirror=self.mirror)
                 if self.close_up else [None] * len(batch))
        edges = (self.segmenter.look_past_edge(
                     rgbs, cleaned, [pass_doubt(p, m) for p, m in zip(probabilities, disagreement)], mirror=self.mirror)
                 if self.frame_edge else [None] * len(batch))
        share = (time.perf_counter() - tick) / len(batch)
        for item, probability, clean, score, look, edge in zip(batch, probabilities, cleaned, disagreement, looks,
                                                              edges):
            item.probability = probability
            item.cleaned = clean
            item.close_up = look
            item.edge = edge
            item.mirror = None if score is None else float(score)
            item.seconds += share
            item.small = None

    def _write_all(self) -> None:
        while True:
            try:
                item = self.to_write.get(timeout=_POLL)
            except queue.Empty:
                if self.stop.is_set():
                    return
                continue
            if item is _WRITER_DONE or self.stop.is_set():
                return
            if isinstance(item, ReadyGroup):
                written = self._write_group(item)
            else:
                nbytes = item.nbytes
                try:
                    written = self._write_item(item)
                finally:
                    self.budget.give_back(nbytes)
            for result, job in written:
                if result.status is BatchStatus.DONE and self.review is not None:
                    self.review.record_result(result, job)
                self.results.put(result)

    def _write_item(self, item: _Loaded) -> list[tuple[BatchResult, BatchJob]]:
        """Write one photo, or hold it at the gate until every angle of its car is masked."""
        if self.gate is None or not self.gate.grouped(item.job):
            return [(_write_one(item, self.options), item.job)]
        tick = time.perf_counter()
        try:
            mask, item.uncertainty, item.area = _finished_mask(item)
        except (MaskingNetError, ValueError, MemoryError) as error:
            failed = BatchResult(item.job.source, item.job.output, BatchStatus.FAILED, f"{item.job.source}: {error}")
            ready = self.gate.hold(item.job, None)
            return [(failed, item.job)] + (self._write_group(ready) if ready else [])
        item.seconds += time.perf_counter() - tick
        photo, item.photo = item.photo, None  # the gate decides whether the photo stays decoded
        ready = self.gate.hold(item.job, Held(item, photo, mask, car_box(mask)), item.nbytes_of(photo))
        return self._write_group(ready) if ready is not None else []

    def _write_group(self, ready: ReadyGroup) -> list[tuple[BatchResult, BatchJob]]:
        written = []
        for held in ready.held:
            written.append((_write_one(held.item, self.options, ready.frame, held), held.item.job))
            self.gate.release(held)
        return written


def _finished_mask(item: _Loaded) -> tuple[np.ndarray, float, float]:
    """The full-size uint8 alpha of a loaded photo: the user's (kept exactly), or the model's with an
    anti-aliased outline; its uncertainty and car share."""
    if item.mask is not None:
        return item.mask, 0.0, float(np.mean(item.mask >= 128))
    photo = item.photo
    prediction = Segmenter.finish(item.probability, photo.rgb.shape[1], photo.rgb.shape[0], photo.alpha,
                                  close_up=item.close_up, cleaned=item.cleaned, edge=item.edge)
    return (soft_edge_alpha(prediction.probability, out=prediction.probability), prediction.uncertainty,
            prediction.area)


def _write_one(item: _Loaded, options: ExportOptions, frame: GroupFrame | None = None,
               held: Held | None = None) -> BatchResult:
    """Export one photo; a ``held`` one (from the gate) comes with its mask and its car's ``frame``."""
    job = item.job
    tick = time.perf_counter()
    try:
        if held is not None:
            photo = held.photo or read_photo(job.source)
            mask, uncertainty, area = held.mask, item.uncertainty, item.area
        else:
            photo = item.photo
            mask, uncertainty, area = _finished_mask(item)
        data = encode_export(photo, mask, options, frame)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(job.output, data)
    except (MaskingNetError, ValueError) as error:
        return BatchResult(job.source, job.output, BatchStatus.FAILED, str(error))
    except OSError as error:
        return BatchResult(job.source, job.output, BatchStatus.FAILED,
                           f"{printable(job.output)}: cannot write ({error.strerror or error})")
    except MemoryError:
        return BatchResult(job.source, job.output, BatchStatus.FAILED, f"{printable(job.source)}: not enough memory")
    return BatchResult(
        job.source, job.output, BatchStatus.DONE, uncertainty=uncertainty, area=area, mirror=item.mirror,
        corrected=item.mask is not None, seconds=item.seconds + time.perf_counter() - tick,
        box=astuple(held.box) if held is not None and held.box is not None else None,
    )


def encode_export(photo: Photo, mask: np.ndarray, options: ExportOptions, frame: GroupFrame | None = None) -> bytes:
    """The file bytes of ``photo``'s export: the pixels of ``core.masking.export.render_export``,
    made and encoded with less CPU (PNG through OpenCV with ``PNG_PARAMS``; hard-edged
    composites by copying pixels instead of blending in floating point). A listing photo is
    framed with ``frame`` (its car's, shared by all its angles) when given."""
    if options.listing is not None:
        array = render_listing(photo.rgb, alpha_from_mask(mask, options.feather, photo.alpha), options.listing, frame,
                               format=options.format, fallback=options.background)
        if options.format == "png":
            code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
            return with_icc_profile(_encode_png(cv2.cvtColor(array, code)), photo.icc_profile)
        return encode_image(array, "JPEG" if options.format == "jpeg" else "WEBP", quality=options.quality,
                            icc_profile=photo.icc_profile)
    if options.format == "png":
        bgra = cv2.cvtColor(photo.rgb, cv2.COLOR_RGB2BGRA)
        bgra[..., 3] = alpha_from_mask(mask, options.feather, photo.alpha)
        return with_icc_profile(_encode_png(bgra), photo.icc_profile)
    if options.format == "mask":
        return _encode_png(render_export(photo, mask, options))
    if mask.shape != photo.rgb.shape[:2]:
        raise ValueError(f"mask {mask.shape[::-1]} and photo {photo.rgb.shape[1::-1]} differ in size")
    if options.feather == 0 and photo.alpha is None:  # blend only the pixels of the soft outline
        array = np.empty_like(photo.rgb)
        array[:] = options.background
        solid = mask if mask.dtype == np.bool_ else mask == 255
        cv2.copyTo(photo.rgb, solid.view(np.uint8), array)
        if mask.dtype == np.uint8:
            rows, cols = np.nonzero((mask > 0) & (mask < 255))
            weight = mask[rows, cols, None].astype(np.uint16)
            blended = (photo.rgb[rows, cols] * weight + np.array(options.background, np.uint16) * (255 - weight) + 127) // 255
            array[rows, cols] = blended
    else:
        array = render_export(photo, mask, options)
    return encode_image(array, "JPEG" if options.format == "jpeg" else "WEBP", quality=options.quality,
                        icc_profile=export_profile(photo, options))


def _encode_png(array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", array, PNG_PARAMS)
    if not ok:
        raise ValueError("the PNG encoder failed")
    return encoded.tobytes()


def _put(target: queue.Queue, item: object, stopped: Callable[[], bool]) -> bool:
    """Put ``item``, waiting for room; gives up (False) once ``stopped()``."""
    while True:
        try:
            target.put(item, timeout=_POLL)
            return True
        except queue.Full:
            if stopped():
                return False


def _correction_keys(store: CorrectionStore | None) -> set[str]:
    """Keys of the photos that have a saved correction (empty: no photo needs hashing)."""
    return store.keys() if store is not None else set()

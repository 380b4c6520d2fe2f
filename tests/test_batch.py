"""The batch engine: planning, formats, cancel and resume, corrections, crash safety, progress."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from core.batch import pipeline as batch_module
from core.batch.pipeline import (
    output_lock,
    plan_jobs,
    remove_partial_files,
    run_batch,
)
from core.batch.progress import BatchProgress
from core.batch.review import FIXED, ReviewLog
from core.errors import MaskingNetError
from core.io.imageio import Photo, read_photo
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter
from core.store.corrections import CorrectionStore
from core.text import format_duration


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint) -> Segmenter:
    return Segmenter.load(tiny_checkpoint, device="cpu")


def _photo(path, size=(96, 64), seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _folder(root, count=10, sub=None):
    for i in range(count):
        _photo(root / (sub or "") / f"car_{i:02d}.jpg", seed=i)
    return root


def _outputs(out):
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_plan_mirrors_sub_folders_only_when_recursive(tmp_path):
    src = tmp_path / "in"
    _photo(src / "a.jpg")
    _photo(src / "shoot1" / "b.jpg")
    _photo(src / "shoot1" / "inner" / "c.png")
    flat = plan_jobs([src], tmp_path / "out", ExportOptions())
    assert [job.output.relative_to(tmp_path / "out").as_posix() for job in flat] == ["a.png"]
    deep = plan_jobs([src], tmp_path / "out", ExportOptions(format="jpeg"), recursive=True)
    assert sorted(job.output.relative_to(tmp_path / "out").as_posix() for job in deep) == [
        "a.jpg", "shoot1/b.jpg", "shoot1/inner/c.jpg"]
    assert all(job.root == src for job in deep)


def test_plan_keeps_same_named_photos_apart_and_ignores_its_own_outputs(tmp_path):
    src = tmp_path / "in"
    _photo(src / "car.jpg")
    _photo(src / "car.png", seed=1)
    _photo(src / "cutouts" / "old.png")  # an earlier export inside the input folder
    jobs = plan_jobs([src], src / "cutouts", ExportOptions(), recursive=True)
    assert sorted(job.output.name for job in jobs) == ["car.png", "car.png.png"]
    with pytest.raises(MaskingNetError, match="must not be the input folder"):
        plan_jobs([src], src, ExportOptions())
    with pytest.raises(MaskingNetError, match="overwrite this photo"):
        plan_jobs([src / "car.png"], src, ExportOptions())


@pytest.mark.parametrize("fmt", ["png", "mask", "jpeg", "webp"])
def test_real_photos_end_to_end_in_every_format(fmt, few_cars, tiny, tmp_path):
    out = tmp_path / "out"
    options = ExportOptions(format=fmt)
    jobs = plan_jobs([few_cars / "images"], out, options)
    results = list(run_batch(jobs, tiny, options, out_dir=out))
    assert len(results) == 8 and {r.status for r in results} == {"done"}
    assert all(0.0 <= r.uncertainty <= 1.0 and 0.0 <= r.area <= 1.0 for r in results)
    for job in jobs:
        with Image.open(job.output) as image:
            image.load()
            assert image.size == (512, 512)
            assert image.mode == {"png": "RGBA", "mask": "L", "jpeg": "RGB", "webp": "RGB"}[fmt]
    items = ReviewLog(out).items()
    assert sorted(items) == sorted(job.output.name for job in jobs)
    assert {item.car for item in items.values()} == {job.source.stem[:12] for job in jobs}
    assert not list(out.glob(".*.part"))


def test_cancel_in_the_middle_then_resume_does_the_rest(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 16), tmp_path / "out"
    jobs = plan_jobs([src], out, ExportOptions())
    tiny.batch_size = 2
    seen = []
    for result in run_batch(jobs, tiny, out_dir=out, should_stop=lambda: len(seen) >= 3):
        seen.append(result)
    assert 3 <= len(seen) < 16
    first = {p: p.stat().st_mtime_ns for p in _outputs(out)}
    assert len(first) == len([r for r in seen if r.status == "done"]) < 16
    for path in first:  # every output that exists is complete
        with Image.open(path) as image:
            image.load()
    resumed = list(run_batch(jobs, tiny, out_dir=out, skip_existing=True))
    assert sum(r.status == "skipped" for r in resumed) == len(first)
    assert sum(r.status == "done" for r in resumed) == 16 - len(first)
    assert len(_outputs(out)) == 16
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in first.items())
    tiny.batch_size = 4


def test_stop_request_is_honoured_while_waiting_for_slow_reads(tmp_path, tiny, monkeypatch):
    src, out = _folder(tmp_path / "in", 6), tmp_path / "out"
    release = threading.Event()
    real_read = batch_module.read_photo

    def slow_read(path):
        release.wait(5)
        return real_read(path)

    monkeypatch.setattr(batch_module, "read_photo", slow_read)
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    results = list(run_batch(plan_jobs([src], out, ExportOptions()), tiny, out_dir=out, should_stop=stop.is_set))
    release.set()
    timer.join()
    assert len(results) <= 1  # the reader finished at most the photo it was on; nothing else ran


def test_a_corrupt_photo_fails_alone_with_a_one_line_error(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 3), tmp_path / "out"
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    results = {r.source.name: r for r in run_batch(plan_jobs([src], out, ExportOptions()), tiny, out_dir=out)}
    assert results["broken.jpg"].status == "failed"
    assert "broken.jpg" in results["broken.jpg"].error and "\n" not in results["broken.jpg"].error
    assert [r.status for name, r in sorted(results.items()) if name != "broken.jpg"] == ["done"] * 3
    assert not (out / "broken.png").exists()


def test_an_unexpected_error_in_a_writer_reaches_the_caller(tmp_path, tiny, monkeypatch):
    src, out = _folder(tmp_path / "in", 5), tmp_path / "out"

    def explode(*args, **kwargs):
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(batch_module, "encode_export", explode)
    with pytest.raises(RuntimeError, match="encoder bug"):
        list(run_batch(plan_jobs([src], out, ExportOptions()), tiny, out_dir=out))
    assert not _outputs(out)
    assert not list(out.glob(".*.part"))


@pytest.mark.parametrize("limit, most_at_once", [(1, 1), (3 * 96 * 64 * 3, 3)])
def test_decoded_photos_in_flight_stay_within_the_byte_budget(tmp_path, tiny, monkeypatch, limit, most_at_once):
    budgets = []
    original = batch_module._ByteBudget

    def recorded(limit):
        budgets.append(original(limit))
        return budgets[-1]

    monkeypatch.setattr(batch_module, "_ByteBudget", recorded)
    src, out = _folder(tmp_path / "in", 12), tmp_path / "out"  # 12 photos of 96x64: 18 kB each
    results = list(run_batch(plan_jobs([src], out, ExportOptions()), tiny, max_bytes_in_flight=limit))
    assert len(results) == 12 and {r.status for r in results} == {"done"}
    [budget] = budgets
    assert budget.used == 0  # every photo given back
    assert 96 * 64 * 3 <= budget.peak <= most_at_once * 96 * 64 * 3  # a photo over the budget still goes, alone


def test_a_stop_while_a_reader_waits_for_the_byte_budget_ends_the_batch(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 8), tmp_path / "out"
    seen = []
    for result in run_batch(plan_jobs([src], out, ExportOptions()), tiny, should_stop=lambda: len(seen) >= 2,
                            max_bytes_in_flight=1):
        seen.append(result)
    assert 2 <= len(seen) < 8 and {r.status for r in seen} == {"done"}


def test_transparent_photos_stay_transparent(tmp_path, tiny):
    src, out = tmp_path / "in", tmp_path / "out"
    path = _photo(src / "cut.png", mode="RGBA")
    with Image.open(path) as image:
        alpha_in = np.asarray(image)[..., 3]
    [result] = run_batch(plan_jobs([src], out, ExportOptions()), tiny)
    with Image.open(result.output) as image:
        alpha_out = np.asarray(image)[..., 3]
    assert np.all(alpha_out <= alpha_in)


def test_saved_corrections_are_exported_and_never_undone(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 3), tmp_path / "out"
    options = ExportOptions(format="mask")
    jobs = plan_jobs([src], out, options)
    list(run_batch(jobs, tiny, options, out_dir=out))
    store = CorrectionStore()
    fixed = np.zeros((64, 96), dtype=bool)
    fixed[10:50, 20:70] = True
    store.save(jobs[1].source, fixed)
    results = {r.source.name: r for r in run_batch(jobs, tiny, options, out_dir=out, skip_existing=True,
                                                   corrections=store)}
    assert results[jobs[1].source.name].status == "done" and results[jobs[1].source.name].corrected
    assert [results[j.source.name].status for j in (jobs[0], jobs[2])] == ["skipped", "skipped"]
    assert np.array_equal(np.asarray(Image.open(jobs[1].output)) > 127, fixed)
    # a full redo still uses the correction, and the review knows it is fixed
    list(run_batch(jobs, tiny, options, out_dir=out, corrections=store))
    assert np.array_equal(np.asarray(Image.open(jobs[1].output)) > 127, fixed)
    item = ReviewLog(out).items()[jobs[1].output.name]
    assert item.corrected and item.mark == FIXED


def test_mirror_check_scores_every_photo(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 3), tmp_path / "out"
    results = list(run_batch(plan_jobs([src], out, ExportOptions()), tiny, out_dir=out, mirror=True))
    assert all(r.status == "done" and 0.0 <= r.mirror <= 1.0 for r in results)
    assert all(item.mirror is not None for item in ReviewLog(out).items().values())


@pytest.mark.parametrize("flip_tta", [True, False])
def test_the_batch_mirrors_as_the_segmenter_does_and_masks_as_it_does(tmp_path, tiny_checkpoint, flip_tta):
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu", flip_tta=flip_tta)
    src, out = _folder(tmp_path / "in", 2), tmp_path / "out"
    jobs = plan_jobs([src], out, ExportOptions(format="mask"))
    results = list(run_batch(jobs, segmenter, ExportOptions(format="mask"), out_dir=out))
    assert all((r.mirror is not None) == flip_tta for r in results)
    for job in jobs:
        expected = segmenter.predict(read_photo(job.source).rgb).mask
        assert np.array_equal(np.asarray(Image.open(job.output)) > 127, expected)
    turned_off = list(run_batch(jobs, segmenter, ExportOptions(format="mask"), out_dir=out, mirror=False))
    assert all(r.mirror is None for r in turned_off)


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    jobs = plan_jobs([_photo(tmp_path / "in" / "a.jpg")], out, ExportOptions())
    (out / ".a.png.k2j3h4g5.part").write_bytes(b"half")
    (out / ".other.png.abcdefgh.part").write_bytes(b"not ours")
    (out / ".keep").write_bytes(b"x")
    assert remove_partial_files(jobs) == 1
    assert sorted(p.name for p in out.iterdir()) == [".keep", ".other.png.abcdefgh.part"]


def test_one_batch_at_a_time_per_output_folder(tmp_path):
    with output_lock(tmp_path):
        with pytest.raises(MaskingNetError, match="another batch"):
            with output_lock(tmp_path):
                pass
    with output_lock(tmp_path):  # released
        pass


def test_thread_settings_are_restored(tmp_path, tiny):
    before = torch.get_num_threads()
    list(run_batch(plan_jobs([_folder(tmp_path / "in", 2)], tmp_path / "out", ExportOptions()), tiny, threads=1))
    assert torch.get_num_threads() == before


def test_outputs_match_single_photo_inference(tmp_path, tiny):
    src, out = _folder(tmp_path / "in", 2), tmp_path / "out"
    options = ExportOptions(format="mask")
    for result in run_batch(plan_jobs([src], out, options), tiny, options):
        expected = tiny.predict(read_photo(result.source).rgb).mask
        assert np.mean((np.asarray(Image.open(result.output)) > 127) != expected) < 0.001


def test_progress_counts_rate_and_time_left():
    now = [0.0]
    progress = BatchProgress(10, clock=lambda: now[0])
    from core.batch.pipeline import BatchResult

    progress.add(BatchResult(source=None, output=None, status="skipped"))
    assert progress.rate == 0.0 and progress.seconds_left is None
    for _ in range(5):
        now[0] += 0.5
        progress.add(BatchResult(source=None, output=None, status="done"))
    assert progress.finished == 6
    assert progress.rate == pytest.approx(2.0)
    assert progress.seconds_left == pytest.approx(2.0)
    assert progress.describe() == "6/10 · 2.0 photos/s · 0:02 left"
    assert format_duration(3723) == "1:02:03" and format_duration(7) == "0:07"


@pytest.mark.parametrize("feather", [0.0, 3.0])
@pytest.mark.parametrize("transparent", [False, True])
@pytest.mark.parametrize("fmt", ["png", "mask", "jpeg", "webp"])
def test_fast_encoding_gives_the_pixels_of_render_export(fmt, transparent, feather, tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (40, 60), dtype=np.uint8) if transparent else None
    photo = Photo(tmp_path / "p.png", rgb, alpha)
    mask = rng.random((40, 60)) > 0.4
    options = ExportOptions(format=fmt, feather=feather, background=(10, 200, 30))
    captured = {}
    real_encode = batch_module.encode_image

    def capture(array, *args, **kwargs):
        captured["array"] = array
        return real_encode(array, *args, **kwargs)

    monkeypatch.setattr(batch_module, "encode_image", capture)
    data = batch_module.encode_export(photo, mask, options)
    expected = batch_module.render_export(photo, mask, options)
    if fmt in ("png", "mask"):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), expected)
    else:
        assert np.array_equal(captured["array"], expected)

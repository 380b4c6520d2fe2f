"""Listing photos in the batch and on the command line: one frame per car, resumable."""

from __future__ import annotations

import numpy as np
import pytest
from listing_scene import car_alpha, composite
from PIL import Image

from core.batch.pipeline import plan_jobs, run_batch
from core.cli import main
from core.listing.framing import car_box
from core.listing.presets import ListingSpec
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter
from core.store.corrections import CorrectionStore

SPEC = ListingSpec(320, 240, 0.1, "#ffffff", shadow=False)


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint) -> Segmenter:
    return Segmenter.load(tiny_checkpoint, device="cpu")


def _angles(folder, scales=(1.0, 0.7, 0.5)):
    """One car photographed at several distances (``car_01``...), its exact masks saved as
    corrections so the batch uses them."""
    folder.mkdir(parents=True, exist_ok=True)
    store = CorrectionStore()
    for n, scale in enumerate(scales, start=1):
        alpha = car_alpha(scale=scale, left=0.1 + 0.05 * n)
        path = folder / f"car_{n:02d}.png"
        Image.fromarray(composite(alpha, (40, 160, 60))).save(path)
        store.save(path, alpha >= 128)
    return store


def _car_widths(paths):
    widths = []
    for path in paths:
        pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
        not_white = (np.abs(pixels - 255).sum(axis=2) > 60).astype(np.uint8) * 255
        widths.append(car_box(not_white).width)
    return widths


def _listing_batch(tmp_path, tiny):
    """A car's three angles made into listing photos: (corrections, output folder, options, jobs)."""
    store = _angles(tmp_path / "in")
    out = tmp_path / "out"
    options = ExportOptions(format="jpeg", listing=SPEC)
    jobs = plan_jobs([tmp_path / "in"], out, options)
    list(run_batch(jobs, tiny, options, out_dir=out, corrections=store))
    return store, out, options, jobs


@pytest.mark.parametrize("keep_bytes", [1 << 30, 0])  # held photos kept decoded, or decoded again
def test_a_batch_frames_every_angle_of_a_car_at_one_scale(tmp_path, tiny, keep_bytes):
    store = _angles(tmp_path / "in")
    out = tmp_path / "out"
    options = ExportOptions(format="jpeg", listing=SPEC)
    jobs = plan_jobs([tmp_path / "in"], out, options)
    results = list(run_batch(jobs, tiny, options, out_dir=out, corrections=store, max_bytes_in_flight=2 * keep_bytes))
    assert [r.status for r in results] == ["done"] * 3 and all(r.corrected for r in results)
    outputs = [job.output for job in jobs]
    assert all(Image.open(p).size == (320, 240) for p in outputs)
    widths = _car_widths(outputs)
    assert widths[0] == pytest.approx(256, abs=3)  # the largest fills the width inside the margins
    assert widths[1] / widths[0] == pytest.approx(0.7, abs=0.03)
    assert widths[2] / widths[0] == pytest.approx(0.5, abs=0.03)


def test_a_resumed_batch_redoes_a_car_that_was_left_half_done(tmp_path, tiny):
    store, out, options, jobs = _listing_batch(tmp_path, tiny)
    jobs[2].output.unlink()
    results = list(run_batch(jobs, tiny, options, out_dir=out, corrections=store, skip_existing=True))
    assert sorted(r.status for r in results) == ["done"] * 3
    assert _car_widths([job.output for job in jobs])[2] / _car_widths([jobs[0].output])[0] == pytest.approx(0.5, abs=0.03)
    again = list(run_batch(jobs, tiny, options, out_dir=out, corrections=store, skip_existing=True))
    assert [r.status for r in again] == ["skipped"] * 3


def test_a_failed_angle_does_not_hold_back_the_rest_of_its_car(tmp_path, tiny):
    store = _angles(tmp_path / "in", scales=(1.0, 0.6))
    (tmp_path / "in" / "car_03.jpg").write_bytes(b"not a photo")
    out = tmp_path / "out"
    options = ExportOptions(format="png", listing=SPEC)
    jobs = plan_jobs([tmp_path / "in"], out, options)
    results = {r.source.name: r.status for r in run_batch(jobs, tiny, options, out_dir=out, corrections=store)}
    assert results == {"car_01.png": "done", "car_02.png": "done", "car_03.jpg": "failed"}


def test_predict_takes_a_preset_and_the_pieces_on_their_own(tmp_path, tiny_checkpoint, capsys):
    _angles(tmp_path / "in", scales=(1.0,))
    base = [str(tmp_path / "in"), "--model", str(tiny_checkpoint), "--device", "cpu", "--no-tta"]
    assert main(["predict", *base, "-o", str(tmp_path / "a"), "--preset", "1:1 1080x1080"]) == 0
    with Image.open(tmp_path / "a" / "car_01.jpg") as image:
        assert image.format == "JPEG" and image.size == (1080, 1080)
    assert main(["predict", *base, "-o", str(tmp_path / "b"), "--background", "#ffffff", "--size", "400x300",
                 "--margin", "0.05", "--shadow"]) == 0
    with Image.open(tmp_path / "b" / "car_01.jpg") as image:
        assert image.size == (400, 300)
    assert main(["predict", *base, "-o", str(tmp_path / "c"), "--background", "transparent", "--shadow"]) == 0
    with Image.open(tmp_path / "c" / "car_01.png") as image:
        assert image.mode == "RGBA" and image.size == (480, 320)
    capsys.readouterr()
    assert main(["predict", *base, "-o", str(tmp_path / "d"), "--preset", "nope"]) == 2
    assert "unknown listing preset 'nope'" in capsys.readouterr().err
    assert main(["predict", *base, "-o", str(tmp_path / "d"), "--margin", "0.1"]) == 2
    assert "--margin" in capsys.readouterr().err
    assert main(["predict", *base, "-o", str(tmp_path / "d"), "--background", "#ffffff", "--mask-only"]) == 2


def test_an_angle_re_exported_from_its_correction_keeps_its_cars_frame(tmp_path, tiny):
    from core.batch.review import ReviewLog, reexport_from_correction

    store, out, options, jobs = _listing_batch(tmp_path, tiny)
    log = ReviewLog(out)
    item = log.items()[jobs[2].output.name]
    assert item.box is not None and log.options().listing == SPEC
    fixed = car_alpha(scale=0.5, left=0.25) >= 128  # the user moved the car's outline a little
    store.save(jobs[2].source, fixed)
    jobs[2].output.unlink()
    reexport_from_correction(item, log, store)
    widths = _car_widths([jobs[0].output, jobs[2].output])
    assert widths[1] / widths[0] == pytest.approx(0.5, abs=0.03)  # not blown up to fill the frame alone

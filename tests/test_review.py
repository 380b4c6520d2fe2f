"""The review: doubt ranking, the persisted marks, cars whose angles disagree, re-export after a fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.batch.pipeline import BatchJob, BatchResult
from core.batch.review import (
    ACCEPTED,
    DISAGREEMENT_FLAG,
    FIXED,
    NEEDS_FIXING,
    REVIEW_LOG_NAME,
    UNREVIEWED,
    ReviewItem,
    ReviewLog,
    angle_disagreement,
    group_cars,
    rank_by_doubt,
    reexport_from_correction,
)
from core.errors import MaskingNetError
from core.grouping import car_and_angle
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter
from core.store.corrections import CorrectionStore

# Mask area (share of the photo) of Carvana's 16 angles, averaged over the hand-made masks.
CARVANA_PROFILE = [0.166, 0.19, 0.223, 0.237, 0.238, 0.233, 0.221, 0.192, 0.152, 0.184, 0.217, 0.232,
                   0.237, 0.237, 0.224, 0.197]


def _result(out: Path, name: str, **scores) -> BatchResult:
    return BatchResult(source=Path("/photos") / f"{name}.jpg", output=out / f"{name}.png", status="done", **scores)


def _confident_car(rng, size=64) -> np.ndarray:
    """Working-size probabilities of a clear car: near 0 or 1, a thin soft edge."""
    y, x = np.mgrid[0:size, 0:size]
    distance = np.hypot((x - size / 2) / (size * 0.35), (y - size / 2) / (size * 0.2)) - 1.0
    return (1 / (1 + np.exp(distance * 40)) + rng.normal(0, 0.01, (size, size))).clip(0, 1).astype(np.float32)


def test_ranking_from_synthetic_probabilities_puts_the_damaged_photos_first(tmp_path):
    rng = np.random.default_rng(0)
    maps = {f"car_{i:02d}": _confident_car(rng) for i in range(12)}
    maps["noise"] = rng.uniform(0.2, 0.8, (64, 64)).astype(np.float32)  # the model cannot decide
    maps["nothing"] = np.full((64, 64), 0.01, dtype=np.float32)  # confident, but found no car
    log = ReviewLog(tmp_path)
    for name, small in maps.items():
        prediction = Segmenter.finish(small, 96, 64)
        log.record_result(_result(tmp_path, name, uncertainty=prediction.uncertainty, area=float(np.mean(small >= 0.5))))
    ranked = [item.output for item in rank_by_doubt(log.items().values())]
    assert set(ranked[:2]) == {"noise.png", "nothing.png"}


def test_mirror_disagreement_adds_to_the_doubt():
    plain = ReviewItem("a.png", uncertainty=0.02, area=0.2)
    mirrored = ReviewItem("b.png", uncertainty=0.02, area=0.2, mirror=0.05)
    unscored = ReviewItem("c.png")
    assert [i.output for i in rank_by_doubt([unscored, plain, mirrored])] == ["b.png", "a.png", "c.png"]
    assert unscored.doubt is None


def test_marks_persist_and_a_fresh_prediction_clears_them(tmp_path):
    log = ReviewLog(tmp_path)
    log.record_options(ExportOptions(format="webp", quality=80))
    log.record_result(_result(tmp_path, "a", uncertainty=0.1, area=0.2))
    log.record_result(_result(tmp_path, "b", uncertainty=0.2, area=0.2))
    log.set_mark(tmp_path / "a.png", ACCEPTED)
    log.set_mark("b.png", NEEDS_FIXING)
    again = ReviewLog(tmp_path)  # a new session
    items, options = again.load()
    assert (items["a.png"].mark, items["b.png"].mark) == (ACCEPTED, NEEDS_FIXING)
    assert options == ExportOptions(format="webp", quality=80)
    again.record_result(_result(tmp_path, "a", uncertainty=0.05, area=0.2))  # redone by a new run
    assert again.items()["a.png"].mark == UNREVIEWED
    with pytest.raises(ValueError, match="unknown mark"):
        again.set_mark("a.png", "great")


def test_a_line_torn_by_a_crash_is_ignored(tmp_path):
    log = ReviewLog(tmp_path)
    log.record_result(_result(tmp_path, "a", uncertainty=0.1, area=0.2))
    with open(tmp_path / REVIEW_LOG_NAME, "a") as handle:
        handle.write('{"kind": "mark", "output": "a.png", "ma')
    assert log.items()["a.png"].mark == UNREVIEWED
    log.set_mark("a.png", ACCEPTED)  # appends after the torn line, which stays ignored
    assert log.items()["a.png"].mark == ACCEPTED


def test_the_log_compacts_without_losing_state(tmp_path):
    log = ReviewLog(tmp_path)
    log.record_options(ExportOptions(format="mask"))
    log.record_result(_result(tmp_path, "a", uncertainty=0.1, area=0.2, mirror=0.01))
    for i in range(300):
        log.set_mark("a.png", [ACCEPTED, NEEDS_FIXING][i % 2])
    items, options = log.load()
    lines = (tmp_path / REVIEW_LOG_NAME).read_text().splitlines()
    assert len(lines) == 2
    items_after, options_after = log.load()
    assert items_after == items and options_after == options == ExportOptions(format="mask")
    assert items_after["a.png"].mark == NEEDS_FIXING and items_after["a.png"].mirror == 0.01


def test_a_photo_skipped_before_it_was_logged_is_known_but_unscored(tmp_path):
    log = ReviewLog(tmp_path)
    log.record_known(_result(tmp_path, "a"), BatchJob(Path("/photos/a.jpg"), tmp_path / "a.png", Path("/photos")))
    item = log.items()["a.png"]
    assert item.source == "/photos/a.jpg" and item.doubt is None


def test_car_and_angle_from_names_and_folders():
    root = Path("/lot")
    assert car_and_angle("/lot/0cdf5b5d0ce1_07.jpg", root) == ("0cdf5b5d0ce1", 7)
    assert car_and_angle("/lot/day2/VIN123_12.jpg", root) == ("day2/VIN123", 12)
    assert car_and_angle("/lot/civic/front.jpg", root) == ("civic", -1)
    assert car_and_angle("/lot/front.jpg", root) == ("lot", -1)


def test_natural_angles_are_not_flagged_and_a_broken_angle_is():
    rng = np.random.default_rng(1)
    items = []
    for car in ("aaa", "bbb", "ccc"):
        for angle, area in enumerate(CARVANA_PROFILE, start=1):
            area *= rng.uniform(0.97, 1.03)
            if car == "bbb" and angle == 6:
                area *= 0.55  # half of the car missed in one photo
            items.append(ReviewItem(f"{car}_{angle:02d}.png", car=car, angle=angle, uncertainty=0.02, area=area))
    cars = group_cars(reversed(items))
    assert [c.car for c in cars][0] == "bbb" and cars[0].flagged
    assert "bbb_06.png" in cars[0].worst_pair
    assert [c.flagged for c in cars[1:]] == [False, False]
    assert [i.angle for i in cars[0].items] == list(range(1, 17))


def test_angle_disagreement_is_relative_and_circular_when_asked():
    assert angle_disagreement([0.2], circular=True) == (0.0, 0)
    score, index = angle_disagreement([0.2, 0.2, 0.2, 0.1], circular=True)
    assert score == pytest.approx(0.5) and index in (2, 3)
    assert angle_disagreement([0.1, 0.2, 0.2, 0.2], circular=False) == (pytest.approx(0.5), 0)
    assert DISAGREEMENT_FLAG > 0.26  # above what hand-made masks show


def test_reexport_from_correction_writes_the_users_mask_and_marks_it_fixed(tmp_path):
    photo = tmp_path / "in" / "car_01.jpg"
    photo.parent.mkdir()
    Image.fromarray(np.full((40, 60, 3), 120, dtype=np.uint8)).save(photo)
    out = tmp_path / "out"
    log = ReviewLog(out)
    log.record_options(ExportOptions(format="mask"))
    log.record_result(BatchResult(photo, out / "car_01.png", "done", uncertainty=0.3, area=0.5))
    item = log.items()["car_01.png"]
    with pytest.raises(MaskingNetError, match="no saved correction"):
        reexport_from_correction(item, log)
    mask = np.zeros((40, 60), dtype=bool)
    mask[5:30, 10:50] = True
    CorrectionStore().save(photo, mask)
    written = reexport_from_correction(item, log)
    assert written == out / "car_01.png"
    assert np.array_equal(np.asarray(Image.open(written)) > 127, mask)
    fixed = log.items()["car_01.png"]
    assert fixed.mark == FIXED and fixed.corrected and fixed.uncertainty == 0.3


def test_the_log_is_not_compacted_while_a_batch_writes_to_it(tmp_path):
    from core.batch.pipeline import output_lock

    log = ReviewLog(tmp_path)
    log.record_result(_result(tmp_path, "a", uncertainty=0.1, area=0.2))
    for _ in range(300):
        log.set_mark("a.png", ACCEPTED)
    with output_lock(tmp_path):
        log.load()
        assert len((tmp_path / REVIEW_LOG_NAME).read_text().splitlines()) == 301
    log.load()
    assert len((tmp_path / REVIEW_LOG_NAME).read_text().splitlines()) == 1

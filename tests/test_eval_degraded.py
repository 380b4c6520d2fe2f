"""The degraded-photo benchmark (benchmarks/eval_degraded.py): its degradations and its figures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks.eval_degraded import DEGRADATIONS, set_figures
from tests.test_close_up import red_segmenter, street_photo


def test_each_degradation_keeps_the_photo_size_and_is_the_same_for_every_model():
    photo, car = street_photo()
    photo[~car] += (np.arange(photo.shape[1]) % 9 * 4).astype(np.uint8)[None, :, None].repeat(photo.shape[0], 0)[~car]
    for name, degrade in DEGRADATIONS.items():
        out = degrade(photo, 7, car)
        assert out.shape == photo.shape and out.dtype == np.uint8, name
        assert np.array_equal(out, degrade(photo, 7, car)), name
        assert np.array_equal(out, photo) == (name == "clean"), name


def test_panning_streaks_the_street_and_keeps_the_car_sharp():
    photo, car = street_photo()
    photo[~car] += (np.arange(photo.shape[1]) % 9 * 4).astype(np.uint8)[None, :, None].repeat(photo.shape[0], 0)[~car]
    out = DEGRADATIONS["panning"](photo, 7, car)
    inner = cv2.erode(car.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert np.array_equal(out[inner], photo[inner])  # the car as it was
    far = cv2.dilate(car.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    assert out[far].std() < 0.25 * photo[far].std()  # the stripes across the road are smeared out


def test_a_passing_car_is_smeared_over_a_sharp_street():
    photo, car = street_photo()  # the car spans columns 330-470 of row 250, on a street of grey 90
    photo[car] = np.where((np.arange(photo.shape[1]) % 6 < 3)[:, None], 250, 150).astype(np.uint8)[
        np.nonzero(car)[1]]  # vertical stripes across the car's body
    out = DEGRADATIONS["passing"](photo, 7, car)
    far = cv2.dilate(car.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    assert np.array_equal(out[far], photo[far])  # the street as it was
    inner = cv2.erode(car.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    assert out[inner].std() < 0.25 * photo[inner].std()  # the stripes smeared along the road
    assert out[inner].mean() == pytest.approx(photo[inner].mean(), abs=3)
    ahead, end = out[250, 330 - 4], out[250, 331]  # 13 px of smear: 6 either side of the car's end
    assert 90 < ahead.mean() < 150 and 90 < end.mean() < 200  # half street, half car at its end
    assert ahead.mean() < end.mean()


def test_a_set_is_scored_clean_and_degraded_each_way(tmp_path, monkeypatch):
    folder = tmp_path / "small-cars"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for index in range(3):
        photo, truth = street_photo(560 + 64 * index, 320)  # the car stands inside every frame
        Image.fromarray(photo).save(folder / "images" / f"frame_{index}.png")
        Image.fromarray((truth > 0).astype(np.uint8) * 255).save(folder / "masks" / f"frame_{index}.png")
    monkeypatch.setitem(DEGRADATIONS, "noise", lambda rgb, seed, car: np.full_like(rgb, 90))  # the car is gone
    figures = set_figures(red_segmenter(), tmp_path, "small-cars", every=1)
    assert figures["photos"] == 3 and set(figures) == {"photos", *DEGRADATIONS}
    assert figures["clean"] > 0.95 and figures["motion"] > 0.9  # a red car on grey is found, blurred too...
    assert figures["noise"] == 0.0  # ...and the model is shown the degraded photos
    assert set_figures(red_segmenter(), tmp_path, "car-parts-test", every=1) is None  # no labels: skipped


def test_a_mask_that_cannot_score_its_photo_is_named(tmp_path):
    folder = tmp_path / "small-cars"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    photo, _ = street_photo()
    Image.fromarray(photo).save(folder / "images" / "frame_0.png")
    Image.fromarray(np.zeros(photo.shape[:2], np.uint8)).save(folder / "masks" / "frame_0.png")
    with pytest.raises(ValueError, match=r"frame_0\.png: the mask is empty"):
        set_figures(red_segmenter(), tmp_path, "small-cars", every=1)

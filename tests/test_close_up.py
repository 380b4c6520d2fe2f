"""The closer look at a car that stands small in the photo (``core.masking.close_up``)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from core.batch.pipeline import plan_jobs, run_batch
from core.masking.cleanup import clean_probability
from core.masking.close_up import MARGIN, CloseUp, apply_close_up, close_up_box
from core.masking.export import ExportOptions
from core.masking.inference import Segmenter
from core.masking.mask_edit import Rect
from core.models.checkpoint import ModelConfig
from core.models.preprocess import Preprocess


class RedIsCar(nn.Module):
    """Car wherever the photo is red; records the sizes of the photos it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        score = 20.0 * (x[:, :1] - (0.5 - 0.485) / 0.229)
        return torch.cat([-score, score], dim=1)


def red_segmenter(**options) -> Segmenter:
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "red-is-car"})
    return Segmenter(RedIsCar(), config, device="cpu", **options)


def street_photo(width: int = 640, height: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """(photo, truth): a small red car on a grey street."""
    truth = np.zeros((height, width), np.uint8)
    cv2.ellipse(truth, (400, 250), (70, 30), 0, 0, 360, 1, -1)
    photo = np.full((height, width, 3), 90, np.uint8)
    photo[truth > 0] = (220, 30, 30)
    return photo, truth.astype(bool)


def dice(mask: np.ndarray, truth: np.ndarray) -> float:
    return 2 * float((mask & truth).sum()) / float(mask.sum() + truth.sum())


def test_the_box_holds_the_car_with_a_margin_and_is_none_without_a_small_car():
    small = np.zeros((64, 64), np.float32)
    small[30:40, 20:30] = 1.0  # 10 x 10 working pixels of a 64 x 64 map
    box = close_up_box(small, 640, 320)
    car = Rect(200, 150, 300, 200)  # the car in photo pixels: 100 wide, 50 high
    pad = MARGIN * 100
    assert box.left <= car.left - pad and box.right >= car.right + pad
    assert box.top <= car.top - pad and box.bottom >= car.bottom + pad
    assert box.width <= 16 / 9 * box.height + 2  # never flatter than 16:9
    assert close_up_box(np.zeros((64, 64), np.float32), 640, 320) is None  # no car
    assert close_up_box(np.ones((64, 64), np.float32), 640, 320) is None  # the car fills the photo
    small[0, 0] = 1.0  # a speck far away, cleaned as the mask is, does not widen the box
    assert close_up_box(clean_probability(small), 640, 320) == box
    assert close_up_box(small, 64, 64) is None  # a photo no bigger than the working size: no detail to gain
    assert close_up_box(small, 80, 80) is None  # the crop would sample it 1.25 times as finely: too little
    assert close_up_box(small, 640, 320, min_detail=7.0) is None


def test_the_close_up_is_averaged_in_only_inside_its_box():
    probability = np.full((100, 200), 200, np.uint8)
    closer = CloseUp(Rect(50, 20, 150, 80), np.zeros((64, 64), np.float32))
    apply_close_up(probability, closer)
    assert (probability[20:80, 50:150] == 100).all()
    inside = np.zeros(probability.shape, bool)
    inside[20:80, 50:150] = True
    assert (probability[~inside] == 200).all()


def test_a_small_car_is_masked_again_from_a_crop_and_its_outline_comes_out_finer():
    photo, truth = street_photo()
    closer = red_segmenter(flip_tta=False)
    plain = red_segmenter(flip_tta=False, close_up=False)
    detailed, coarse = closer.predict(photo), plain.predict(photo)
    assert closer.model.calls == [1, 1] and plain.model.calls == [1]  # the photo, then the crop
    assert dice(detailed.mask, truth) > dice(coarse.mask, truth) + 0.005
    assert not detailed.mask[:150].any() and not detailed.mask[:, :300].any()  # nothing added outside the car
    assert (detailed.uncertainty, detailed.area) == (coarse.uncertainty, coarse.area)  # the doubt: the first pass's
    assert closer.predict(photo, close_up=False).probability.tolist() == coarse.probability.tolist()


def test_a_car_that_fills_the_photo_or_a_photo_of_the_working_size_gets_no_second_pass():
    photo = np.full((300, 400, 3), 90, np.uint8)
    photo[10:290, 10:390] = (220, 30, 30)
    segmenter = red_segmenter(context_look=False)  # its two calls at a smaller size are counted elsewhere
    segmenter.predict(photo)
    assert segmenter.model.calls == [1, 1]  # the photo and its mirror image, no crop
    small_photo = np.full((64, 64, 3), 90, np.uint8)
    small_photo[30:40, 20:34] = (220, 30, 30)  # a small car, but no more pixels than the model sees
    segmenter.predict(small_photo)
    assert segmenter.model.calls == [1, 1, 1, 1]


def batch_mask(tmp_path, photo: np.ndarray, segmenter: Segmenter, name: str, **options) -> np.ndarray:
    """The mask ``run_batch`` writes for ``photo`` into ``tmp_path / name``, with ``options``; bool."""
    source = tmp_path / "in" / "car.png"
    if not source.exists():
        source.parent.mkdir()
        Image.fromarray(photo).save(source)
    export = ExportOptions(format="mask")
    jobs = plan_jobs([source.parent], tmp_path / name, export)
    results = list(run_batch(jobs, segmenter, export, out_dir=tmp_path / name, **options))
    assert [result.status.name for result in results] == ["DONE"]
    return np.asarray(Image.open(results[0].output)) >= 128


def test_the_batch_looks_closer_as_the_segmenter_does(tmp_path):
    photo, _ = street_photo()
    segmenter = red_segmenter()
    written = batch_mask(tmp_path, photo, segmenter, "out")
    assert np.array_equal(written, segmenter.predict(photo).mask)
    assert not np.array_equal(batch_mask(tmp_path, photo, segmenter, "plain", close_up=False), written)

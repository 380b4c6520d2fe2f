"""The second look at a car cut by the frame (``core.masking.frame_edge``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.cli import build_parser
from core.masking.doubt import pass_doubt
from core.masking.frame_edge import (
    EDGE_DOUBT,
    EdgeLook,
    Reflection,
    apply_edge_look,
    car_body,
    edge_plan,
    near_car_body,
    touched_sides,
    undecided_along,
)
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig
from core.models.preprocess import Preprocess
from tests.test_close_up import batch_mask

SIZE = 64  # the fake model's working size


class BorderShyRedIsCar(nn.Module):
    """Car wherever the photo is red, but within ``SHY`` working pixels of the network's border only
    where it is deep red: the way a real network rounds a car off where it runs out of the picture.
    Records its calls."""

    SHY = 3

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        score = 20.0 * (x[:, :1] - (0.5 - 0.485) / 0.229)
        border = torch.ones_like(score, dtype=torch.bool)
        border[..., self.SHY : -self.SHY, self.SHY : -self.SHY] = False
        score = torch.where(border, score - 25.0, score)  # deep red (255) stays car, pale red (170) does not
        return torch.cat([-score, score], dim=1)


class CarEverywhere(nn.Module):
    """The whole photo is car with probability ``probability``: sure of it, or unable to make the
    scene out (a blurred frame). Records its calls."""

    def __init__(self, probability: float) -> None:
        super().__init__()
        self.half_logit = 0.5 * float(np.log(probability / (1.0 - probability)))
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        score = torch.full_like(x[:, :1], self.half_logit)
        return torch.cat([-score, score], dim=1)


def shy_segmenter(**options) -> Segmenter:
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=SIZE), info={"name": "border-shy"})
    return Segmenter(BorderShyRedIsCar(), config, device="cpu", flip_tta=False, close_up=False, **options)


def cut_car(width: int = 320, height: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(photo, truth): a red car on grey that runs off the photo's right side, deep red along its middle."""
    truth = np.zeros((height, width), bool)
    truth[60:170, 120:] = True
    photo = np.full((height, width, 3), 90, np.uint8)
    photo[truth] = (170, 30, 30)
    photo[95:135, 120:] = (255, 30, 30)
    return photo, truth


def test_the_car_body_touches_a_side_and_a_thin_streak_does_not():
    cleaned = np.zeros((SIZE, SIZE), np.float32)
    cleaned[20:50, 30:] = 1.0  # a car body running off the right side
    cleaned[:20, 40:42] = 1.0  # a two-pixel streak (a reflection) from the car up to the top
    assert touched_sides(car_body(cleaned)) == {"top": False, "bottom": False, "left": False, "right": True}
    assert touched_sides(car_body(cleaned, radius=0.0))["top"]  # without the opening the streak would count
    assert not any(touched_sides(car_body(cleaned), touch=0.9).values())  # the body covers under 90 % of the side


def test_only_the_main_cars_body_counts_and_the_second_answer_is_used_near_it():
    cleaned = np.zeros((SIZE, SIZE), np.float32)
    cleaned[20:50, 10:40] = 1.0  # the main car, inside the frame
    cleaned[0:12, 50:] = 1.0  # a smaller car the clean-up kept, in the top right corner
    body = car_body(cleaned)
    assert body[30, 20] and not body[5, 60]
    assert not any(touched_sides(body).values())  # the other car touching the frame does not count
    assert edge_plan(cleaned, 300, 200) is None
    zone = near_car_body(body)  # the body grown by 6 % of the working size: 4 pixels here
    assert zone[20 - 4, 25] and not zone[20 - 6, 25] and not zone[5, 60]


def test_the_photo_is_reflected_on_the_touched_sides_and_cropped_back():
    cleaned = np.zeros((SIZE, SIZE), np.float32)
    cleaned[30:, 20:50] = 1.0  # runs off the bottom
    reflection, zone = edge_plan(cleaned, 300, 200)
    assert reflection == Reflection(top=0, bottom=16, left=0, right=0)  # 8 % of the height
    assert np.array_equal(zone, near_car_body(car_body(cleaned)))
    photo = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    padded = reflection.apply(photo)
    assert padded.shape == (216, 300, 3)
    assert np.array_equal(padded[200], photo[198])  # reflected about the last row, which is not repeated
    assert np.array_equal(reflection.crop(padded, 300, 200), photo)
    assert edge_plan(np.zeros((SIZE, SIZE), np.float32), 300, 200) is None  # no car
    inside = np.zeros((SIZE, SIZE), np.float32)
    inside[10:50, 10:50] = 1.0
    assert edge_plan(inside, 300, 200) is None  # a car inside the frame


def test_no_second_look_where_the_first_pass_is_in_doubt_and_undecided_about_the_car_at_the_edge():
    cleaned = np.zeros((SIZE, SIZE), np.float32)
    cleaned[30:, 20:50] = 0.95  # a car running off the bottom, sure of itself
    cleaned[SIZE - 5 :, 20:50] = 0.6  # the band along the bottom (5 rows, 8 % of 64) all undecided
    reflection = Reflection(top=0, bottom=16, left=0, right=0)
    assert undecided_along(cleaned, reflection) == 1.0
    assert undecided_along(cleaned, Reflection(16, 0, 0, 0)) == 0.0  # nothing possible along the top
    cleaned[SIZE - 5 :, 20:50] = 0.95
    cleaned[SIZE - 5 :, 50:60] = 0.3  # undecided, beside the car: 10 of 40 columns
    assert undecided_along(cleaned, reflection) == pytest.approx(10 / 40)
    assert edge_plan(cleaned, 300, 200, doubt=0.5) is not None
    cleaned[SIZE - 5 :, 20:50] = 0.6  # now 40 of 40 undecided: the car at the edge is a guess...
    assert edge_plan(cleaned, 300, 200, doubt=0.5) is None  # ...of a pass unsure of the photo
    assert edge_plan(cleaned, 300, 200, doubt=0.1) is not None  # a sure pass: the network rounding a car off
    assert edge_plan(cleaned, 300, 200, doubt=0.5, max_undecided=1.0) is not None
    cleaned[SIZE - 5 :, 20:50] = 0.05  # below the undecided range: not possible car at all
    assert undecided_along(cleaned, reflection) == pytest.approx(1.0)  # only the 0.3 strip is left
    cleaned[:] = 0.0
    assert undecided_along(cleaned, reflection) == 0.0  # nothing possible: nothing undecided


def test_the_second_pass_stands_unless_it_changes_the_car_away_from_the_edge():
    first = np.zeros((100, 100), np.uint8)
    first[20:80, 20:96] = 255  # stops 4 pixels short of the right side
    second_small = np.zeros((SIZE, SIZE), np.float32)
    reflection = Reflection(0, 0, 0, 8)  # the reflected photo is 108 wide
    second_small[13:51, 13:] = 1.0  # the car up to the reflected photo's right side
    probability = first.copy()
    everywhere = np.ones((SIZE, SIZE), bool)
    assert apply_edge_look(probability, EdgeLook(reflection, second_small, everywhere))
    assert probability[50, 99] == 255 and probability[50, 10] == 0  # kept up to the edge
    # a second pass that also takes a large region far from the right side is not trusted
    second_small[51:, 13:40] = 1.0  # the shadow under the car's left half, say
    unsure = first.copy()
    assert not apply_edge_look(unsure, EdgeLook(reflection, second_small, everywhere))
    assert np.array_equal(unsure, first)
    # outside the zone near the main car's body the first answer stands
    second_small[51:] = 0.0
    left_only = np.zeros((SIZE, SIZE), bool)
    left_only[:, :32] = True
    zoned = first.copy()
    assert apply_edge_look(zoned, EdgeLook(reflection, second_small, left_only))
    assert np.array_equal(zoned[:, 60:], first[:, 60:]) and zoned[50, 99] == 0


def dice(mask: np.ndarray, truth: np.ndarray) -> float:
    return 2 * float((mask & truth).sum()) / float(mask.sum() + truth.sum())


def test_a_car_cut_by_the_frame_is_kept_up_to_the_edge():
    photo, truth = cut_car()
    looking = shy_segmenter()
    plain = shy_segmenter(frame_edge=False)
    kept, rounded = looking.predict(photo), plain.predict(photo)
    assert len(looking.model.calls) == 2 and len(plain.model.calls) == 1  # the photo, then the reflected photo
    # the network's border costs the plain pass the car's end, but for its deep red middle
    assert not rounded.mask[65:90, -5:].any() and rounded.mask[100:130, -5:].all()
    assert kept.mask[65:165, -5:].all()  # the second look keeps it up to the frame's edge
    assert dice(kept.mask, truth) > dice(rounded.mask, truth) + 0.01
    assert (kept.uncertainty, kept.area) == (rounded.uncertainty, rounded.area)  # the doubt: the first pass's
    assert looking.predict(photo, frame_edge=False).probability.tolist() == rounded.probability.tolist()
    inside = np.full((200, 320, 3), 90, np.uint8)
    inside[60:140, 80:240] = (220, 30, 30)
    looking.model.calls.clear()
    looking.predict(inside)
    assert len(looking.model.calls) == 1  # a car inside the frame gets no second pass


def test_the_batch_looks_past_the_edge_as_the_segmenter_does(tmp_path):
    photo, _ = cut_car()
    segmenter = shy_segmenter()
    written = batch_mask(tmp_path, photo, segmenter, "out")
    assert np.array_equal(written, segmenter.predict(photo).mask)
    without = batch_mask(tmp_path, photo, segmenter, "plain", frame_edge=False)
    assert np.array_equal(without, segmenter.predict(photo, frame_edge=False).mask)
    assert not np.array_equal(without, written)


def test_a_pass_unsure_of_the_whole_photo_gets_no_second_look_in_the_app_and_the_batch(tmp_path):
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=SIZE), info={"name": "everywhere"})
    photo = np.full((200, 320, 3), 90, np.uint8)
    for probability, passes in ((0.6, 1), (0.99, 2)):  # touching every side, undecided / sure
        segmenter = Segmenter(CarEverywhere(probability), config, device="cpu", flip_tta=False, close_up=False)
        prediction = segmenter.predict(photo)
        assert len(segmenter.model.calls) == passes, probability
        assert prediction.doubt == pytest.approx(pass_doubt(np.full((SIZE, SIZE), probability, np.float32)))
        segmenter.model.calls.clear()
        batch_mask(tmp_path, photo, segmenter, f"out-{probability}")
        assert len(segmenter.model.calls) == passes, probability
    assert pass_doubt(np.full((SIZE, SIZE), 0.6, np.float32)) > EDGE_DOUBT


def test_the_command_line_can_turn_the_second_look_off():
    parser = build_parser()
    assert parser.parse_args(["predict", "x.jpg", "-o", "out"]).frame_edge is True
    assert parser.parse_args(["predict", "x.jpg", "-o", "out", "--no-frame-edge"]).frame_edge is False

"""The studio outline expert (core.models.outline_expert): its rule, where it draws, how a checkpoint
holds it, and how the segmenter uses it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from fake_networks import InputDrawn

from core.errors import CheckpointError
from core.masking.inference import Segmenter
from core.models.checkpoint import (
    ModelConfig,
    load_model,
    load_networks,
    read_config,
    save_model,
    save_tensors,
)
from core.models.outline_expert import (
    TENSOR_PREFIX,
    OutlineExpertRule,
    combine_logits,
    expert_logits,
    mask_agreement,
    outline_band,
    preview_size,
)
from core.models.preprocess import Preprocess


def square_logits(top: int, left: int, side: int, size: int = 32, strength: float = 4.0) -> torch.Tensor:
    """(1, 2, size, size) logits of a car that is a square, with ``strength`` as the margin."""
    car = torch.zeros(size, size)
    car[top : top + side, left : left + side] = 1
    return torch.stack([-strength * (2 * car - 1), strength * (2 * car - 1)])[None]


@pytest.mark.parametrize("fields, problem", [
    ({"band": 0}, "band"), ({"band": 6.5}, "band"), ({"band": True}, "band"),
    ({"agreement": 1.2}, "agreement"), ({"agreement": "0.97"}, "agreement"), ({"share": 0}, "share"),
    ({"share": 1.5}, "share"), ({"colour": 1}, "unknown"),
])
def test_rule_refuses_what_it_cannot_use(fields, problem):
    with pytest.raises((TypeError, ValueError), match=problem):
        OutlineExpertRule.from_dict(fields)
    assert OutlineExpertRule.from_dict({}) == OutlineExpertRule()
    assert OutlineExpertRule.from_dict(OutlineExpertRule(3, 0.9).to_dict()) == OutlineExpertRule(3, 0.9)


def test_band_lies_along_the_outline_and_not_along_the_frame():
    mask = torch.zeros(1, 20, 20, dtype=torch.bool)
    mask[:, 5:15, 5:15] = True
    band = outline_band(mask, 2)[0]
    assert band[5:15, 3].all() and band[5:15, 16].all() and band[6, 6]  # both sides of the outline
    assert not band[10, 10] and not band[0, 0]  # the car's middle, far background
    cut = torch.zeros(1, 20, 20, dtype=torch.bool)
    cut[:, 5:15, :10] = True  # a car the frame cuts on the left
    assert not outline_band(cut, 2)[0, 10, 0:2].any()


def test_agreement_is_dice_and_one_for_two_empty_masks():
    first = torch.zeros(2, 4, 4, dtype=torch.bool)
    second = first.clone()
    first[0, :2], second[0, :1] = True, True  # 8 and 4 pixels, 4 shared
    assert mask_agreement(first, second).tolist() == pytest.approx([2 * 4 / 12, 1.0])


def test_expert_draws_the_outline_only_where_both_agree():
    rule = OutlineExpertRule(band=2, agreement=0.9, share=1.0)
    main = torch.cat([square_logits(8, 8, 16), square_logits(8, 8, 16)])
    expert = torch.cat([square_logits(9, 9, 15), square_logits(0, 0, 6)])  # agrees; disagrees
    combined, agree = combine_logits(main, expert, rule)
    assert agree.tolist() == [True, False]
    car = combined[:, 1] > combined[:, 0]
    assert car[0].sum() == 15 * 15  # the expert's outline, within the band
    assert torch.equal(combined[1], main[1])  # the main network's answer stands
    far = combine_logits(square_logits(2, 2, 28), square_logits(2, 2, 20),
                         OutlineExpertRule(band=1, agreement=0.5, share=1.0))[0]
    assert (far[0, 1] > far[0, 0]).sum() > 20 * 20  # beyond the band the main network's car stays
    blended, _ = combine_logits(main[:1], expert[:1], OutlineExpertRule(band=2, agreement=0.9, share=0.25))
    assert blended[0, 1, 8, 8] == pytest.approx(0.25 * expert[0, 1, 8, 8] + 0.75 * main[0, 1, 8, 8])


def square_input(top: int, left: int, side: int, size: int = 64) -> torch.Tensor:
    """A (1, 3, size, size) network input whose first channel is 1 on a square and -1 elsewhere."""
    return (2 * square_logits(top, left, side, size)[:, 1:] / 4).expand(1, 3, size, size).clone()


def test_preview_is_a_smaller_multiple_of_32_or_none():
    assert [preview_size(size) for size in (512, 384, 256, 64, 32)] == [320, 256, 160, 32, None]


def test_expert_looks_in_full_only_where_its_preview_agrees():
    rule = OutlineExpertRule(band=2, agreement=0.9, share=1.0)
    main = torch.cat([square_logits(16, 16, 32, 64), square_logits(16, 16, 32, 64)])
    batch = torch.cat([square_input(17, 17, 31), square_input(0, 0, 12)])  # agrees; disagrees
    expert = InputDrawn()
    logits, looked, used = expert_logits(main, batch, expert, rule)
    assert expert.inputs == [(2, 3, 32, 32), (1, 3, 64, 64)]  # a preview of both, a full look at one
    assert looked.tolist() == [True, False] and used.tolist() == [True, False]
    full, agree = combine_logits(main, InputDrawn()(batch), rule)
    assert agree.tolist() == [True, False]
    assert torch.equal(logits, full)  # what the full look at both gives
    assert torch.equal(logits[1], main[1])
    none = InputDrawn()
    logits, looked, used = expert_logits(main[1:], batch[1:], none, rule)
    assert not looked.any() and not used.any() and torch.equal(logits, main[1:])
    assert none.inputs == [(1, 3, 32, 32)]  # no full look at all
    every = InputDrawn()
    logits, looked, _ = expert_logits(main, batch, every, rule, preview=False)
    assert every.inputs == [(2, 3, 64, 64)] and looked.all() and torch.equal(logits, full)


def test_expert_at_the_smallest_size_looks_in_full_without_a_preview():
    rule = OutlineExpertRule(band=1, agreement=0.5, share=1.0)
    main, batch = square_logits(8, 8, 16), square_input(8, 8, 15, size=32)
    expert = InputDrawn()
    logits, looked, used = expert_logits(main, batch, expert, rule)
    assert expert.inputs == [(1, 3, 32, 32)] and looked.all() and used.all()
    assert torch.equal(logits, combine_logits(main, InputDrawn()(batch), rule)[0])


def tiny_config(**fields) -> ModelConfig:
    return ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"}, **fields)


def tiny_network(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return tiny_config().build().eval()


def test_checkpoint_holds_the_expert_and_only_says_so_with_it(tmp_path):
    main, expert = tiny_network(0), tiny_network(1)
    config = tiny_config(outline_expert=OutlineExpertRule(band=4, agreement=0.95))
    path = tmp_path / "with-expert.safetensors"
    save_model(path, main, config, outline_expert=expert)
    loaded, loaded_expert, no_context, loaded_config = load_networks(path)
    assert no_context is None and loaded_config.context_network is None
    assert loaded_config.outline_expert == OutlineExpertRule(band=4, agreement=0.95)
    for name, tensor in expert.state_dict().items():
        assert torch.equal(loaded_expert.state_dict()[name], tensor)
    for name, tensor in main.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    plain, plain_config = load_model(path)  # a network trained from it starts from the main network alone
    assert set(plain.state_dict()) == set(main.state_dict()) and plain_config.outline_expert is not None
    retrained = tmp_path / "retrained.safetensors"
    save_model(retrained, plain, plain_config)  # no expert given: the rule is not claimed
    assert read_config(retrained).outline_expert is None
    assert load_networks(retrained).outline_expert is None
    with pytest.raises(ValueError, match="rule"):
        save_model(tmp_path / "x.safetensors", main, tiny_config(), outline_expert=expert)


def test_damaged_expert_entries_are_refused_in_one_line(tmp_path):
    main, expert = tiny_network(0), tiny_network(1)
    rule_only = tmp_path / "rule-only.safetensors"
    save_tensors(rule_only, dict(main.state_dict()),
                 {"maskingnet": tiny_config(outline_expert=OutlineExpertRule()).to_json()})
    with pytest.raises(CheckpointError, match="missing") as error:
        load_model(rule_only)
    assert "\n" not in str(error.value) and "rule-only.safetensors" in str(error.value)
    tensors_only = tmp_path / "tensors-only.safetensors"
    save_tensors(tensors_only, {**main.state_dict(), **{TENSOR_PREFIX + k: v for k, v in expert.state_dict().items()}},
                 {"maskingnet": tiny_config().to_json()})
    with pytest.raises(CheckpointError, match="unexpected"):
        load_networks(tensors_only)
    bad_rule = json.loads(tiny_config().to_json())
    bad_rule["outline_expert"] = {"band": -3}
    bad = tmp_path / "bad-rule.safetensors"
    save_tensors(bad, dict(main.state_dict()), {"maskingnet": json.dumps(bad_rule)})
    with pytest.raises(CheckpointError, match="outline_expert"):
        read_config(bad)


def photos(count: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (48, 80, 3), dtype=np.uint8) for _ in range(count)]


def test_segmenter_uses_the_expert_with_the_mirror_pass_only():
    main, expert = tiny_network(0), tiny_network(1)
    config = tiny_config(outline_expert=OutlineExpertRule(band=3, agreement=0.5))
    plain = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False)
    assert not plain.has_outline_expert
    with_expert = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, outline_expert=expert)
    assert with_expert.has_outline_expert
    images = photos()
    plain_masks = [p.probability for p in plain.predict_batch(images)]
    expert_masks = [p.probability for p in with_expert.predict_batch(images)]
    assert with_expert.expert_views == len(images)
    assert 0 <= with_expert.expert_used <= with_expert.expert_looked <= len(images)
    off = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, outline_expert=expert,
                    studio_outline=False)
    assert all(np.array_equal(a.probability, b) for a, b in zip(off.predict_batch(images), plain_masks))
    single = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, outline_expert=expert,
                       flip_tta=False)
    single.predict_batch(images)
    assert single.expert_views == 0  # a single pass stays one network call
    same = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, outline_expert=main)
    # an expert identical to the main network changes nothing but the mirror average along the band
    assert all(a.shape == b.shape for a, b in zip(expert_masks, plain_masks))
    assert same.predict_batch(images)[0].probability.shape == plain_masks[0].shape
    with pytest.raises(ValueError, match="rule"):
        Segmenter(main, replace(config, outline_expert=None), device="cpu", outline_expert=expert)


def test_segmenter_loads_the_expert_from_its_checkpoint(tmp_path):
    path = tmp_path / "with-expert.safetensors"
    save_model(path, tiny_network(0), tiny_config(outline_expert=OutlineExpertRule()), outline_expert=tiny_network(1))
    segmenter = Segmenter.load(path, device="cpu")
    assert segmenter.has_outline_expert
    assert not Segmenter.load(path, device="cpu", studio_outline=False).studio_outline


def test_the_timing_benchmark_times_each_way_on_the_same_photos(tmp_path):
    from PIL import Image

    from benchmarks.bench_outline_expert import WAYS, load_ways, median_milliseconds, photo_paths

    path = tmp_path / "with-expert.safetensors"
    save_model(path, tiny_network(0), tiny_config(outline_expert=OutlineExpertRule()), outline_expert=tiny_network(1))
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, rgb in enumerate(photos(4)):
        Image.fromarray(rgb).save(folder / f"car{index}_01.png")
    (folder / "notes.txt").write_text("not a photo")
    assert [p.name for p in photo_paths(folder, 2)] == ["car0_01.png", "car2_01.png"]
    assert photo_paths(folder, 9, groups={"car1"}) == [folder / "car1_01.png"]
    segmenters = load_ways(path)
    medians = median_milliseconds(segmenters, photo_paths(folder, 4))
    assert set(medians) == set(WAYS) and all(ms > 0 for ms in medians.values())
    assert segmenters["with the expert"].expert_views == 5  # a warm-up and 4 photos, one view each
    assert segmenters["every view in full"].expert_looked == 5 and not segmenters["every view in full"].expert_preview
    assert segmenters["without it"].expert_views == segmenters["single pass"].expert_views == 0

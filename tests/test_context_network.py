"""The context network (core.models.context_network): its rule, how a checkpoint holds it, how its answer
joins the context look, and how the segmenter uses it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from fake_networks import InputDrawn, logits_of

from core.errors import CheckpointError
from core.masking.context_look import clear_with_context, context_logits, fill_with_context
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig, load_model, load_networks, read_config, save_model, save_tensors
from core.models.context_network import TENSOR_PREFIX, ContextNetworkRule
from core.models.outline_expert import OutlineExpertRule
from core.models.preprocess import Preprocess


def tiny_config(**fields) -> ModelConfig:
    return ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"}, **fields)


def tiny_network(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return tiny_config().build().eval()


@pytest.mark.parametrize("fields, problem", [
    ({"own_share": -0.1}, "own_share"), ({"own_share": 1.5}, "own_share"), ({"own_share": "half"}, "own_share"),
    ({"weight": 0}, "weight"), ({"weight": True}, "weight"), ({"weight": 2}, "weight"), ({"colour": 1}, "unknown"),
    ({"size_share": 0}, "size_share"), ({"size_share": 1}, "size_share"), ({"size_share": "big"}, "size_share"),
    ({"region_margin": -1}, "region_margin"), ({"region_margin": 25}, "region_margin"),
    ({"region_margin": None}, "region_margin"), ({"fill_region": -0.01}, "fill_region"),
    ({"fill_region": 2}, "fill_region"), ({"fill_region": "some"}, "fill_region"),
])
def test_rule_refuses_what_it_cannot_use(fields, problem):
    with pytest.raises((TypeError, ValueError), match=problem):
        ContextNetworkRule.from_dict(fields)
    with pytest.raises(TypeError):
        ContextNetworkRule.from_dict([0.5, 1.0])
    assert ContextNetworkRule.from_dict({}) == ContextNetworkRule()
    assert ContextNetworkRule.from_dict(ContextNetworkRule(0.25, 0.75).to_dict()) == ContextNetworkRule(0.25, 0.75)
    full = ContextNetworkRule(own_share=0.25, weight=0.75, size_share=0.75, region_margin=1.5, fill_region=0.02)
    assert ContextNetworkRule.from_dict(json.loads(json.dumps(full.to_dict()))) == full
    # a rule written before size_share, region_margin and fill_region existed reads as it behaved then
    assert ContextNetworkRule.from_dict({"own_share": 0.5, "weight": 1.0}) == ContextNetworkRule(0.5, 1.0, 0.625, 0.0,
                                                                                                   0.0)


def test_checkpoint_holds_the_context_network_beside_the_expert_and_only_says_so_with_it(tmp_path):
    main, expert, context = tiny_network(0), tiny_network(1), tiny_network(2)
    config = tiny_config(outline_expert=OutlineExpertRule(), context_network=ContextNetworkRule(own_share=0.25))
    path = tmp_path / "three.safetensors"
    save_model(path, main, config, outline_expert=expert, context_network=context)
    networks = load_networks(path)
    assert networks.config.context_network == ContextNetworkRule(own_share=0.25)
    for built, saved in ((networks.model, main), (networks.outline_expert, expert), (networks.context_network, context)):
        assert all(torch.equal(built.state_dict()[name], tensor) for name, tensor in saved.state_dict().items())
    plain, plain_config = load_model(path)  # a network trained from it starts from the main network alone
    assert set(plain.state_dict()) == set(main.state_dict())
    retrained = tmp_path / "retrained.safetensors"
    save_model(retrained, plain, plain_config)  # no helper networks given: no rule is claimed
    assert read_config(retrained).context_network is None and read_config(retrained).outline_expert is None
    assert load_networks(retrained).context_network is None
    only_context = tmp_path / "only-context.safetensors"
    save_model(only_context, main, config, context_network=context)
    assert load_networks(only_context).outline_expert is None and read_config(only_context).outline_expert is None
    assert load_networks(only_context).context_network is not None
    with pytest.raises(ValueError, match="rule"):
        save_model(tmp_path / "x.safetensors", main, tiny_config(), context_network=context)


def test_damaged_context_network_entries_are_refused_in_one_line(tmp_path):
    main, context = tiny_network(0), tiny_network(2)
    rule_only = tmp_path / "rule-only.safetensors"
    save_tensors(rule_only, dict(main.state_dict()),
                 {"maskingnet": tiny_config(context_network=ContextNetworkRule()).to_json()})
    with pytest.raises(CheckpointError, match="missing") as error:
        load_model(rule_only)
    assert "\n" not in str(error.value) and "rule-only.safetensors" in str(error.value)
    tensors_only = tmp_path / "tensors-only.safetensors"
    save_tensors(tensors_only, {**main.state_dict(), **{TENSOR_PREFIX + k: v for k, v in context.state_dict().items()}},
                 {"maskingnet": tiny_config().to_json()})
    with pytest.raises(CheckpointError, match="unexpected"):
        load_networks(tensors_only)
    bad_rule = json.loads(tiny_config().to_json())
    bad_rule["context_network"] = {"weight": "all"}
    bad = tmp_path / "bad-rule.safetensors"
    save_tensors(bad, dict(main.state_dict()), {"maskingnet": json.dumps(bad_rule)})
    with pytest.raises(CheckpointError, match="context_network"):
        read_config(bad)


class Constant(torch.nn.Module):
    """A network answering the same car map for every input, at the input's size; it counts its calls."""

    def __init__(self, car: torch.Tensor) -> None:
        super().__init__()
        self.car, self.calls = car, 0

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        side = batch.shape[-1]
        car = torch.nn.functional.interpolate(self.car[None, None].float(), size=(side, side), mode="nearest")[0, 0]
        return torch.cat([logits_of(car) for _ in batch])


def test_the_context_answer_mixes_both_networks_by_the_rule():
    batch = torch.zeros(1, 3, 64, 64)
    own_car, helper_car = torch.zeros(64, 64), torch.zeros(64, 64)
    own_car[:, 12:52] = 1  # the main network's smaller look: the middle 40 columns are car (symmetric, so
    helper_car[:, 22:42] = 1  # the mirror image answers alike); the context network's: only the middle 20
    own, helper = Constant(own_car), Constant(helper_car)
    mixed = context_logits(own, batch, helper, ContextNetworkRule(own_share=0.25))
    car = (mixed[0, 1] > mixed[0, 0])
    assert car[:, 22:42].all() and car.sum() == 20 * 64  # 0.25 x own + 0.75 x helper: the helper decides
    assert own.calls == helper.calls == 2  # each network: the view and its mirror image
    helper_alone = context_logits(own, batch, helper, ContextNetworkRule(own_share=0.0))
    assert own.calls == 2 and torch.equal(helper_alone, context_logits(helper, batch))
    assert torch.equal(context_logits(own, batch, helper, None), context_logits(own, batch))  # no rule: own look only
    # the rule's weight: the context answer alone decides a large region at 1, not at the default 0.5 when
    # the working-size answer is more certain than the context answer is
    main = logits_of(own_car, 8.0)
    context = logits_of(helper_car, 4.0)
    assert torch.equal(clear_with_context(main, context)[0], main)
    cleared, share = clear_with_context(main, context, 1.0)
    assert torch.equal(cleared[0, 1] > cleared[0, 0], helper_car.bool()) and share.tolist() == pytest.approx([20 / 64])


class SideRecorder(Constant):
    """``Constant`` that records the side of each input it is given."""

    def __init__(self, car: torch.Tensor) -> None:
        super().__init__(car)
        self.sides: list[int] = []

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.sides.append(batch.shape[-1])
        return super().forward(batch)


def test_the_context_network_looks_at_its_own_size_and_the_main_network_at_the_context_size():
    batch = torch.zeros(1, 3, 512, 512)
    own, helper = SideRecorder(torch.ones(8, 8)), SideRecorder(torch.ones(8, 8))
    answer = context_logits(own, batch, helper, ContextNetworkRule(own_share=0.5, size_share=0.75))
    assert own.sides == [320, 320] and helper.sides == [384, 384] and answer.shape == (1, 2, 512, 512)
    assert context_logits(own, torch.zeros(1, 3, 32, 32), helper, ContextNetworkRule()) is None  # no smaller size


def test_a_region_the_blend_calls_background_only_weakly_is_kept_under_a_region_margin():
    car, booth, parked = (torch.zeros(64, 64) for _ in range(3))
    car[32:64, 8:56] = 1
    booth[0:20, 0:30] = 1  # the context answer calls it background weakly (by 1 logit) ...
    parked[0:20, 34:64] = 1  # ... and this surely (by 6)
    main = logits_of(car + booth + parked)
    background = torch.zeros(64, 64)
    context = torch.where(booth.bool(), logits_of(background, 0.5), logits_of(car))
    context = torch.where(parked.bool(), logits_of(background, 3.0), context)
    every, _ = clear_with_context(main, context, 1.0)
    assert torch.equal(every[0, 1] > every[0, 0], car.bool())  # no margin: both regions go
    sure, share = clear_with_context(main, context, 1.0, least_margin=2.0)
    assert torch.equal(sure[0, 1] > sure[0, 0], (car + booth).bool()) and share.tolist() == pytest.approx([600 / 4096])
    # the segmenter takes the margin from the file's rule: a context network calling everything background
    # by 8 logits clears the car under a margin of 5, not under one of 10
    batch = -torch.ones(1, 3, 64, 64)
    batch[:, 0, 8:56, 8:56] = 1
    for margin, car_left in ((5.0, 0), (10.0, 48 * 48)):
        config = tiny_config(context_network=ContextNetworkRule(own_share=0.0, weight=1.0, region_margin=margin))
        segmenter = Segmenter(InputDrawn(), config, device="cpu", close_up=False, frame_edge=False,
                              context_network=Constant(torch.zeros(8, 8)))
        assert (segmenter.probabilities(batch)[0] > 0.5).sum() == car_left


def test_the_look_past_the_frame_edge_leaves_the_context_network_out():
    config = tiny_config(context_network=ContextNetworkRule(own_share=0.0, weight=1.0))
    helper = SideRecorder(torch.ones(8, 8))  # calls everything car: it clears nothing, it only counts
    segmenter = Segmenter(InputDrawn(), config, device="cpu", close_up=False, frame_edge=True, context_network=helper)
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[16:56, 0:40, 0] = 255  # a car cut by the frame's left side
    prediction = segmenter.predict(photo)
    assert prediction.mask[20:50, 0:36].all() and not prediction.mask[:, 48:].any()
    assert len(segmenter.context_network.sides) == 2  # the first pass and its mirror image only (a folded copy)
    edge_views = [shape for shape in segmenter.model.inputs if shape[-1] == 64]
    assert len(edge_views) == 4  # the main network masked the first pass and the reflected photo, each mirrored


def test_segmenter_loads_and_uses_the_context_network(tmp_path):
    config = tiny_config(context_network=ContextNetworkRule(own_share=0.0, weight=1.0))
    path = tmp_path / "with-context.safetensors"
    main = InputDrawn()
    # a fake "context network" that calls nothing car: every large region of the working mask is cleared
    nothing = Constant(torch.zeros(8, 8))
    segmenter = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, context_network=nothing)
    batch = -torch.ones(1, 3, 64, 64)
    batch[:, 0, 8:56, 8:56] = 1
    assert (segmenter.probabilities(batch)[0] > 0.5).sum() == 0 and segmenter.context_cleared == 1
    plain = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False)  # no network: its own look
    assert (plain.probabilities(batch)[0] > 0.5).sum() == 48 * 48
    off = Segmenter(main, config, device="cpu", close_up=False, frame_edge=False, context_network=nothing,
                    context_look=False)
    assert (off.probabilities(batch)[0] > 0.5).sum() == 48 * 48
    with pytest.raises(ValueError, match="rule"):
        Segmenter(main, replace(config, context_network=None), device="cpu", context_network=nothing)
    save_model(path, tiny_network(0), config, context_network=tiny_network(2))
    loaded = Segmenter.load(path, device="cpu")
    assert loaded.context_network is not None
    rgb = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    assert loaded.predict(rgb).probability.shape == (48, 80)


def test_the_blend_fills_large_holes_only_and_never_clears():
    size = 100
    car, panel, gap, parked, road = (torch.zeros(size, size) for _ in range(5))
    car[40:90, 10:90] = 1
    car[55:75, 30:70] = 0  # a white van's side panel the working size takes for background ...
    panel[55:75, 30:70] = 1  # ... 8 % of the area, car in the context answer
    gap[86:90, 40:44] = 1  # 16 pixels, under the least share: a gap stays as the working size draws it
    car[86:90, 40:44] = 0
    parked[0:30, 0:100] = 1  # car in the working size only: filling never clears it
    road[92:100, 0:100] = 1  # car in the context answer, 8 % of the area, but beside the car, not inside it
    main = logits_of(car + parked)
    context = logits_of(car + panel + gap + road)
    filled, shares = fill_with_context(main, context, 1.0, 0.02)
    assert torch.equal(filled[0, 1] > filled[0, 0], (car + panel + parked).bool())
    assert shares.tolist() == pytest.approx([panel.mean().item()])
    half, _ = fill_with_context(main, context, 0.5, 0.02)  # a blend of equal logits calls nothing car
    assert torch.equal(half[0, 1] > half[0, 0], (car + parked).bool())


def test_the_segmenter_fills_only_where_the_files_rule_says_so():
    batch = -torch.ones(1, 3, 64, 64)
    batch[:, 0, 8:56, 8:56] = 1
    batch[:, 0, 24:40, 24:40] = -1  # a hole of 256 pixels (6 % of the area) in the working-size answer
    whole = torch.zeros(8, 8)
    whole[1:7, 1:7] = 1  # the context network calls the car whole, hole and all
    counts = {}
    for fill in (0.0, 0.02, 0.1):
        config = tiny_config(context_network=ContextNetworkRule(own_share=0.0, weight=1.0, fill_region=fill))
        segmenter = Segmenter(InputDrawn(), config, device="cpu", close_up=False, frame_edge=False,
                              context_network=Constant(whole))
        counts[fill] = ((segmenter.probabilities(batch)[0] > 0.5).sum().item(), segmenter.context_filled)
    assert counts == {0.0: (48 * 48 - 256, 0), 0.02: (48 * 48, 1), 0.1: (48 * 48 - 256, 0)}

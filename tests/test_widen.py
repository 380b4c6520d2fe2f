"""Widening a trained network keeps its answers (so training goes on from them with more channels)."""

from __future__ import annotations

import pytest
import torch

from core.io.records import RecordError
from core.models.networks import count_parameters, create_model
from core.models.networks.fresh_widen import SlowOldEntries, freeze_old_entries, fresh_widen, old_entry_masks
from core.models.networks.widen import network_width, widen_network
from core.training.train import recipe_from_json


def _trained_looking(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, width=4)
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))  # batch-norm statistics other than the defaults
    return model.eval()


@pytest.mark.parametrize("name", ["maskingnet", "segnet", "arc2"])
def test_a_widened_network_computes_what_the_narrow_one_did(name):
    narrow = _trained_looking(name)
    wide = widen_network(narrow, 6, seed=1).eval()
    assert network_width(wide) == 6 and count_parameters(wide) > count_parameters(narrow)
    photos = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(wide(photos), narrow(photos), atol=1e-5)
        wide.train()
        narrow.train()  # with batch statistics too: the copies' statistics are their originals'
        assert torch.allclose(wide(photos), narrow(photos), atol=1e-4)


def test_copied_channels_are_not_identical_so_training_can_set_them_apart():
    wide = widen_network(_trained_looking("maskingnet"), 8, seed=1)
    first, second = wide.encoder.stages[0][0][0].weight, wide.encoder.stages[0][1][0].weight
    copy, original = next((j, i) for j in range(4, 8) for i in range(4) if torch.equal(first[j], first[i]))
    assert not torch.allclose(second[:, copy], second[:, original])


def test_widening_refuses_a_narrower_width_and_other_networks():
    with pytest.raises(ValueError, match="at least 4"):
        widen_network(_trained_looking("maskingnet"), 2)
    with pytest.raises(ValueError, match="only the SegNet family"):
        widen_network(create_model("unet", width=4), 8)


def test_a_recipe_names_the_width_to_widen_to():
    assert recipe_from_json({"widen_to": 20}, "wide.json") == {"widen_to": 20}
    with pytest.raises(RecordError, match="wide.json: the field 'widen_to' should be"):
        recipe_from_json({"widen_to": "wide"}, "wide.json")
    assert recipe_from_json({"old_entries_lr": 1e-5, "widen_fresh": True}, "wide.json") == {
        "old_entries_lr": 1e-5, "widen_fresh": True}
    with pytest.raises(RecordError, match="wide.json: the field 'old_entries_lr'"):
        recipe_from_json({"old_entries_lr": -1.0}, "wide.json")


@pytest.mark.parametrize("name", ["maskingnet", "segnet", "arc2"])
def test_fresh_channels_leave_the_answers_as_they_were(name):
    narrow = _trained_looking(name)
    wide = fresh_widen(narrow, 8, seed=1).eval()
    assert network_width(wide) == 8
    photos = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(wide(photos), narrow(photos), atol=1e-5)
        wide.train()
        narrow.train()  # the old channels never read the new ones, batch statistics or not
        assert torch.allclose(wide(photos), narrow(photos), atol=1e-4)
    fresh = wide.encoder.stages[0][0][0].weight[4:]
    assert fresh.abs().sum() > 0  # the new filters are random, not copies or zeros


def test_the_old_entries_are_the_narrow_networks_parameters():
    narrow = _trained_looking("maskingnet")
    wide = fresh_widen(narrow, 6, seed=1)
    masks = old_entry_masks(wide, 4)
    assert set(masks) == {name for name, _ in wide.named_parameters()}
    assert sum(int(mask.sum()) for mask in masks.values()) == count_parameters(narrow)
    old = dict(narrow.named_parameters())
    for name, parameter in wide.named_parameters():  # the old entries, in order, are the narrow network's
        assert torch.equal(parameter[masks[name]], old[name].flatten())


def test_frozen_old_entries_do_not_move_while_the_fresh_ones_learn():
    wide = fresh_widen(_trained_looking("maskingnet"), 6, seed=1).train()
    masks = old_entry_masks(wide, 4)
    freeze_old_entries(wide, masks)
    before = {name: p.detach().clone() for name, p in wide.named_parameters()}
    optimizer = torch.optim.Adam(wide.parameters(), lr=1e-2)
    for _ in range(3):
        loss = wide(torch.randn(2, 3, 64, 64)).logsumexp(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    moved = {name: p.detach() != before[name] for name, p in wide.named_parameters()}
    assert not any((moved[name] & masks[name]).any() for name in masks)
    assert any((moved[name] & ~masks[name]).any() for name in masks)


def test_slow_old_entries_move_at_their_own_share_of_the_step():
    """One Adam step, slowed and not, from the same weights and batch: the old entries move a quarter
    as far, the fresh ones as far."""
    torch.manual_seed(3)
    images = torch.randn(2, 3, 64, 64)
    steps = {}
    for ratio in (None, 0.25):
        wide = fresh_widen(_trained_looking("maskingnet"), 6, seed=1).train()
        masks = old_entry_masks(wide, 4)
        slow = SlowOldEntries(wide, masks, ratio) if ratio is not None else None
        before = {name: p.detach().clone() for name, p in wide.named_parameters()}
        optimizer = torch.optim.Adam(wide.parameters(), lr=1e-2)
        optimizer.zero_grad()
        wide(images).logsumexp(1).mean().backward()
        if slow is not None:
            slow.before_step()
        optimizer.step()
        if slow is not None:
            slow.after_step()
        steps[ratio] = {name: p.detach() - before[name] for name, p in wide.named_parameters()}
    for name, old in masks.items():
        full, slowed = steps[None][name], steps[0.25][name]
        assert torch.allclose(slowed[old], 0.25 * full[old], atol=1e-7)
        assert torch.allclose(slowed[~old], full[~old], atol=1e-7)
    assert any(steps[None][name][old].abs().max() > 0 for name, old in masks.items())
    with pytest.raises(ValueError, match="at least 0"):
        SlowOldEntries(wide, masks, -1.0)
    with pytest.raises(RuntimeError, match="without before_step"):
        SlowOldEntries(wide, masks, 0.5).after_step()


def test_fresh_widening_refuses_a_narrower_width_and_other_networks():
    with pytest.raises(ValueError, match="at least 4"):
        fresh_widen(_trained_looking("maskingnet"), 2)
    with pytest.raises(ValueError, match="only the SegNet family"):
        fresh_widen(create_model("unet", width=4), 8)

"""The training loop: it learns, reports, saves, resumes, stops when asked, and fine-tunes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.models.checkpoint import load_model, read_config, save_model
from core.training.data import Sample, find_samples, split_by_group
from core.training.train import (
    BEST,
    HISTORY,
    LAST,
    STATE,
    TrainConfig,
    TrainEvent,
    _batch_tensors,
    epoch_file,
    learning_rate,
    segmentation_loss,
    train,
)

QUICK = TrainConfig(
    arch="maskingnet", width=4, size=64, epochs=3, batch_size=2, lr=1e-2, augment=False,
    max_steps_per_epoch=2, device="cpu", seed=0,
)


@pytest.fixture
def split(few_cars: Path) -> tuple[list[Sample], list[Sample]]:
    samples, _ = find_samples(few_cars / "images", few_cars / "masks")
    train_samples, val_samples = split_by_group(samples, 0.5)  # one car each side
    assert train_samples and val_samples
    return train_samples, val_samples


def _run(config: TrainConfig, split, out: Path, **kwargs) -> list[TrainEvent]:
    return list(train(config, *split, out, **kwargs))


def test_defaults_follow_the_study():
    config = TrainConfig()
    assert (config.lr, config.lr_halve_every, config.batch_size) == (1e-3, 40, 4)
    assert [learning_rate(config, epoch) for epoch in (0, 39, 40, 79, 80)] == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4]
    assert set(config.to_dict()) >= {"arch", "width", "size", "epochs", "seed", "init"}


def test_a_short_run_on_real_photos_lowers_the_loss(split, tmp_path):
    events = _run(QUICK, split, tmp_path / "run", info={"name": "quick"})
    kinds = [event.kind for event in events]
    assert kinds == ["status"] + (["step"] * 2 + ["epoch"]) * 3 + ["done"]
    epochs = [event for event in events if event.kind == "epoch"]
    assert [event.epoch for event in epochs] == [1, 2, 3]
    assert epochs[-1].loss < epochs[0].loss, [event.loss for event in epochs]
    assert all(event.val_dice is not None and 0.0 <= event.val_dice <= 1.0 for event in epochs)
    steps = [event for event in events if event.kind == "step"]
    assert [(e.epoch, e.step, e.steps_per_epoch) for e in steps[:3]] == [(1, 1, 2), (1, 2, 2), (2, 1, 2)]
    assert all(np.isfinite(e.loss) and e.lr == 1e-2 and e.eta_s is not None for e in steps)
    assert events[-1].best_dice == max(event.val_dice for event in epochs)

    run = tmp_path / "run"
    assert {p.name for p in run.iterdir() if not p.name.startswith(".")} == {LAST, BEST, STATE, HISTORY}
    history = json.loads((run / HISTORY).read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert [record["loss"] for record in history] == pytest.approx([event.loss for event in epochs])
    model, config = load_model(run / LAST)
    assert (config.arch, config.width, config.preprocess.size) == ("maskingnet", 4, 64)
    assert config.info["name"] == "quick"
    assert config.info["epochs_done"] == 3
    assert config.info["train_groups"] == sorted({s.group for s in split[0]})
    assert config.info["val_groups"] == sorted({s.group for s in split[1]})
    assert config.info["train_config"]["width"] == 4
    best = read_config(run / BEST)
    assert best.info["val_dice"] == events[-1].best_dice


def test_resume_continues_at_the_saved_epoch(split, tmp_path):
    run = tmp_path / "run"
    _run(replace(QUICK, epochs=2), split, run)
    weights_after_two, _ = load_model(run / LAST)
    events = _run(replace(QUICK, epochs=3), split, run)
    assert events[0].kind == "status" and "resuming at epoch 3" in events[0].message
    assert {event.epoch for event in events if event.kind in ("step", "epoch")} == {3}
    history = json.loads((run / HISTORY).read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert events[-1].kind == "done" and len(events[-1].history) == 3
    weights_after_three, _ = load_model(run / LAST)
    changed = [not torch.equal(a, b) for a, b in zip(weights_after_two.parameters(), weights_after_three.parameters())]
    assert any(changed)


def test_keep_epochs_leaves_each_epochs_weights_across_a_resume(split, tmp_path):
    run = tmp_path / "run"
    _run(replace(QUICK, epochs=2, keep_epochs=True), split, run)
    _run(replace(QUICK, epochs=3, keep_epochs=True), split, run)
    kept = sorted(path.name for path in run.glob("epoch-*.safetensors"))
    assert kept == [epoch_file(1), epoch_file(2), epoch_file(3)] == [f"epoch-0{n}.safetensors" for n in (1, 2, 3)]
    history = json.loads((run / HISTORY).read_text())
    for record in history:
        info = read_config(run / epoch_file(record["epoch"])).info
        assert info["epochs_done"] == record["epoch"] and info["val_dice"] == record["val_dice"]
    last, _ = load_model(run / LAST)
    third, _ = load_model(run / epoch_file(3))
    assert all(torch.equal(a, b) for a, b in zip(last.parameters(), third.parameters()))


class _InfiniteGradient(torch.autograd.Function):
    """Passes the loss through unchanged and sends inf back: a finite loss with a broken gradient."""

    @staticmethod
    def forward(ctx, loss):
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


@pytest.mark.parametrize("breakage", ["gradient", "loss"])
def test_a_step_with_non_finite_values_is_skipped_and_the_weights_stay_finite(split, tmp_path, monkeypatch, breakage):
    import core.training.train as train_module

    calls = []

    def broken_on_the_third_step(*args, **kwargs):
        loss = segmentation_loss(*args, **kwargs)
        calls.append(1)
        if len(calls) != 3:
            return loss
        return _InfiniteGradient.apply(loss) if breakage == "gradient" else loss * float("inf")

    monkeypatch.setattr(train_module, "segmentation_loss", broken_on_the_third_step)
    run = tmp_path / "run"
    events = _run(QUICK, split, run)
    skipped = [event for event in events if event.kind == "step" and event.message]
    assert [(event.epoch, event.step) for event in skipped] == [(2, 1)]
    assert "skipped: the loss or a gradient was not finite" in skipped[0].message
    assert events[-1].kind == "done"
    history = json.loads((run / HISTORY).read_text())
    assert [record["skipped_steps"] for record in history] == [0, 1, 1]
    assert all(np.isfinite(record["loss"]) for record in history)
    model, _ = load_model(run / LAST)
    assert all(torch.isfinite(parameter).all() for parameter in model.parameters())
    resumed = _run(replace(QUICK, epochs=4), split, run)
    assert all(np.isfinite(event.loss) for event in resumed if event.kind == "epoch")


def test_a_finished_run_resumed_does_nothing_more(split, tmp_path):
    run = tmp_path / "run"
    _run(replace(QUICK, epochs=1), split, run)
    before = (run / LAST).read_bytes()
    events = _run(replace(QUICK, epochs=1), split, run)
    assert [event.kind for event in events] == ["status", "done"]
    assert (run / LAST).read_bytes() == before


def test_should_stop_ends_cleanly_with_the_state_saved(split, tmp_path):
    run = tmp_path / "run"
    asked = []

    def stop_after_one_step() -> bool:
        asked.append(True)
        return len(asked) > 1

    events = _run(QUICK, split, run, should_stop=stop_after_one_step)
    assert [event.kind for event in events] == ["status", "step", "stopped"]
    assert events[-1].step == 1 and "saved" in events[-1].message
    assert (run / LAST).is_file() and (run / STATE).is_file()
    assert not (run / BEST).exists()  # no epoch finished, so nothing was validated

    events = _run(replace(QUICK, epochs=1), split, run)
    assert "resuming at epoch 1, step 1" in events[0].message
    steps = [event for event in events if event.kind == "step"]
    assert [(event.epoch, event.step) for event in steps] == [(1, 2)]  # the stopped step is not redone
    assert events[-1].kind == "done"


def test_closing_the_generator_stops_between_steps(split, tmp_path):
    generator = train(QUICK, *split, tmp_path / "run")
    assert next(generator).kind == "status"
    assert next(generator).kind == "step"
    generator.close()  # what a caller that loses interest does; must not raise


def test_the_seed_fixes_the_initial_weights(split, tmp_path):
    for name in ("a", "b"):
        _run(QUICK, split, tmp_path / name, should_stop=lambda: True)
    first, _ = load_model(tmp_path / "a" / LAST)
    second, _ = load_model(tmp_path / "b" / LAST)
    assert all(torch.equal(x, y) for x, y in zip(first.state_dict().values(), second.state_dict().values()))
    _run(replace(QUICK, seed=1), split, tmp_path / "c", should_stop=lambda: True)
    other, _ = load_model(tmp_path / "c" / LAST)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)


def test_resume_keeps_the_run_folders_network_and_says_so(split, tmp_path):
    run = tmp_path / "run"
    _run(QUICK, split, run, should_stop=lambda: True)
    events = _run(replace(QUICK, arch="unet", width=8, epochs=1, max_steps_per_epoch=1), split, run)
    assert "holds a maskingnet of width 4" in events[0].message
    config = read_config(run / LAST)
    assert (config.arch, config.width) == ("maskingnet", 4)


def test_resume_from_weights_whose_optimizer_state_is_missing(split, tmp_path):
    run = tmp_path / "run"
    _run(replace(QUICK, epochs=1), split, run)
    (run / STATE).unlink()
    events = _run(replace(QUICK, epochs=2), split, run)
    assert "resuming at epoch 2" in events[0].message and "optimizer starts afresh" in events[0].message
    assert [event.epoch for event in events if event.kind == "epoch"] == [2]
    assert [record["epoch"] for record in json.loads((run / HISTORY).read_text())] == [1, 2]


def test_fine_tuning_starts_from_the_init_checkpoint(split, tmp_path, tiny_checkpoint):
    config = replace(QUICK, arch="unet", width=16, size=96, epochs=1, max_steps_per_epoch=1, init=str(tiny_checkpoint))
    events = _run(config, split, tmp_path / "tuned")
    assert events[-1].kind == "done"
    tuned = read_config(tmp_path / "tuned" / LAST)
    assert (tuned.arch, tuned.width) == ("maskingnet", 4)  # the init's network, not the flags'
    assert tuned.preprocess.size == 96  # the working size asked for


def test_a_model_trained_from_init_keeps_its_lineage_but_not_its_name_or_figures(split, tmp_path, tiny_checkpoint):
    """Weights trained from a shipped model are not that model: evaluation must not label them
    "default", nor show the shipped model's measured figures as theirs."""
    model, config = load_model(tiny_checkpoint)
    shipped = tmp_path / "shipped.safetensors"
    one_file = {"name": "default", "shipped": "2026-12-04", "metrics": {"val_dice_512": 0.99}, "figures": {"a": 1},
                "val_dice": 0.98, "history": [{"epoch": 1}], "averaged_from": [{"file": "a", "share": 0.5, "seed": 1}]}
    save_model(shipped, model, replace(config, info={**one_file, "stages": [{"train_config": {}}], "trained_before": ["old:1"]}))
    _run(replace(QUICK, epochs=1, max_steps_per_epoch=1, init=str(shipped)), split, tmp_path / "run")
    for name in (LAST, BEST):
        info = read_config(tmp_path / "run" / name).info
        assert not set(one_file) - {"val_dice", "history"} & set(info)
        assert info["history"] != one_file["history"] and info["val_dice"] != one_file["val_dice"]
        assert info["stages"] == [{"train_config": {}}] and "old:1" in info["trained_before"]  # lineage stays
        assert info["train_config"]["init"] == str(shipped)
    tuned = _run(replace(QUICK, epochs=1, max_steps_per_epoch=1, init=str(shipped)), split, tmp_path / "named",
                 info={"name": "my lot"})
    assert tuned[-1].kind == "done" and read_config(tmp_path / "named" / LAST).info["name"] == "my lot"


def test_a_run_on_part_of_its_starting_models_photos_keeps_that_models_held_out_record(split, tmp_path):
    """A fine-tune on a subset of photos (no validation photos of its own, as on a machine the data
    was packed for) must still record the cars its starting model held out, and what that model
    trained on, so the next stage's split (``keep_split``) never trains on a held-out car."""
    train_samples, val_samples = split
    held_out = {s.group for s in val_samples}
    start = tmp_path / "start.safetensors"
    _run(replace(QUICK, epochs=1), split, tmp_path / "first")
    model, config = load_model(tmp_path / "first" / LAST)
    trained_first = set(config.info["train_groups"]) | {"older:car"}
    save_model(start, model, replace(config, info={**config.info, "trained_before": ["older:car"]}))
    _run(replace(QUICK, epochs=1, init=str(start)), (train_samples[:1], []), tmp_path / "subset")
    info = read_config(tmp_path / "subset" / LAST).info
    assert info["train_groups"] == [train_samples[0].group]
    assert set(info["val_groups"]) == held_out  # not empty: the starting model's held-out cars
    assert set(info["trained_before"]) | set(info["train_groups"]) == trained_first
    assert not set(info["val_groups"]) & trained_first


def test_without_validation_photos_every_epoch_is_kept_as_best(split, tmp_path):
    events = _run(replace(QUICK, epochs=1), (split[0], []), tmp_path / "run")
    epoch = next(event for event in events if event.kind == "epoch")
    assert epoch.val_dice is None
    assert (tmp_path / "run" / BEST).is_file()


def test_no_training_photos_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no training photos"):
        list(train(QUICK, [], [], tmp_path / "run"))


# --- the loss and the batch -------------------------------------------------------------------


def test_loss_rewards_the_right_answer():
    target = torch.zeros(1, 8, 8)
    target[:, 2:6, 2:6] = 1.0
    right = torch.stack([-(target * 8 - 4), target * 8 - 4], dim=1)  # confident and correct
    wrong = -right
    assert segmentation_loss(right, target, None, 0.5) < 0.1
    assert segmentation_loss(wrong, target, None, 0.5) > 4


def test_loss_without_dice_is_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 8, 8)
    target = (torch.rand(2, 8, 8) > 0.5).float()
    expected = F.cross_entropy(logits, target.long())
    assert torch.allclose(segmentation_loss(logits, target, None, 0.0), expected, atol=1e-6)


def test_pixel_weights_emphasise_the_marked_pixels():
    target = torch.zeros(1, 4, 4)
    logits = torch.zeros(1, 2, 4, 4)
    logits[0, 1, 0, 0] = 5.0  # one badly wrong pixel
    uniform = segmentation_loss(logits, target, torch.ones(1, 4, 4), 0.0)
    marked = torch.ones(1, 4, 4)
    marked[0, 0, 0] = 5.0
    assert segmentation_loss(logits, target, marked, 0.0) > uniform
    assert torch.allclose(uniform, segmentation_loss(logits, target, None, 0.0))


def test_batches_mix_photos_with_and_without_correction_maps():
    from core.models.preprocess import Preprocess
    from core.training.data import CachedSamples

    cached = CachedSamples(samples=[], images=[np.zeros((32, 32, 3), np.uint8)] * 2,
                           targets=[np.ones((32, 32), np.float32)] * 2,
                           weights=[None, np.full((32, 32), 1.0, np.float32)], confidences=[None, None])
    config = replace(QUICK, augment=False, correction_weight=4.0)
    images, targets, weights = _batch_tensors(cached, [0, 1], np.random.default_rng(0), config, Preprocess(size=32))
    assert images.shape == (2, 3, 32, 32) and targets.shape == (2, 32, 32)
    assert weights is not None
    assert weights[0].unique().tolist() == [1.0] and weights[1].unique().tolist() == [5.0]
    _, _, none = _batch_tensors(cached, [0], np.random.default_rng(0), config, Preprocess(size=32))
    assert none is None


def test_a_new_width_64_encoder_can_start_from_vgg_weights(split, tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    with torch.device("meta"):
        layout = make_layers(cfgs["D"], batch_norm=True).state_dict()
    features = {name: torch.rand(tensor.shape).to(tensor.dtype) for name, tensor in layout.items()}
    torch.save({f"features.{name}": tensor for name, tensor in features.items()}, tmp_path / "vgg16_bn.pth")
    config = replace(QUICK, arch="segnet", width=64, size=32, vgg_init=str(tmp_path / "vgg16_bn.pth"))
    events = _run(config, split, tmp_path / "run", should_stop=lambda: True)  # save the starting weights
    assert "encoder initialised from VGG-16-BN (13 layers)" in events[0].message
    model, saved = load_model(tmp_path / "run" / LAST)
    assert torch.equal(model.encoder.stages[2][1][0].weight, features["17.weight"])
    assert saved.info["train_config"]["vgg_init"].endswith("vgg16_bn.pth")

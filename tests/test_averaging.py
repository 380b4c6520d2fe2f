"""Weight averaging (``core/training/averaging.py``, ``maskingnet average``): the arithmetic, the
records that keep held-out figures honest, and refusals that name the file."""

from __future__ import annotations

import pytest
import torch

from core.cli import main
from core.errors import CheckpointError
from core.models.checkpoint import ModelConfig, load_model, save_model
from core.models.preprocess import Preprocess
from core.training.averaging import average_checkpoints, save_average


def _checkpoint(path, seed: int, *, width: int = 4, size: int = 64, **info) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    config = ModelConfig(arch="maskingnet", width=width, preprocess=Preprocess(size=size), info=info)
    model = config.build()
    with torch.no_grad():  # batch-norm statistics that differ between files, as after training
        for name, tensor in model.state_dict().items():
            if "running" in name:
                tensor.uniform_(0.5, 1.5)
            elif name.endswith("num_batches_tracked"):
                tensor.fill_(seed)
    save_model(path, model, config)
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_equal_shares_give_the_mean_of_every_float_tensor(tmp_path):
    first = _checkpoint(tmp_path / "a.safetensors", 1)
    second = _checkpoint(tmp_path / "b.safetensors", 2)
    model, _ = average_checkpoints([tmp_path / "a.safetensors", tmp_path / "b.safetensors"])
    averaged = model.state_dict()
    for name, tensor in averaged.items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (first[name] + second[name]) / 2)
        else:  # batch-norm's step counters: the first file's
            assert torch.equal(tensor, first[name])
    assert any("running_var" in name for name in averaged)


def test_shares_are_relative(tmp_path):
    first = _checkpoint(tmp_path / "a.safetensors", 1)
    second = _checkpoint(tmp_path / "b.safetensors", 2)
    model, config = average_checkpoints([tmp_path / "a.safetensors", tmp_path / "b.safetensors"], [3, 1])
    name = next(name for name, tensor in first.items() if tensor.is_floating_point())
    torch.testing.assert_close(model.state_dict()[name], 0.75 * first[name] + 0.25 * second[name])
    assert [entry["share"] for entry in config.info["averaged_from"]] == [0.75, 0.25]


def test_the_average_records_its_parts_and_holds_out_nothing_a_part_trained_on(tmp_path):
    _checkpoint(tmp_path / "a.safetensors", 1, train_config={"seed": 12}, train_groups=["car1", "car2"],
                val_groups=["car3", "car4", "car5"], trained_before=["car0"], name="default",
                metrics={"val_dice_512": 0.99}, val_dice=0.97)
    _checkpoint(tmp_path / "b.safetensors", 2, train_config={"seed": 13}, train_groups=["car1", "car3"],
                val_groups=["car2", "car4"])
    out = tmp_path / "soup.safetensors"
    save_average(out, [tmp_path / "a.safetensors", tmp_path / "b.safetensors"])
    _, config = load_model(out)
    info = config.info
    assert info["train_groups"] == ["car1", "car2", "car3"]
    assert info["trained_before"] == ["car0"]
    assert info["val_groups"] == ["car4", "car5"]  # car3 was trained on by the second run
    assert not {"name", "metrics", "val_dice"} & set(info)  # the first file's own figures are not the average's
    assert info["train_config"] == {"seed": 12}
    assert [(entry["file"], entry["seed"]) for entry in info["averaged_from"]] == [("a.safetensors", 12),
                                                                                    ("b.safetensors", 13)]


def test_another_network_is_refused_naming_its_file(tmp_path):
    _checkpoint(tmp_path / "a.safetensors", 1)
    _checkpoint(tmp_path / "wide.safetensors", 2, width=8)
    _checkpoint(tmp_path / "big.safetensors", 3, size=128)
    with pytest.raises(CheckpointError, match=r"wide\.safetensors.*width 8 against 4"):
        average_checkpoints([tmp_path / "a.safetensors", tmp_path / "wide.safetensors"])
    with pytest.raises(CheckpointError, match=r"big\.safetensors.*preprocessing"):
        average_checkpoints([tmp_path / "a.safetensors", tmp_path / "big.safetensors"])


@pytest.mark.parametrize("shares, problem", [(None, "two model files"), ([1, -1], "zero or more"),
                                             ([0, 0], "not all zero"), ([1, float("nan")], "finite"),
                                             ([1, 1, 1], "3 shares for 2")])
def test_bad_requests_are_refused(tmp_path, shares, problem):
    _checkpoint(tmp_path / "a.safetensors", 1)
    _checkpoint(tmp_path / "b.safetensors", 2)
    paths = [tmp_path / "a.safetensors"] if problem == "two model files" else [tmp_path / "a.safetensors",
                                                                                tmp_path / "b.safetensors"]
    with pytest.raises(ValueError, match=problem):
        average_checkpoints(paths, shares)


def test_the_command_writes_a_model_the_app_loads_and_errors_in_one_line(tmp_path, capsys):
    _checkpoint(tmp_path / "a.safetensors", 1)
    run = tmp_path / "run"
    run.mkdir()
    _checkpoint(run / "best.safetensors", 2)  # a run folder stands for its best checkpoint
    out = tmp_path / "soup.safetensors"
    assert main(["average", str(tmp_path / "a.safetensors"), str(run), "-o", str(out), "--shares", "1", "3"]) == 0
    assert "a.safetensors 0.25, best.safetensors 0.75" in capsys.readouterr().out
    load_model(out)

    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    assert main(["average", str(tmp_path / "a.safetensors"), str(tmp_path / "broken.safetensors"),
                 "-o", str(tmp_path / "x.safetensors")]) == 2
    error = capsys.readouterr().err
    assert "broken.safetensors" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "x.safetensors").exists()

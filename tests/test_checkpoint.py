"""Checkpoints: safetensors + configuration, exact round trips, clear refusals, optimizer state,
and how model names resolve to files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from core.errors import CheckpointError
from core.models.checkpoint import (
    ModelConfig,
    load_model,
    load_optimizer,
    read_config,
    read_safetensors,
    save_model,
    save_optimizer,
)
from core.models.model_store import (
    list_user_models,
    resolve_model,
    shipped_model_path,
    user_model_path,
)
from core.models.networks import MODEL_NAMES
from core.models.preprocess import Preprocess


def _config(arch: str = "maskingnet", **info) -> ModelConfig:
    return ModelConfig(arch=arch, width=4, preprocess=Preprocess(size=64, mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.4)),
                       info=info)


@pytest.mark.parametrize("arch", MODEL_NAMES)
def test_save_then_load_gives_identical_outputs(arch, tmp_path):
    torch.manual_seed(1)
    config = _config(arch, name="round trip", metrics={"dice": 0.99})
    model = config.build()
    # Non-trivial BatchNorm statistics, so the running buffers are part of the check.
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
    model.eval()
    path = tmp_path / f"{arch}.safetensors"
    save_model(path, model, config)
    loaded, loaded_config = load_model(path)
    assert not loaded.training
    assert loaded_config == config
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_configuration_travels_in_the_file(tmp_path):
    config = _config(name="my model", train_photos=12, history=[{"epoch": 1, "val_dice": 0.9}])
    path = tmp_path / "m.safetensors"
    save_model(path, config.build(), config)
    assert read_config(path) == config
    _, metadata = read_safetensors(path)
    stored = json.loads(metadata["maskingnet"])
    assert stored["arch"] == "maskingnet" and stored["width"] == 4 and stored["num_classes"] == 2
    assert stored["preprocess"] == {"size": 64, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4]}
    assert stored["info"]["train_photos"] == 12
    assert stored["format"] == "1"


def test_a_checkpoint_is_plain_safetensors_that_others_can_read(tmp_path):
    from safetensors import safe_open

    config = _config()
    path = tmp_path / "m.safetensors"
    save_model(path, config.build(), config)
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
    assert keys == set(config.build().state_dict())


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    config = _config()
    path = tmp_path / "m.safetensors"
    save_model(path, config.build(), config)
    save_model(path, config.build(), config)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_saving_from_channels_last_and_reloading(tmp_path):
    config = _config()
    model = config.build().to(memory_format=torch.channels_last).eval()
    path = tmp_path / "cl.safetensors"
    save_model(path, model, config)
    loaded, _ = load_model(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=1e-6)


# --- refusals ---------------------------------------------------------------------------------


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"a": torch.zeros(2)}, path)  # a pickle: never loaded
    with pytest.raises(CheckpointError, match="not a safetensors model file") as info:
        load_model(path)
    assert str(path) in str(info.value)
    text = tmp_path / "notes.safetensors"
    text.write_text("hello, this is text")
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_model(text)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        load_model(tmp_path)


def test_safetensors_without_a_configuration_is_refused(tmp_path):
    path = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without a MaskingNet configuration"):
        load_model(path)


def _tensors_and_metadata(config: ModelConfig) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    return dict(config.build().state_dict()), {"maskingnet": config.to_json()}


def test_missing_tensors_are_named(tmp_path):
    tensors, metadata = _tensors_and_metadata(_config())
    del tensors["classifier.weight"]
    path = tmp_path / "missing.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"1 missing tensor\(s\): classifier.weight"):
        load_model(path)


def test_extra_tensors_are_named(tmp_path):
    tensors, metadata = _tensors_and_metadata(_config())
    tensors["surprise.weight"] = torch.zeros(3)
    path = tmp_path / "extra.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"1 unexpected tensor\(s\): surprise.weight"):
        load_model(path)


def test_wrongly_shaped_tensors_are_named(tmp_path):
    # Width-8 weights under a width-4 configuration: every convolution is the wrong shape.
    tensors = dict(ModelConfig(arch="maskingnet", width=8).build().state_dict())
    path = tmp_path / "wrong.safetensors"
    save_file(tensors, str(path), metadata={"maskingnet": _config().to_json()})
    with pytest.raises(CheckpointError, match=r"does not fit a maskingnet of width 4: \d+ wrongly shaped") as info:
        load_model(path)
    assert "more" in str(info.value)  # long lists are shortened
    assert "\n" not in str(info.value)


def test_unknown_architecture_is_refused_with_the_valid_names(tmp_path):
    tensors, _ = _tensors_and_metadata(_config())
    metadata = json.loads(_config().to_json())
    metadata["arch"] = "transformer9000"
    path = tmp_path / "alien.safetensors"
    save_file(tensors, str(path), metadata={"maskingnet": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match="unknown architecture 'transformer9000'") as info:
        read_config(path)
    assert all(name in str(info.value) for name in MODEL_NAMES)


def test_unreadable_configuration_is_refused(tmp_path):
    tensors, _ = _tensors_and_metadata(_config())
    for bad in ("{not json", json.dumps({"arch": "unet"}), json.dumps({**json.loads(_config().to_json()),
                                                                       "preprocess": {"size": 50, "mean": [0, 0, 0],
                                                                                      "std": [1, 1, 1]}})):
        path = tmp_path / "bad.safetensors"
        save_file(tensors, str(path), metadata={"maskingnet": bad})
        with pytest.raises(CheckpointError, match="configuration is unreadable"):
            load_model(path)


# --- optimizer state --------------------------------------------------------------------------


def _trained_optimizer(model: torch.nn.Module) -> torch.optim.Adam:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.8, 0.95))
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(2, 3, 32, 32)).square().mean().backward()
        optimizer.step()
    return optimizer


def test_optimizer_state_round_trip(tmp_path):
    torch.manual_seed(0)
    model = _config().build()
    optimizer = _trained_optimizer(model)
    progress = {"epoch": 3, "step": 7, "best_dice": 0.97, "history": [{"epoch": 1, "loss": 0.4}]}
    path = tmp_path / "state.safetensors"
    save_optimizer(path, optimizer, progress)

    fresh = torch.optim.Adam(model.parameters(), lr=1.0)
    assert load_optimizer(path, fresh) == progress
    original, restored = optimizer.state_dict(), fresh.state_dict()
    assert restored["param_groups"][0]["lr"] == 3e-3
    assert tuple(restored["param_groups"][0]["betas"]) == (0.8, 0.95)
    assert original["state"].keys() == restored["state"].keys()
    for index, state in original["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(restored["state"][index][key])), (index, key)

    # The restored optimizer takes the very same next step.
    twin = _config().build()
    twin.load_state_dict(model.state_dict())
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=1.0)
    load_optimizer(path, twin_optimizer)
    x = torch.randn(2, 3, 32, 32)
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        opt.zero_grad()
        net.eval()
        net(x).square().mean().backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_a_model_file_is_not_a_training_state(tmp_path, tiny_checkpoint):
    optimizer = torch.optim.Adam(_config().build().parameters())
    with pytest.raises(CheckpointError, match="not a training state file"):
        load_optimizer(tiny_checkpoint, optimizer)


# --- naming models ----------------------------------------------------------------------------


def test_resolve_a_file_and_a_run_folder(tmp_path, tiny_checkpoint):
    assert resolve_model(tiny_checkpoint) == tiny_checkpoint
    assert resolve_model(str(tiny_checkpoint)) == tiny_checkpoint
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(CheckpointError, match="without best/last/model.safetensors"):
        resolve_model(run)
    (run / "last.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    assert resolve_model(run) == run / "last.safetensors"
    (run / "best.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    assert resolve_model(run) == run / "best.safetensors"


def test_user_model_versions_resolve_by_name(tiny_checkpoint, isolated_home):
    assert list_user_models() == []
    path = user_model_path("my-cars-v1")
    assert isolated_home in path.parents
    path.parent.mkdir(parents=True)
    path.write_bytes(tiny_checkpoint.read_bytes())
    assert list_user_models() == ["my-cars-v1"]
    assert resolve_model("my-cars-v1") == path


def test_unknown_names_and_a_missing_default_say_what_to_do(tmp_path, monkeypatch):
    import core.models.model_store

    with pytest.raises(CheckpointError, match="no such model file or model name"):
        resolve_model("no-such-model")
    if shipped_model_path().is_file():
        assert resolve_model(None) == shipped_model_path()
        assert resolve_model("default") == shipped_model_path()
    monkeypatch.setattr(core.models.model_store, "SHIPPED_MODELS_DIR", tmp_path / "nothing-shipped")
    for spec in (None, "", "default"):
        with pytest.raises(CheckpointError, match="no default model is installed") as info:
            resolve_model(spec)
        assert "--model" in str(info.value) and "\n" not in str(info.value)


def test_a_training_state_of_another_network_is_refused(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "state.safetensors"
    save_optimizer(path, _trained_optimizer(_config("maskingnet").build()), {"epoch": 1})
    other = torch.optim.Adam(_config("unet").build().parameters())
    with pytest.raises(CheckpointError, match="does not fit this model's optimizer") as info:
        load_optimizer(path, other)
    assert str(path) in str(info.value)


def test_a_training_state_with_foreign_tensors_is_refused(tmp_path):
    path = tmp_path / "state.safetensors"
    save_file({"weights": torch.zeros(2)}, str(path), metadata={"param_groups": "[]", "progress": "{}"})
    with pytest.raises(CheckpointError, match="not a training state file"):
        load_optimizer(path, torch.optim.Adam(_config().build().parameters()))

"""Untrusted model files (issue 8): anything that is not a fitting MaskingNet safetensors file is
refused with one line that says what is wrong, and a pickle is never loaded, so the code it
carries never runs."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from core import cli
from core.errors import CheckpointError
from core.masking.inference import Segmenter
from core.models.checkpoint import MAX_WORKING_SIZE, ModelConfig, load_model, read_config, save_model
from core.models.model_store import user_model_path
from core.models.networks import MODEL_NAMES
from core.models.preprocess import Preprocess

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Planted:
    """Unpickling this calls ``open(target, "w")``: the file appearing proves code ran."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def pickles(folder: Path, sentinel: Path) -> dict[str, Path]:
    """Planted pickles in the formats people pass around, under model-like names."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for protocol in (0, 2, 5):
        for suffix in (".pt", ".safetensors"):
            path = folder / f"evil-p{protocol}{suffix}"
            path.write_bytes(pickle.dumps({"state_dict": Planted(sentinel)}, protocol=protocol))
            files[path.name] = path
    zipped = folder / "evil-torch-save.pth"
    torch.save({"state_dict": Planted(sentinel)}, zipped)  # torch's zip format
    files[zipped.name] = zipped
    renamed = folder / "evil-torch-save.safetensors"
    renamed.write_bytes(zipped.read_bytes())
    files[renamed.name] = renamed
    return files


@pytest.fixture
def planted(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    sentinel = tmp_path / "code-ran.txt"
    files = pickles(tmp_path / "models", sentinel)
    # the plants are live: loading one with plain pickle would run the code
    pickle.loads(files["evil-p2.pt"].read_bytes())
    assert sentinel.exists()
    sentinel.unlink()
    return files, sentinel


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail loudly if anything reaches Python's or torch's unpicklers."""

    def refuse(*args, **kwargs):
        raise AssertionError("an unpickler was called on a model file")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)


def test_planted_pickles_are_never_loaded(planted, no_unpickling) -> None:
    files, sentinel = planted
    for path in files.values():
        for load in (load_model, read_config, lambda p: Segmenter.load(p, device="cpu")):
            with pytest.raises(CheckpointError) as caught:
                load(path)
            message = str(caught.value)
            assert message.startswith(f"{path}: not a safetensors model file") and "\n" not in message
    assert not sentinel.exists()


def test_planted_pickle_as_a_run_folder_or_model_name(planted, no_unpickling, tmp_path: Path) -> None:
    files, sentinel = planted
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.safetensors").write_bytes(files["evil-p5.safetensors"].read_bytes())
    version = user_model_path("evil")
    version.parent.mkdir(parents=True)
    version.write_bytes(files["evil-torch-save.safetensors"].read_bytes())
    for spec in (run, "evil"):
        with pytest.raises(CheckpointError, match="not a safetensors model file"):
            Segmenter.load(spec, device="cpu")
    assert not sentinel.exists()


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "car.jpg"
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(path)
    return path


def test_planted_pickle_through_the_cli(planted, no_unpickling, tmp_path: Path, capsys) -> None:
    files, sentinel = planted
    source = photo(tmp_path)
    for path in files.values():
        for argv in (["predict", str(source), "-o", str(tmp_path / "out"), "--model", str(path)],
                     ["eval", "--images", str(tmp_path), "--masks", str(tmp_path), "--model", str(path)]):
            assert cli.main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: {path}: not a safetensors model file") and err.count("\n") == 1
    assert not sentinel.exists()
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


def test_planted_pickle_in_a_terminal_process(planted, tmp_path: Path) -> None:
    files, sentinel = planted
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "predict", str(photo(tmp_path)), "-o", str(tmp_path / "out"),
         "--model", str(files["evil-torch-save.pth"])],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {files['evil-torch-save.pth']}: not a safetensors model file (bad header)\n"
    assert not sentinel.exists()


def test_vgg_weights_loader_refuses_code_in_pickles(planted) -> None:
    """The one place that reads a torch pickle (optional VGG weights) uses ``weights_only``."""
    from core.models.networks.vgg_init import load_vgg16_bn_state

    files, sentinel = planted
    for name in ("evil-torch-save.pth", "evil-p2.pt"):
        with pytest.raises(ValueError) as caught:
            load_vgg16_bn_state(files[name])
        assert str(caught.value) == (f"{files[name]}: not a readable VGG-16-BN state dict "
                                     "(it holds Python objects, which are never loaded)")
    assert not sentinel.exists()


def test_planted_pickle_as_vgg_weights_through_maskingnet_train(planted, tmp_path: Path, capsys) -> None:
    files, sentinel = planted
    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    for index in range(4):
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "data" / "images" / f"car{index}_01.jpg")
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "data" / "masks" / f"car{index}_01_mask.png")
    code = cli.main(["train", "--images", str(tmp_path / "data" / "images"), "--masks", str(tmp_path / "data" / "masks"),
                     "-o", str(tmp_path / "run"), "--arch", "maskingnet", "--width", "64", "--size", "64", "--epochs", "1",
                     "--vgg-init", str(files["evil-torch-save.pth"])])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {files['evil-torch-save.pth']}: not a readable VGG-16-BN state dict "
                      "(it holds Python objects, which are never loaded)"]
    assert not sentinel.exists()


# ---------------------------------------------------------------------------------------------
# Safetensors files that do not describe a usable MaskingNet.


CONFIG = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"name": "tiny"})


def good_tensors() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {name: tensor.clone().contiguous() for name, tensor in CONFIG.build().state_dict().items()}


def config_json(**changes) -> str:
    data = json.loads(CONFIG.to_json())
    data.update(changes)
    return json.dumps(data)


def write(path: Path, tensors: dict[str, torch.Tensor], config: str | None = None, **metadata: str) -> Path:
    if config is not None:
        metadata["maskingnet"] = config
    save_file(tensors, str(path), metadata=metadata or None)
    return path


def _missing(t):
    return {k: v for k, v in t.items() if k not in sorted(t)[:2]}


def _extra(t):
    return {**t, "head.extra.weight": torch.zeros(3)}


def _reshaped(t):
    name = sorted(t)[0]
    return {**t, name: torch.zeros(t[name].numel() + 1)}


def _nan(t):
    name = next(k for k, v in t.items() if v.is_floating_point())
    poisoned = t[name].clone()
    poisoned.view(-1)[0] = float("nan")
    return {**t, name: poisoned}


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.onnx", b"\x08\x07")


def _jpeg(path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())


NAMES = sorted(good_tensors())
BAD_MODELS = {
    # name: (make(path), words the error must contain)
    "empty.safetensors": (lambda p: p.write_bytes(b""), "not a safetensors model file (too short)"),
    "text.safetensors": (lambda p: p.write_text("this is my model, trust me\n"), "not a safetensors model file"),
    "zip.safetensors": (_zip, "not a safetensors model file"),
    "photo.safetensors": (_jpeg, "not a safetensors model file"),
    "random.safetensors": (lambda p: p.write_bytes(os.urandom(4096)), "not a safetensors model file"),
    "truncated.safetensors": (
        lambda p: p.write_bytes(write(p, good_tensors(), CONFIG.to_json()).read_bytes()[:-1000]),
        "damaged safetensors file",
    ),
    "truncated-header.safetensors": (
        lambda p: p.write_bytes(write(p, good_tensors(), CONFIG.to_json()).read_bytes()[:1000]),
        "damaged safetensors file (it ends inside its header)",
    ),
    "no-config.safetensors": (lambda p: write(p, good_tensors()), "a safetensors file without a MaskingNet configuration"),
    "config-not-json.safetensors": (lambda p: write(p, good_tensors(), "arch=maskingnet"), "its configuration is unreadable"),
    "unknown-arch.safetensors": (
        lambda p: write(p, good_tensors(), config_json(arch="resnet9000")),
        f"unknown architecture 'resnet9000'; valid names: {', '.join(MODEL_NAMES)}",
    ),
    "missing.safetensors": (
        lambda p: write(p, _missing(good_tensors()), CONFIG.to_json()),
        f"does not fit a maskingnet of width 4: 2 missing tensor(s): {NAMES[0]}, {NAMES[1]}",
    ),
    "extra.safetensors": (
        lambda p: write(p, _extra(good_tensors()), CONFIG.to_json()),
        "does not fit a maskingnet of width 4: 1 unexpected tensor(s): head.extra.weight",
    ),
    "wrong-shape.safetensors": (
        lambda p: write(p, _reshaped(good_tensors()), CONFIG.to_json()),
        f"does not fit a maskingnet of width 4: 1 wrongly shaped tensor(s): {NAMES[0]}",
    ),
    "other-width.safetensors": (
        lambda p: write(p, good_tensors(), config_json(width=16)),
        "does not fit a maskingnet of width 16:",
    ),
    "huge-width.safetensors": (  # refused before any network is built
        lambda p: write(p, good_tensors(), config_json(width=10_000_000)),
        "width must be an even number from 2 to 512, got 10000000",
    ),
    "odd-width.safetensors": (lambda p: write(p, good_tensors(), config_json(width=5)), "width must be an even number"),
    "huge-size.safetensors": (
        lambda p: write(p, good_tensors(), config_json(preprocess={**CONFIG.preprocess.to_dict(), "size": 65536})),
        f"working size 65536 is above the limit of {MAX_WORKING_SIZE}",
    ),
    "nan.safetensors": (lambda p: write(p, _nan(good_tensors()), CONFIG.to_json()), "1 tensor(s) hold NaN or infinite values"),
}


@pytest.mark.parametrize("name", sorted(BAD_MODELS))
def test_bad_model_file_is_refused_saying_what_is_wrong(tmp_path: Path, name: str, capsys) -> None:
    make, words = BAD_MODELS[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(CheckpointError) as caught:
        Segmenter.load(path, device="cpu")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message
    code = cli.main(["predict", str(photo(tmp_path)), "-o", str(tmp_path / "out"), "--model", str(path)])
    assert code == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_good_model_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.safetensors"
    save_model(path, CONFIG.build(), CONFIG)
    model, config = load_model(path)
    assert config.arch == "maskingnet" and not model.training
    assert next(model.parameters()).device.type == "cpu"
    half = write(tmp_path / "half.safetensors", {k: v.half() if v.is_floating_point() else v for k, v in good_tensors().items()},
                 CONFIG.to_json())
    load_model(half)  # float16 weights are widened, not refused


def test_missing_model_and_folder_without_checkpoint(tmp_path: Path, capsys, no_shipped_models) -> None:
    source = photo(tmp_path)
    (tmp_path / "run").mkdir()
    cases = {
        str(tmp_path / "gone.safetensors"): "no such model file or model name",
        str(tmp_path / "run"): "a folder without best/last/model.safetensors",
        "default": "no default model is installed",
    }
    for spec, words in cases.items():
        assert cli.main(["predict", str(source), "-o", str(tmp_path / "out"), "--model", spec]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1

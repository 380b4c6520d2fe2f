"""Inference: masks at the photo's own resolution and orientation, batching, names, devices,
test-time mirroring and the out-of-memory fallback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.io.imageio import read_photo
from core.masking.inference import Prediction, Segmenter
from core.models.checkpoint import ModelConfig, load_model, save_model
from core.models.device import DEVICE_CHOICES, autocast_dtype, describe_device, select_device
from core.models.model_store import user_model_path
from core.models.preprocess import Preprocess


@pytest.fixture(scope="module")
def segmenter(tiny_checkpoint) -> Segmenter:
    return Segmenter.load(tiny_checkpoint, device="cpu")


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("size", [(5, 7), (1280, 1918), (1, 1), (64, 64), (333, 97)])
def test_the_mask_comes_out_at_the_photos_own_resolution(segmenter, size):
    prediction = segmenter.predict(_photo(*size))
    assert isinstance(prediction, Prediction)
    assert prediction.probability.shape == size and prediction.probability.dtype == np.uint8
    assert prediction.mask.shape == size and prediction.mask.dtype == bool
    assert 0.0 <= prediction.uncertainty <= 1.0 and prediction.seconds >= 0.0


def test_mask_is_probability_from_half_up():
    prediction = Prediction(np.array([[0, 127, 128, 255]], np.uint8), 0.0, 0.0)
    assert prediction.mask.tolist() == [[False, False, True, True]]


def test_batches_give_the_same_masks_as_single_photos(segmenter):
    photos = [_photo(40, 60, seed) for seed in range(6)] + [_photo(7, 5, 9)]
    segmenter.batch_size = 4
    together = segmenter.predict_batch(photos)
    assert len(together) == len(photos)
    for photo, batched in zip(photos, together):
        alone = segmenter.predict(photo)
        assert batched.probability.shape == photo.shape[:2]
        difference = np.abs(batched.probability.astype(int) - alone.probability.astype(int)).max()
        assert difference <= 2  # reduced precision may round a level differently per batch size


def test_gray_and_rgba_arrays_are_accepted(segmenter):
    rgb = _photo(32, 48)
    gray = rgb[..., 0]
    assert segmenter.predict(gray).probability.shape == (32, 48)
    rgba = np.dstack([rgb, np.full((32, 48), 255, np.uint8)])
    assert np.array_equal(segmenter.predict(rgba).probability, segmenter.predict(rgb).probability)


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 2), np.uint8),
                                 np.zeros((0, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8)])
def test_arrays_that_are_not_photos_are_refused(segmenter, bad):
    with pytest.raises(ValueError):
        segmenter.predict(bad)


def test_the_photos_alpha_limits_the_mask(segmenter):
    rgb = _photo(30, 40)
    alpha = np.full((30, 40), 255, np.uint8)
    alpha[:, :20] = 0
    limited = segmenter.predict(rgb, alpha)
    assert limited.probability[:, :20].max() == 0
    assert np.array_equal(limited.probability[:, 20:], segmenter.predict(rgb).probability[:, 20:])
    with pytest.raises(ValueError, match="alpha"):
        segmenter.predict_batch([rgb, rgb], [alpha])


def _exif_rotated_jpeg(path: Path, pixels: np.ndarray, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    return path


def test_exif_rotated_photo_is_masked_in_the_orientation_the_user_sees(segmenter, tmp_path):
    stored = _photo(40, 64)  # stored landscape, EXIF says "rotate 90 degrees clockwise"
    path = _exif_rotated_jpeg(tmp_path / "portrait.jpg", stored, orientation=6)
    with Image.open(path) as raw:
        decoded = np.asarray(raw.convert("RGB"))
    photo = read_photo(path)
    assert photo.rgb.shape == (64, 40, 3)  # what a viewer shows: portrait
    assert np.array_equal(photo.rgb, np.rot90(decoded, k=-1))
    prediction = segmenter.predict(photo.rgb)
    assert prediction.probability.shape == (64, 40)
    assert np.array_equal(prediction.probability, segmenter.predict(np.rot90(decoded, k=-1).copy()).probability)


def test_real_photo_at_its_own_resolution(segmenter, carvana_dir):
    photo = read_photo(sorted((carvana_dir / "images").glob("*.jpg"))[0])
    wide = np.ascontiguousarray(np.asarray(Image.fromarray(photo.rgb).resize((1918, 1280))))
    prediction = segmenter.predict(wide)
    assert prediction.probability.shape == (1280, 1918)


def test_mirroring_at_test_time_is_on_by_default_and_makes_the_answer_mirror_symmetric(tiny_checkpoint):
    mirrored = Segmenter.load(tiny_checkpoint, device="cpu")
    assert mirrored.flip_tta
    photo = _photo(48, 80)
    once = mirrored.predict(photo).probability
    flipped = mirrored.predict(photo[:, ::-1].copy()).probability
    assert np.array_equal(once, flipped[:, ::-1])
    plain = Segmenter.load(tiny_checkpoint, device="cpu", flip_tta=False).predict(photo).probability
    assert not np.array_equal(once, plain)
    assert not np.array_equal(plain, Segmenter.load(tiny_checkpoint, device="cpu", flip_tta=False)
                              .predict(photo[:, ::-1].copy()).probability[:, ::-1])


class _RedIsCar(torch.nn.Module):
    """A stand-in network that is not mirror-symmetric: car where the (normalised) red channel
    plus a left-to-right ramp is above zero."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        car = batch[:, 0] + torch.linspace(-1.5, 1.5, batch.shape[-1])
        return torch.stack([torch.zeros_like(car), car], dim=1)


def test_disagreement_with_the_mirror_image(segmenter):
    red_is_car = Segmenter(_RedIsCar(), segmenter.config, device="cpu")
    photos = [_photo(40, 40, seed) for seed in range(3)]
    batch = red_is_car.config.preprocess(photos)
    probabilities, disagreement = red_is_car.probabilities_and_disagreement(batch, mirror=True)
    assert probabilities.shape == (3, red_is_car.size, red_is_car.size)
    assert np.array_equal(probabilities, red_is_car.probabilities(batch))  # flip_tta is on: the same path
    plain, none = red_is_car.probabilities_and_disagreement(batch, mirror=False)
    assert none is None and not np.array_equal(plain, probabilities)
    mirrored = red_is_car.probabilities_and_disagreement(batch.flip(-1), mirror=False)[0][:, :, ::-1] >= 0.5
    expected = np.mean((plain >= 0.5) != mirrored, axis=(1, 2))
    assert disagreement.shape == (3,) and np.allclose(disagreement, expected)
    assert disagreement.min() > 0.1


# --- loading and names ------------------------------------------------------------------------


def test_load_records_the_path_and_the_recorded_name(tiny_checkpoint):
    loaded = Segmenter.load(tiny_checkpoint, device="cpu")
    assert loaded.path == tiny_checkpoint
    assert loaded.name == "tiny"  # the name the checkpoint records
    assert loaded.size == 64
    assert loaded.device == torch.device("cpu") and loaded.device_label.startswith("CPU")
    model, config = load_model(tiny_checkpoint)
    direct = Segmenter(model, config, device="cpu")
    assert direct.path is None and direct.name == "tiny"


def test_names_of_run_folders_user_versions_and_unnamed_files(tmp_path):
    config = ModelConfig(arch="segnet", width=4, preprocess=Preprocess(size=32))  # no name recorded
    run = tmp_path / "my-run"
    run.mkdir()
    save_model(run / "best.safetensors", config.build(), config)
    assert Segmenter.load(run, device="cpu").name == "my-run"
    assert Segmenter.load(run / "best.safetensors", device="cpu").name == "best"
    version = user_model_path("spring-2025")
    version.parent.mkdir(parents=True)
    shutil.copy(run / "best.safetensors", version)
    loaded = Segmenter.load("spring-2025", device="cpu")
    assert loaded.name == "spring-2025" and loaded.path == version
    assert Segmenter.load(run, device="cpu", name="override").name == "override"


# --- devices ----------------------------------------------------------------------------------


def test_device_choice():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device("auto")
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    else:
        assert auto.type in ("mps", "cpu")
    assert select_device(None).type == auto.type  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown device 'tpu'") as info:
        select_device("tpu")
    assert all(choice in str(info.value) for choice in DEVICE_CHOICES)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            select_device("cuda")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            Segmenter(*load_model_for_test(), device="cuda:0")
    assert describe_device(torch.device("cpu")).startswith("CPU, ")
    assert autocast_dtype(torch.device("cpu")) in (None, torch.bfloat16)


def load_model_for_test() -> tuple[torch.nn.Module, ModelConfig]:
    config = ModelConfig(arch="unet", width=4, preprocess=Preprocess(size=32))
    return config.build(), config


def test_out_of_gpu_memory_halves_the_batch_then_falls_back_to_the_cpu(tiny_checkpoint, monkeypatch):
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")
    photos = [_photo(32, 32, seed) for seed in range(4)]
    expected = [p.probability for p in segmenter.predict_batch(photos)]

    notices: list[str] = []
    segmenter.on_notice = notices.append
    segmenter.device = torch.device("cuda")  # pretend; every call "on the GPU" runs out of memory
    segmenter.batch_size = 4  # as on a GPU
    real = Segmenter._probabilities

    def flaky(self, batch, mirror, use_context_network=True):
        if self.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, batch, mirror, use_context_network)

    monkeypatch.setattr(Segmenter, "_probabilities", flaky)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    results = segmenter.predict_batch(photos)
    assert segmenter.device.type == "cpu"
    assert any("batch size lowered to 2" in notice for notice in notices)
    assert any("on the CPU from now on" in notice for notice in notices)
    assert segmenter.batch_size == 1
    for result, reference in zip(results, expected):
        assert np.abs(result.probability.astype(int) - reference.astype(int)).max() <= 2


def test_out_of_memory_on_the_cpu_is_not_hidden(tiny_checkpoint, monkeypatch):
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")

    def broke(self, batch, mirror, use_context_network=True):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(Segmenter, "_probabilities", broke)
    with pytest.raises(torch.OutOfMemoryError):
        segmenter.predict(_photo(8, 8))


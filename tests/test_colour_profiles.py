"""Colour profiles: a photo's embedded RGB profile travels into every cut-out, pixels untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from core.batch.pipeline import encode_export, plan_jobs, run_batch
from core.io.imageio import encode_png, read_photo, rgb_profile, with_icc_profile
from core.masking.export import ExportOptions, export_photo
from maskingnet_app.export.exporter import export_alpha

PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # a valid RGB ICC profile


def _pixels(size=(48, 32), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _saved(path, array, mode="RGB", profile=PROFILE, **save):
    Image.fromarray(array).convert(mode).save(path, icc_profile=profile, **save)
    return path


def _profile_of(path) -> bytes | None:
    with Image.open(path) as image:
        return image.info.get("icc_profile")


@pytest.mark.parametrize("name", ["p.jpg", "p.png", "p.webp", "p.tif"])
def test_reading_keeps_the_profile_and_the_pixels(tmp_path, name):
    array = _pixels()
    with_profile = read_photo(_saved(tmp_path / name, array))
    plain = read_photo(_saved(tmp_path / f"plain-{name}", array, profile=None))
    assert with_profile.icc_profile == PROFILE
    assert plain.icc_profile is None
    np.testing.assert_array_equal(with_profile.rgb, plain.rgb)


def test_profiles_that_do_not_describe_rgb_pixels_are_dropped(tmp_path):
    cmyk = _saved(tmp_path / "cmyk.jpg", _pixels(), mode="CMYK", profile=PROFILE[:16] + b"CMYK" + PROFILE[20:])
    grey = _saved(tmp_path / "grey.png", _pixels(), mode="L")
    broken = _saved(tmp_path / "broken.jpg", _pixels(), profile=b"not a profile at all")
    for path in (cmyk, grey, broken):
        photo = read_photo(path)
        assert photo.icc_profile is None and photo.rgb.shape == (32, 48, 3), path.name
    with Image.open(tmp_path / "cmyk.jpg") as image:
        assert image.mode == "CMYK" and rgb_profile(image) is None


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "mask"])
def test_exports_carry_the_photo_profile_except_masks(tmp_path, fmt):
    photo = read_photo(_saved(tmp_path / "car.jpg", _pixels(), quality=95))
    mask = np.zeros(photo.rgb.shape[:2], bool)
    mask[8:24, 10:40] = True
    options = ExportOptions(format=fmt)
    out = export_photo(photo, mask, tmp_path / f"cut{options.suffix}", options)
    assert _profile_of(out) == (None if fmt == "mask" else PROFILE)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "mask"])
def test_batch_exports_carry_the_profile_with_the_same_pixels(tmp_path, fmt):
    photo = read_photo(_saved(tmp_path / "car.png", _pixels()))
    mask = np.zeros(photo.rgb.shape[:2], bool)
    mask[4:30, 5:45] = True
    options = ExportOptions(format=fmt)
    path = tmp_path / f"batch{options.suffix}"
    path.write_bytes(encode_export(photo, mask, options))
    assert _profile_of(path) == (None if fmt == "mask" else PROFILE)
    reference = export_photo(photo, mask, tmp_path / f"single{options.suffix}", options)
    if fmt in ("png", "mask"):  # lossless: the batch's fast path writes the very same pixels
        with Image.open(path) as fast, Image.open(reference) as single:
            np.testing.assert_array_equal(np.asarray(fast), np.asarray(single))
    read_photo(path)  # the inserted chunk has a valid checksum (read_photo verifies every PNG chunk)


def test_a_batch_run_keeps_the_profile(tmp_path, tiny_checkpoint):
    from core.masking.inference import Segmenter

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _saved(src / "car.jpg", _pixels((96, 64)))
    [result] = run_batch(plan_jobs([src], out, ExportOptions()), Segmenter.load(tiny_checkpoint, device="cpu"))
    assert result.status == "done" and _profile_of(result.output) == PROFILE


def test_the_app_keeps_the_profile_for_soft_brush_edges(tmp_path):
    photo = read_photo(_saved(tmp_path / "car.png", _pixels()))
    alpha = np.zeros(photo.rgb.shape[:2], np.uint8)
    alpha[8:24, 10:40] = 255
    alpha[8:24, 10] = 100  # a soft edge takes the exact-alpha path
    out = export_alpha(photo, alpha, tmp_path / "cut.png", ExportOptions())
    assert _profile_of(out) == PROFILE
    with Image.open(out) as image:
        assert np.asarray(image)[8, 10, 3] == 100


def test_the_iccp_chunk_goes_after_the_header_and_none_changes_nothing():
    png = encode_png(_pixels())
    assert with_icc_profile(png, None) == png
    tagged = with_icc_profile(png, PROFILE)
    assert tagged[33 + 4 : 33 + 8] == b"iCCP"
    with pytest.raises(ValueError, match="not a PNG"):
        with_icc_profile(b"GIF89a" + bytes(40), PROFILE)

"""Composite photos for the fine-tuning check: backgrounds, pasting, reproducible sets."""

from __future__ import annotations

import numpy as np
import pytest
from test_finetune_helpers import synthetic_photo

from core.grouping import photo_group as group_of
from core.io.imageio import read_mask, read_rgb, write_image
from core.training.composite import (
    BACKGROUND_KINDS,
    CompositeRecipe,
    build_composite_set,
    composite,
    find_photos,
    make_background,
    nice_kinds,
)
from core.training.data import Sample


@pytest.mark.parametrize("kind", [k for k in BACKGROUND_KINDS if k != "photo"])
def test_backgrounds_are_reproducible_images(kind):
    first = make_background(kind, 48, 64, np.random.default_rng(3))
    again = make_background(kind, 48, 64, np.random.default_rng(3))
    other = make_background(kind, 48, 64, np.random.default_rng(4))
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    if kind != "flat":
        assert first.std() > 3  # not a flat colour


def test_photo_backgrounds_and_unknown_kinds(tmp_path):
    rgb, _ = synthetic_photo(1, size=80)
    write_image(tmp_path / "real.png", rgb)
    photos = find_photos(tmp_path)
    background = make_background("photo", 32, 32, np.random.default_rng(0), photos)
    assert background.shape == (32, 32, 3)
    with pytest.raises(ValueError, match="needs a folder"):
        make_background("photo", 32, 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown background"):
        make_background("moon", 32, 32, np.random.default_rng(0))
    assert "clutter" in nice_kinds("clutter,scene")
    with pytest.raises(ValueError, match="unknown background"):
        nice_kinds("clutter,moon")


def test_composite_keeps_the_car_and_replaces_the_rest():
    rgb, mask = synthetic_photo(2, size=64)
    background = np.full_like(rgb, 7)
    out = composite(rgb, mask, background, feather=0)
    assert np.array_equal(out[mask], rgb[mask]) and np.all(out[~mask] == 7)


def test_a_set_keeps_masks_and_groups_and_is_reproducible(tmp_path):
    sources = []
    for index in range(3):
        rgb, mask = synthetic_photo(index, size=64)
        name = f"0123456789a{index}_0{index + 1}"
        write_image(tmp_path / f"{name}.png", rgb)
        write_image(tmp_path / f"{name}_mask.png", mask.astype(np.uint8) * 255)
        sources.append(Sample(image=tmp_path / f"{name}.png", mask=tmp_path / f"{name}_mask.png",
                              group=group_of(tmp_path / f"{name}.png")))
    recipe = CompositeRecipe(seed=5, kind_seed=1)
    made = build_composite_set(sources, tmp_path / "a", recipe)
    again = build_composite_set(sources, tmp_path / "b", recipe)
    assert [m.group for m in made] == [s.group for s in sources]
    for sample, source, twin in zip(made, sources, again):
        assert np.array_equal(read_mask(sample.mask), read_mask(source.mask))
        assert np.array_equal(read_rgb(sample.image), read_rgb(twin.image))
        assert not np.array_equal(read_rgb(sample.image), read_rgb(source.image))

"""Listing photos (core.listing): framing, shadow, clean edges, backgrounds and presets."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listing_scene import CAR_RED, car_alpha, composite
from PIL import Image

from core.listing.background import parse_background, render_background
from core.listing.decontaminate import estimate_foreground
from core.listing.framing import Box, car_box, fit_group, place
from core.listing.presets import (
    BUILTIN_PRESETS,
    ListingPreset,
    ListingSpec,
    all_presets,
    find_preset,
    load_user_presets,
    save_user_presets,
    with_size,
)
from core.listing.render import listing_layers, render_listing

GREEN = (40, 160, 60)


def _green_fringe(rgb: np.ndarray, band: np.ndarray) -> float:
    """How much greener than the car's red-on-white mix the band is (0 = no green)."""
    pixels = rgb[band].astype(np.float32)
    return float(np.mean(pixels[:, 1] - pixels[:, 2]))


def test_a_car_on_green_comes_out_framed_on_white_with_its_shadow_below_and_no_green_edge():
    alpha = car_alpha()
    photo = composite(alpha, GREEN)
    spec = ListingSpec(800, 600, 0.1, "#ffffff", shadow=True)
    layers = listing_layers(photo, alpha, spec)
    box = car_box(layers.alpha)
    # framed per the preset: centred, inside the margins, touching them on the limiting side
    assert abs((box.left + box.right) / 2 - 400) <= 1
    assert box.left >= 79 and box.right <= 721 and box.top >= 59 and box.bottom <= 541
    assert box.width >= 638 or box.height >= 478
    assert abs((box.top + box.bottom) / 2 - 300) <= 1  # a single photo: its box centred both ways
    # the shadow lies below the car: on the floor under it, nothing above its roof
    shadow = layers.shadow
    assert shadow[: box.top].max() == 0
    under = shadow[box.bottom : box.bottom + 10, box.left + 20 : box.right - 20]
    assert under.mean() > 40
    rows = np.arange(shadow.shape[0])[:, None]
    assert (shadow * rows).sum() / shadow.sum() > (box.top + box.bottom) / 2
    # no green in the edge band, where the plain cut-out has plenty
    out = render_listing(photo, alpha, spec)
    naive = render_listing(photo, alpha, replace(spec, decontaminate=False))
    band = (layers.alpha > 10) & (layers.alpha < 245)
    band[box.bottom - 20 :] = False  # the tyres are dark grey, not red
    assert band.sum() > 200
    assert _green_fringe(naive, band) > 15
    assert abs(_green_fringe(out, band)) < 4
    assert out.shape == (600, 800, 3) and tuple(out[5, 5]) == (255, 255, 255)


def test_decontamination_changes_only_the_edge_band_and_recovers_the_colour():
    alpha = car_alpha()
    photo = composite(alpha, GREEN)
    clean = estimate_foreground(photo, alpha)
    band = (alpha > 2) & (alpha < 253)
    assert np.array_equal(clean[~band], photo[~band])
    upper = band.copy()
    upper[np.flatnonzero((alpha >= 128).any(axis=1))[-1] - 20 :] = False
    error_before = np.abs(photo[upper & (alpha > 60)].astype(int) - CAR_RED).mean()
    error_after = np.abs(clean[upper & (alpha > 60)].astype(int) - CAR_RED).mean()
    assert error_after < error_before / 4


def test_a_hard_mask_is_cleaned_on_its_inner_edge():
    alpha = car_alpha()
    photo = composite(alpha, GREEN)
    hard = np.where(alpha >= 128, 255, 0).astype(np.uint8)
    clean = estimate_foreground(photo, hard)
    edge = (hard == 255) & (alpha < 230)
    assert edge.sum() > 100
    assert _green_fringe(clean, edge) < _green_fringe(photo, edge) / 3


def test_every_angle_of_a_car_gets_one_scale_and_one_ground_line():
    boxes = [Box(100, 200, 1700, 900), Box(500, 150, 1400, 1000), Box(300, 300, 1500, 800)]
    frame = fit_group(boxes, 1600, 1200, 0.1)
    placements = [place(box, frame, 1600) for box in boxes]
    assert {p.scale for p in placements} == {frame.scale}
    for box, p in zip(boxes, placements):
        left, right = box.left * p.scale + p.dx, box.right * p.scale + p.dx
        top, bottom = box.top * p.scale + p.dy, box.bottom * p.scale + p.dy
        assert left >= 160 - 1e-6 and right <= 1440 + 1e-6 and top >= 120 - 1e-6
        assert bottom == pytest.approx(frame.ground) and abs((left + right) / 2 - 800) < 1e-6
    # the widest car fills the width; the tallest is centred vertically
    assert frame.scale == pytest.approx(1280 / 1600)
    assert frame.ground == pytest.approx((1200 + 850 * frame.scale) / 2)


def test_rendered_angles_of_one_car_share_the_scale():
    small, large = car_alpha(scale=0.6), car_alpha(scale=1.0)
    spec = ListingSpec(640, 480, 0.1, "showroom-grey")
    frame = fit_group([car_box(small), car_box(large)], 640, 480, 0.1)
    widths = [car_box(listing_layers(composite(a, GREEN), a, spec, frame).alpha).width for a in (small, large)]
    assert widths[0] / widths[1] == pytest.approx(0.6, abs=0.02)
    alone = car_box(listing_layers(composite(small, GREEN), small, spec).alpha).width
    assert alone > widths[0] * 1.5  # framed on its own, the small one would be blown up


def test_a_transparent_png_with_a_shadow_layer_keeps_the_cars_alpha_exactly():
    alpha = car_alpha()
    photo = composite(alpha, GREEN)
    out = render_listing(photo, alpha, ListingSpec(0, 0, background="transparent", shadow=True))
    assert out.shape == photo.shape[:2] + (4,)
    layers = listing_layers(photo, alpha, ListingSpec(0, 0, background="transparent", shadow=True))
    no_shadow = layers.shadow == 0
    assert np.array_equal(out[..., 3][no_shadow], alpha[no_shadow])
    assert np.all(out[..., 3][alpha == 255] == 255)
    assert np.all(out[..., 3] >= alpha)
    below = car_box(alpha).bottom + 2
    assert out[below, :, 3].max() > 30 and np.all(out[below, :, :3][alpha[below] == 0] == 0)  # a black shadow
    plain = render_listing(photo, alpha, ListingSpec(0, 0, background="transparent", shadow=False))
    assert np.array_equal(plain[..., 3], alpha)


def test_backgrounds_parse_and_render(tmp_path):
    assert parse_background("transparent").opaque is False
    assert render_background(parse_background("#102030"), 4, 3)[2, 3].tolist() == [16, 32, 48]
    gradient = render_background(parse_background("gradient:#000000,#ffffff"), 2, 11)
    assert gradient[0, 0].tolist() == [0, 0, 0] and gradient[-1, 1].tolist() == [255, 255, 255]
    for name in ("studio-white", "showroom-grey", "charcoal"):
        image = render_background(parse_background(name), 64, 48)
        assert image.shape == (48, 64, 3) and image.std() > 0
    photo = tmp_path / "floor.png"
    pixels = np.zeros((10, 40, 3), np.uint8)
    pixels[:, :20] = 255
    Image.fromarray(pixels).save(photo)
    cover = render_background(parse_background(str(photo)), 20, 20)  # scaled to cover, centred
    assert cover.shape == (20, 20, 3) and cover[:, :8].min() > 200 and cover[:, 12:].max() < 50
    with pytest.raises(ValueError, match="nope.png"):
        parse_background(str(tmp_path / "nope.png"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    from core.errors import MaskingNetError

    with pytest.raises(MaskingNetError, match="broken.png"):
        render_background(parse_background(str(broken)), 20, 20)
    with pytest.raises(ValueError, match="gradient"):
        parse_background("gradient:#fff")


def test_presets_are_saved_atomically_and_read_back_validated(tmp_path):
    path = tmp_path / "listing_presets.json"
    assert load_user_presets(path) == []
    mine = ListingPreset("ebay 1600", ListingSpec(1600, 1200, 0.05, "#f0f0f0", shadow=False))
    save_user_presets([*BUILTIN_PRESETS, mine], path)
    assert [p.name for p in load_user_presets(path)] == ["ebay 1600"]
    assert all_presets(path)["ebay 1600"].spec == mine.spec
    assert find_preset("1:1 1080x1080", path).spec.width == 1080
    with pytest.raises(ValueError, match="unknown listing preset 'x'"):
        find_preset("x", path)
    for text, problem in [("{", "not readable JSON"), ('{"presets": 3}', "expected"),
                          ('{"presets": [{"name": "a", "width": "big"}]}', "width has the wrong type"),
                          ('{"presets": [{"name": "a", "colour": 1}]}', "unknown setting"),
                          ('{"presets": [{"name": "a", "margin": 0.7}]}', "margin"),
                          ('{"presets": [{"name": "a", "background": "#12"}]}', "no such background"),
                          ('{"presets": [{"name": "a"}, {"name": "a"}]}', "twice")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=problem) as caught:
            load_user_presets(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert with_size(ListingSpec(), "1080x1350").height == 1350
    with pytest.raises(ValueError, match="WxH"):
        with_size(ListingSpec(), "big")
    assert json.loads(json.dumps({"ok": True}))


def test_no_car_gives_the_bare_background():
    empty = np.zeros((50, 80), np.uint8)
    out = render_listing(np.zeros((50, 80, 3), np.uint8), empty, ListingSpec(160, 120, 0.1, "#ffffff"))
    assert out.shape == (120, 160, 3) and out.min() == 255


_leaf = (st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True, allow_infinity=True)
         | st.text(max_size=6) | st.sampled_from(["#ffffff", "transparent", "studio-white", "gradient:#000000,#ffffff"]))
_keys = st.sampled_from(["name", "width", "height", "margin", "background", "shadow", "shadow_opacity",
                         "shadow_softness", "shadow_length", "decontaminate", "presets"]) | st.text(max_size=4)
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=6),
                     max_leaves=14)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_json | st.fixed_dictionaries({"presets": st.lists(st.dictionaries(_keys, _leaf, max_size=8), max_size=3)}))
def test_any_presets_file_is_read_or_refused_in_one_line_naming_it(tmp_path, data):
    path = tmp_path / "listing_presets.json"
    path.write_text(json.dumps(data))
    try:
        presets = load_user_presets(path)
    except ValueError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
        return
    for preset in presets:
        assert preset.spec.checked() == preset.spec and preset.name.strip()

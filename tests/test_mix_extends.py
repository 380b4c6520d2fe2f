"""A mix file that extends another names only what it changes (``read_mix``'s ``extends``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.training.training_mix import MixSource, read_mix

STUDIO = {"name": "studio", "images": "/data/studio/images", "masks": "/data/studio/masks", "repeat": 1,
          "degrade": 0.4, "panning": 0.4, "edge_emphasis": 2}
STREET = {"name": "street", "images": "/data/street/images", "masks": "/data/street/masks", "split": "photo",
          "confidence": "/data/street/confidence", "val_fraction": 0.1}


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def _base(folder: Path) -> Path:
    return _write(folder, "base.json", {"sources": [STUDIO, STREET]})


def test_a_variant_sets_the_fields_it_names_and_keeps_the_rest(tmp_path):
    base = read_mix(_base(tmp_path))
    variant = _write(tmp_path, "variant.json", {"extends": "base.json", "sources": [
        {"name": "studio", "repeat": 2, "augment": False, "degrade": None, "panning": None}]})
    studio, street = read_mix(variant)
    assert (studio.repeat, studio.augment, studio.degrade, studio.panning) == (2, False, None, None)  # null: the default
    assert studio.edge_emphasis == 2 and studio.images == Path("/data/studio/images")  # unnamed fields kept
    assert street == base[1]
    assert read_mix(tmp_path / "base.json") == base  # the base file itself is untouched


def test_a_new_source_goes_last_or_after_the_one_it_names(tmp_path):
    _base(tmp_path)
    crowd = {"name": "crowd", "images": "/data/crowd/images", "masks": "/data/crowd/masks", "repeat": 3}
    last = _write(tmp_path, "last.json", {"extends": "base.json", "sources": [crowd]})
    assert [s.name for s in read_mix(last)] == ["studio", "street", "crowd"]
    placed = _write(tmp_path, "placed.json", {"extends": "base.json", "sources": [{**crowd, "after": "studio"}]})
    sources = read_mix(placed)
    assert [s.name for s in sources] == ["studio", "crowd", "street"]
    assert sources[1] == MixSource(name="crowd", images=Path("/data/crowd/images"), masks=Path("/data/crowd/masks"),
                                   repeat=3)


def test_a_variant_of_a_variant_applies_both_in_order(tmp_path):
    _base(tmp_path)
    _write(tmp_path, "first.json", {"extends": "base.json", "sources": [{"name": "street", "repeat": 4,
                                                                         "val_every": 2}]})
    second = _write(tmp_path, "second.json", {"extends": "first.json", "sources": [{"name": "street", "repeat": 8}]})
    street = read_mix(second)[1]
    assert (street.repeat, street.val_every, street.split) == (8, 2, "photo")


@pytest.mark.parametrize("data, message", [
    ({"extends": "missing.json", "sources": [{"name": "studio"}]}, "the mix it extends, missing.json, does not exist"),
    ({"extends": "base", "sources": [{"name": "studio"}]}, "'extends' should name a mix file (*.json)"),
    ({"extends": 3, "sources": [{"name": "studio"}]}, "'extends' should name a mix file (*.json)"),
    ({"extends": "../base.json", "sources": [{"name": "studio"}]}, "leads outside"),
    ({"extends": "variant.json", "sources": [{"name": "studio"}]}, "mixes extend in a circle"),
    ({"extends": "base.json", "sources": [{"name": "studio", "repeat": 0}]}, "'repeat' must be a whole number"),
    ({"extends": "base.json", "sources": [{"name": "studio", "images": None}]}, "'images' must be a non-empty string"),
    ({"extends": "base.json", "sources": [{"name": "crowd", "images": "x"}]}, "'masks' must be a non-empty string"),
    ({"extends": "base.json", "sources": [{"repeat": 2}]}, "'name' must be a non-empty string"),
    ({"extends": "base.json", "sources": [{"name": "studio", "repeat": 2}, {"name": "studio", "repeat": 3}]},
     "studio is changed twice"),
    ({"extends": "base.json", "sources": [{"name": "studio", "after": "street"}]}, "'after' places a new source"),
    ({"extends": "base.json", "sources": [{"name": "c", "images": "x", "masks": "y", "after": "nope"}]},
     "'after' must name a source already in the mix"),
    ({"extends": "base.json", "sources": [{"name": "studio", "colour": 1}]}, "unknown field(s) colour"),
    ({"extends": "base.json", "sources": ["studio"]}, "a source is an object"),
    ({"extends": "base.json", "sources": []}, "a non-empty list 'sources'"),
    ({"extends": "base.json", "comment": "x", "sources": [{"name": "studio"}]}, "unknown field(s) comment"),
    ({"sources": [{**STUDIO, "after": "street"}]}, "'after' is only for a mix that extends another"),
])
def test_a_bad_variant_is_one_line_naming_it(tmp_path, data, message):
    (tmp_path / "mixes").mkdir()
    _base(tmp_path / "mixes")
    _base(tmp_path)  # a file outside the variant's folder, which it may not reach
    path = _write(tmp_path / "mixes", "variant.json", data)
    with pytest.raises(ValueError) as error:
        read_mix(path)
    text = str(error.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_a_fault_in_the_base_names_the_base(tmp_path):
    _write(tmp_path, "base.json", {"sources": [{**STUDIO, "split": "car"}]})
    variant = _write(tmp_path, "variant.json", {"extends": "base.json", "sources": [{"name": "studio", "repeat": 2}]})
    with pytest.raises(ValueError) as error:
        read_mix(variant)
    assert str(error.value).startswith(str(tmp_path / "base.json")) and "'split' is 'group' or 'photo'" in str(error.value)


def test_a_damaged_base_names_the_base(tmp_path):
    (tmp_path / "base.json").write_text('{"sources": [')
    variant = _write(tmp_path, "variant.json", {"extends": "base.json", "sources": [{"name": "studio"}]})
    with pytest.raises(ValueError, match="base.json: not readable JSON"):
        read_mix(variant)


def test_a_long_chain_of_variants_is_refused(tmp_path):
    _base(tmp_path)
    previous = "base.json"
    for index in range(10):
        _write(tmp_path, f"v{index}.json", {"extends": previous, "sources": [{"name": "studio", "repeat": index + 1}]})
        previous = f"v{index}.json"
    assert read_mix(tmp_path / "v5.json")[0].repeat == 6
    with pytest.raises(ValueError, match="more than 8 mixes extend one another"):
        read_mix(tmp_path / "v9.json")


def test_a_missing_mix_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="nope.json: not a readable JSON mix file"):
        read_mix(tmp_path / "nope.json")

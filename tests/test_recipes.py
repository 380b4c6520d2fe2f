"""Recipe files that extend another: the variant names only what it changes; a broken chain is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.io.records import RecordError
from core.training.recipes import MAX_EXTENDS_DEPTH, read_recipe

BASE = {"size": 512, "epochs": 6, "lr": 2.5e-05, "lr_milestones": [4, 5], "seed": 46, "zoom_out": 0.3}


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def test_a_variant_is_its_base_with_its_own_fields_over_it(tmp_path):
    _write(tmp_path, "base.json", BASE)
    _write(tmp_path, "middle.json", {"extends": "base.json", "epochs": 4, "lr_milestones": [3]})
    variant = _write(tmp_path, "variant.json", {"extends": "middle.json", "seed": 48, "zoom_in": 0.3})
    assert read_recipe(variant) == {**BASE, "epochs": 4, "lr_milestones": [3], "seed": 48, "zoom_in": 0.3}
    assert read_recipe(tmp_path / "base.json") == BASE


def test_a_recipe_without_extends_reads_as_before(tmp_path):
    assert read_recipe(_write(tmp_path, "plain.json", {"degrade": 0.3})) == {"degrade": 0.3}


@pytest.mark.parametrize("own, problem", [
    ({"extends": 3}, "should name a recipe file"),
    ({"extends": "base.txt"}, "should name a recipe file"),
    ({"extends": "../outside.json"}, "leads outside"),
    ({"extends": "/etc/base.json"}, "not relative"),
    ({"extends": "missing.json"}, "missing.json, does not exist"),
    ({"extends": "base.json", "lr": "fast"}, "'lr'"),
    ({"extends": "base.json", "colour": 1}, "unknown recipe field"),
])
def test_a_bad_variant_is_one_line_naming_its_file(tmp_path, own, problem):
    folder = tmp_path / "recipes"
    folder.mkdir()
    _write(tmp_path, "outside.json", BASE)
    _write(folder, "base.json", BASE)
    variant = _write(folder, "variant.json", own)
    with pytest.raises(RecordError) as caught:
        read_recipe(variant)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(variant)) and problem in message


def test_a_damaged_base_is_named(tmp_path):
    (tmp_path / "base.json").write_text("{not json")
    variant = _write(tmp_path, "variant.json", {"extends": "base.json"})
    with pytest.raises(RecordError, match="base.json"):
        read_recipe(variant)


def test_recipes_that_extend_in_a_circle_are_refused(tmp_path):
    _write(tmp_path, "a.json", {"extends": "b.json", "seed": 1})
    _write(tmp_path, "b.json", {"extends": "a.json", "seed": 2})
    with pytest.raises(RecordError, match="circle"):
        read_recipe(tmp_path / "a.json")
    with pytest.raises(RecordError, match="circle"):
        read_recipe(_write(tmp_path, "self.json", {"extends": "self.json"}))


def test_a_chain_longer_than_the_limit_is_refused(tmp_path):
    _write(tmp_path, "r0.json", BASE)
    for index in range(1, MAX_EXTENDS_DEPTH + 1):
        _write(tmp_path, f"r{index}.json", {"extends": f"r{index - 1}.json", "seed": index})
    assert read_recipe(tmp_path / f"r{MAX_EXTENDS_DEPTH - 1}.json")["seed"] == MAX_EXTENDS_DEPTH - 1
    with pytest.raises(RecordError, match="extend one another"):
        read_recipe(tmp_path / f"r{MAX_EXTENDS_DEPTH}.json")


def test_the_cli_trains_with_what_a_variant_resolves_to(tmp_path):
    from core.cli import build_parser
    from core.cli_train import build_config

    _write(tmp_path, "base.json", BASE)
    variant = _write(tmp_path, "variant.json", {"extends": "base.json", "seed": 7})
    args = build_parser().parse_args(["train", "--images", "i", "--masks", "m", "-o", str(tmp_path / "run"),
                                      "--recipe", str(variant), "--epochs", "2"])
    config = build_config(args)
    assert (config.size, config.seed, config.epochs, config.zoom_out) == (512, 7, 2, 0.3)

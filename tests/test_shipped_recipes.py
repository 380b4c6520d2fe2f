"""The recipes and mixes the project ships, and the ones scripts/train_default.sh names, are valid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.training.recipes import read_recipe
from core.training.training_mix import read_mix

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "resources" / "recipes"


def _is_mix(path: Path) -> bool:
    return "sources" in json.loads(path.read_text())


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_recipe_and_mix_reads(path: Path) -> None:
    if _is_mix(path):
        assert read_mix(path)
    else:
        assert read_recipe(path)


@pytest.mark.parametrize("mix", ["outdoor-mix-relabelled.json", "outdoor-mix-parts-emphasis.json",
                                 "outdoor-mix-edge-emphasis.json", "outdoor-mix-degrade.json"])
def test_every_outdoor_mix_holds_out_the_same_photos(mix: str) -> None:
    """Only repeats differ: a stage on one mix never trains on another's held-out photos."""
    def split_settings(path: Path) -> dict:
        return {s.name: (s.images, s.masks, s.split, s.val_fraction) for s in read_mix(path)}
    assert split_settings(RECIPES / mix) == split_settings(RECIPES / "outdoor-mix.json")


def test_a_shipped_variant_mix_changes_only_what_it_names() -> None:
    """``outdoor-mix-studio-clean.json`` extends the shipped model's mix: Carvana shown clean and twice."""
    base = {s.name: s for s in read_mix(RECIPES / "outdoor-mix-degrade.json")}
    variant = {s.name: s for s in read_mix(RECIPES / "outdoor-mix-studio-clean.json")}
    assert list(variant) == list(base) and all(variant[n] == base[n] for n in base if n != "carvana")
    carvana = variant["carvana"]
    assert (carvana.repeat, carvana.augment, carvana.degrade, carvana.panning) == (2, False, None, None)
    assert (carvana.images, carvana.edge_emphasis) == (base["carvana"].images, base["carvana"].edge_emphasis)


def test_every_file_the_default_training_script_names_exists() -> None:
    script = (ROOT / "scripts" / "train_default.sh").read_text()
    named = set(re.findall(r"resources/recipes/[\w.-]+\.json", script))
    assert len(named) >= 8
    for name in named:
        assert (ROOT / name).is_file(), name


def _ship_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ship_default_model", ROOT / "scripts" / "ship_default_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_model_card_lists_each_stage_with_its_recipe_and_mix() -> None:
    module = _ship_script()
    stages = module.stage_recipes()
    assert [recipe for recipe, _ in stages][:4] == [f"resources/recipes/default-{s}.json"
                                                    for s in ("256", "384", "512", "512-clean")]
    assert all(mix is None for _, mix in stages[:4]) and all(mix for _, mix in stages[4:])
    assert stages[9] == ("resources/recipes/outdoor-512-edge-polish.json",
                         "resources/recipes/outdoor-mix-edge-emphasis.json")
    assert stages[10:12] == [("resources/recipes/outdoor-512-edge-polish.json",
                              "resources/recipes/outdoor-mix-degrade.json")] * 2  # the averaged runs
    assert stages[12] == ("resources/recipes/outdoor-512-gpu.json", '"$RUN/gpu-pack-b/mix.json"')  # packed mix
    assert stages[13] == ("resources/recipes/outdoor-512-polish.json", "resources/recipes/outdoor-mix-degrade.json")
    shipped = module.read_config(module.shipped_model_path()).info["stages"]
    assert len(stages) == len(shipped)  # one training command per stage the shipped model records
    assert [stage["train_config"]["epochs"] for stage in shipped][-1] == \
        json.loads((ROOT / stages[-1][0]).read_text())["epochs"]


def test_the_context_network_runs_are_listed_apart_from_the_main_network_stages() -> None:
    module = _ship_script()
    context_runs = module.stage_recipes(context_network=True)
    assert context_runs == [("resources/recipes/context-320.json", "resources/recipes/context-mix-crowd.json")]
    assert not any(recipe.startswith(module.CONTEXT_RECIPE_PREFIX) for recipe, _ in module.stage_recipes())
    assert all((ROOT / recipe).is_file() and (ROOT / mix).is_file() for recipe, mix in context_runs)
    shipped = module.read_config(module.shipped_model_path())
    if shipped.context_network is not None:  # one training command per context network run the shipped file records
        assert len(context_runs) == len(shipped.info["context_network_stages"])
        # the script's last ship line writes the shipped file's rule, so a retrain from nothing ships the same rule
        rule_line = module.TRAIN_SCRIPT.read_text().split("--context-rule '")[-1].split("'")[0]
        assert module.context_rule_argument(rule_line) == shipped.context_network


def test_the_model_card_gives_the_outdoor_dice_by_how_wide_the_car_stands() -> None:
    module = _ship_script()
    lines = module.source_lines({"car_parts_test_dice_vs_labels": 0.93, "car_parts_test_labelled_photos": 94,
                                 "car_parts_test_by_car_width": {"0.5-0.7": {"photos": 17, "dice": 0.8773},
                                                                 "0.9-1.0": {"photos": 29, "dice": 0.9715}}})
    assert "  - by how wide the car stands in the photo: 0.5-0.7 of the width, 0.8773 (17 photos); " \
           "0.9-1.0 of the width, 0.9715 (29 photos)" in lines
    assert not any("by how wide" in line for line in module.source_lines({"car_parts_recall": 0.98}))


def test_the_model_card_names_the_hand_labelled_parts_kept_least() -> None:
    lines = _ship_script().source_lines({"car_parts_recall": 0.98, "car_parts_recall_by_part": {
        "hood": 0.999, "back_glass": 0.903, "left_mirror": 0.85, "wheel": 0.97, "trunk": 0.977, "tailgate": 0.988}})
    assert "  - the parts kept least: left_mirror 0.8500, back_glass 0.9030, wheel 0.9700, trunk 0.9770" in lines
    assert not any("kept least" in line for line in _ship_script().source_lines({"car_parts_recall": 0.98}))


def test_an_averaged_run_is_listed_with_the_stage_it_started_from(tmp_path) -> None:
    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess

    module = _ship_script()

    def checkpoint(path: Path, **info) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        config = ModelConfig(arch="segnet", width=4, preprocess=Preprocess(size=32), info=info)
        save_model(path, config.build(), config)

    recipe = {"size": 512, "epochs": 3, "seed": 33}
    stage_runs = [tmp_path / "stage1", tmp_path / "stage2"]
    checkpoint(tmp_path / "shipped.safetensors", stages=[{}] * 9)  # a shipped model of nine stages
    checkpoint(tmp_path / "from-stage2" / "best.safetensors",
               train_config={**recipe, "init": str(stage_runs[1] / "best.safetensors")}, epochs_done=3)
    checkpoint(tmp_path / "from-shipped" / "best.safetensors",
               train_config={**recipe, "init": str(tmp_path / "shipped.safetensors")}, epochs_done=3)
    stages = module.averaged_stages([tmp_path / "from-stage2", tmp_path / "from-shipped"], 5, stage_runs)
    assert [stage["starts_from"] for stage in stages] == [6, 9]  # stage_runs are stages 5 and 6
    assert all(stage["averaged"] and stage["train_config"]["seed"] == 33 for stage in stages)
    assert module.stage_lines(12, stages[1])[0] == \
        "### Stage 12: working size 512, starting from stage 9 (averaged into the shipped weights)"
    chained = [{"train_config": {**recipe, "init": "x"}}] * 10
    assert module.recipe_sentence(chained).startswith("10 stage(s), each starting from the one before")
    sentence = module.recipe_sentence(chained + stages)
    assert "stages 2-10 each start from the one before" in sentence
    assert "the average of stage 10 and stages 11, 12" in sentence


def test_figures_measured_again_keep_saying_the_shipped_weights_are_an_average() -> None:
    module = _ship_script()
    shipped = module.shipped_model_path().name
    assert module.averaged_with_previous({"average_shipped": True})
    assert not module.averaged_with_previous({"average_shipped": False, "averaged_from": [{"file": shipped}]})
    # a record from before the flag: averaged with the file shipped then, or only among runs
    assert module.averaged_with_previous({"averaged_from": [{"file": "best.safetensors"}, {"file": shipped}]})
    assert not module.averaged_with_previous({"averaged_from": [{"file": "best.safetensors"}] * 3})
    assert not module.averaged_with_previous({})


def test_the_model_card_lists_the_context_network_runs_after_the_stages() -> None:
    module = _ship_script()
    recipe = {"size": 320, "epochs": 4, "seed": 53, "init": "default"}
    first = {"train_config": recipe, "history": [], "train_seconds": 560.0, "epochs_done": 4,
             "file": "runs/context/best.safetensors"}
    second = {**first, "train_config": {**recipe, "init": "runs/context/last.safetensors"}, "file": "runs/context2/x"}
    assert module.context_stage_lines(1, first)[0] == \
        "### Context network, run 1: working size 320, starting from the shipped main network " \
        "(`runs/context/best.safetensors`)"
    lines = module.context_stage_lines(2, second)
    assert lines[0].startswith("### Context network, run 2: working size 320, starting from context network run 1")
    assert '"init"' not in lines[2] and json.loads(lines[2])["seed"] == 53 and "4 epochs, 0.16 h." in lines


def test_the_ship_script_reads_the_context_rule_and_the_card_says_its_margin_and_fill() -> None:
    import argparse

    from core.models.context_network import ContextNetworkRule

    module = _ship_script()
    rule = module.context_rule_argument('{"own_share": 0.5, "region_margin": 1.0}')
    assert rule == ContextNetworkRule(own_share=0.5, region_margin=1.0)
    for bad in ('{"own_share": 2}', '{"colour": 1}', "[0.5]", "not json"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a context network rule"):
            module.context_rule_argument(bad)
    assert module.context_margin_words(rule) == " that it calls background by at least 1 logit on average"
    assert module.context_margin_words(ContextNetworkRule()) == ""
    filling = module.context_rule_argument('{"own_share": 0.5, "weight": 1.0, "fill_region": 0.02}')
    assert filling.fill_region == 0.02 and "0.02 of the working area" in module.context_fill_words(filling)
    assert module.context_fill_words(ContextNetworkRule()) == ""

"""Fine-tuning engine: data collection, the validation split, the run, the result as a version."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_finetune_helpers import make_corrections, make_folder

from core.models import model_versions
from core.models.model_store import app_home
from core.store.corrections import CorrectionStore
from core.training import finetune as ft
from core.training.data import Sample


def samples_in_groups(*sizes: int) -> list[Sample]:
    return [Sample(image=Path(f"/x/g{g}_{i}.png"), mask=Path(f"/m/g{g}_{i}.png"), group=f"g{g}")
            for g, size in enumerate(sizes) for i in range(size)]


def test_correction_items_carry_the_changed_pixels(tmp_path):
    store = CorrectionStore()
    photos = make_corrections(tmp_path / "photos", store, count=4, groups=2)
    items = ft.correction_items(store)
    assert len(items) == 4 and {i.source for i in items} == {"correction"}
    assert {i.sample.image for i in items} == {p.resolve() for p in photos}
    assert all(i.sample.weight is not None and i.sample.weight.is_file() for i in items)
    assert {i.sample.group for i in items} == {"shoot0/photo", "shoot1/photo"}  # folder + numbered series
    photos[0].unlink()  # a photo that is gone is not offered
    assert len(ft.correction_items(store)) == 3


def test_folder_items_find_the_masks(tmp_path):
    root = make_folder(tmp_path / "set", count=3)
    (root / "images" / "nomask.png").write_bytes((root / "images" / "p100.png").read_bytes())
    for chosen, masks in ((root, None), (root / "images", None), (root / "images", root / "masks")):
        items, unmatched = ft.folder_items(chosen, masks)
        assert len(items) == 3 and [p.name for p in unmatched] == ["nomask.png"]
        assert all(i.sample.weight is None for i in items)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    with pytest.raises(FileNotFoundError, match="no masks folder"):
        ft.folder_items(lonely)


def test_split_by_group_and_its_fallbacks():
    plan = ft.plan_split(samples_in_groups(3, 3, 3, 3, 3), 0.2)
    assert len(plan.val) == 3 and len({s.group for s in plan.val}) == 1
    assert not {s.group for s in plan.val} & {s.group for s in plan.train}
    assert "of 5 groups" in plan.note
    single = ft.plan_split(samples_in_groups(6), 0.2)
    assert len(single.val) == 1 and len(single.train) == 5 and "optimistic" in single.note
    tiny = ft.plan_split(samples_in_groups(1, 1), 0.2)
    assert tiny.val == [] and len(tiny.train) == 2 and "too few" in tiny.note
    none = ft.plan_split(samples_in_groups(3, 3), 0.0)
    assert none.val == [] and len(none.train) == 6
    assert ft.plan_split(samples_in_groups(3, 3, 3), 0.2, seed=1).val == ft.plan_split(
        samples_in_groups(3, 3, 3), 0.2, seed=1).val


def test_train_config_follows_the_starting_model(tiny_checkpoint):
    settings = ft.FinetuneSettings(name="x", base_model=str(tiny_checkpoint), epochs=6, weight_corrections=False)
    config = ft.train_config(settings, tiny_checkpoint)
    assert (config.arch, config.width, config.size) == ("maskingnet", 4, 64)
    assert config.init == str(tiny_checkpoint) and config.correction_weight == 0.0
    assert config.lr_halve_every == 3
    weighted = ft.train_config(ft.FinetuneSettings(name="x", base_model="", size=96), tiny_checkpoint)
    assert weighted.size == 96 and weighted.correction_weight > 0
    with pytest.raises(ValueError, match="multiple of 32"):
        ft.train_config(ft.FinetuneSettings(name="x", base_model="", size=100), tiny_checkpoint)
    assert ft.apply_preset(settings, "gpu").batch_size == 8
    with pytest.raises(ValueError, match="unknown preset"):
        ft.apply_preset(settings, "tpu")


def run_to_end(settings, plan, **kwargs) -> tuple[list[ft.FinetuneEvent], Path]:
    run_dir = ft.new_run_dir()
    return list(ft.finetune(settings, plan, run_dir, **kwargs)), run_dir


def test_a_tiny_run_compares_both_models_and_becomes_a_version(tmp_path, tiny_checkpoint):
    store = CorrectionStore()
    make_corrections(tmp_path / "photos", store, count=6, groups=3)
    items = ft.correction_items(store)
    plan = ft.plan_split([i.sample for i in items], 0.2)
    settings = ft.FinetuneSettings(name="tiny-v", base_model=str(tiny_checkpoint), epochs=2, batch_size=2,
                                   device="cpu")
    sources = {str(i.sample.image): "correction" for i in items}
    events, run_dir = run_to_end(settings, plan, sources=sources)
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["status", "baseline"] and kinds[-2:] == ["evaluated", "done"]
    assert sum(e.kind == "train" and e.train.kind == "epoch" for e in events) == 2
    result = events[-1].result
    assert len(result.dice_before) == len(result.dice_after) == len(plan.val)
    assert result.best_path.is_file() and result.best_epoch in (1, 2)
    assert model_versions.list_versions() == []  # nothing is a version before it is saved
    version = ft.save_as_version(result)
    assert not run_dir.exists()
    assert version.name == "tiny-v" and version.val_dice_before == result.val_dice_before
    saved = json.loads((version.folder / model_versions.CONFIG_FILE).read_text())
    assert {row["source"] for row in saved["data"]["train"]} == {"correction"}
    assert len(saved["figures"]["history"]) == 2
    assert model_versions.active_model() == "default"


def test_stopping_yields_stopped_and_no_result(tmp_path, tiny_checkpoint):
    root = make_folder(tmp_path / "set", count=4)
    items, _ = ft.folder_items(root)
    plan = ft.plan_split([i.sample for i in items], 0.0)
    settings = ft.FinetuneSettings(name="s", base_model=str(tiny_checkpoint), epochs=50, batch_size=1, device="cpu")
    steps = []

    def should_stop() -> bool:
        return len(steps) >= 2

    run_dir = ft.new_run_dir()
    for event in ft.finetune(settings, plan, run_dir, should_stop=should_stop):
        if event.train is not None and event.train.kind == "step":
            steps.append(event)
        last = event
    assert last.kind == "stopped" and last.result is None and len(steps) == 2
    ft.remove_run(run_dir)
    assert not run_dir.exists()


def test_no_training_photos_is_an_error(tiny_checkpoint):
    settings = ft.FinetuneSettings(name="s", base_model=str(tiny_checkpoint))
    with pytest.raises(ValueError, match="no training photos"):
        list(ft.finetune(settings, ft.SplitPlan([], [], ""), ft.new_run_dir()))


def test_stale_runs_of_dead_processes_are_removed():
    mine = ft.new_run_dir()
    dead = app_home() / ft.RUNS_DIR / "finetune-dead"
    dead.mkdir()
    (dead / ft.OWNER_FILE).write_text(json.dumps({"pid": 2**22 + 12345}))
    unowned = app_home() / ft.RUNS_DIR / "finetune-unowned"
    unowned.mkdir()
    removed = ft.cleanup_stale_runs()
    assert set(removed) == {dead} and mine.exists()
    assert unowned.exists()  # not the app's (no owner.json): never deleted
    assert json.loads((mine / ft.OWNER_FILE).read_text())["pid"] == os.getpid()


def test_cli_init_accepts_a_version_name(tmp_path, tiny_checkpoint):
    from core.cli import main

    model_versions.save_version("mine", tiny_checkpoint, {"base_model": "tiny"})
    root = make_folder(tmp_path / "set", count=3)
    out = tmp_path / "run"
    code = main(["train", "--images", str(root / "images"), "--masks", str(root / "masks"), "-o", str(out),
                 "--init", "mine", "--epochs", "1", "--batch-size", "2", "--device", "cpu"])
    assert code == 0
    from core.models.checkpoint import read_config

    config = read_config(out / "last.safetensors")
    assert config.info["train_config"]["init"].endswith(str(Path("models") / "mine" / "model.safetensors"))
    assert config.preprocess.size == 64 and config.width == 4
    assert np.isfinite(config.info["history"][0]["loss"])


def test_cli_fine_tunes_on_corrections_and_saves_a_version(tmp_path, tiny_checkpoint, capsys):
    from core.cli import main

    store = CorrectionStore()
    make_corrections(tmp_path / "photos", store, count=6, groups=3)
    root = make_folder(tmp_path / "set", count=2)
    out = tmp_path / "run"
    code = main(["train", "--corrections", "--images", str(root / "images"), "--masks", str(root / "masks"),
                 "-o", str(out), "--init", str(tiny_checkpoint), "--epochs", "1", "--batch-size", "4",
                 "--device", "cpu", "--save-as", "cli-v", "--correction-weight", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "6 photo(s) corrected in the app" in printed and "saved as the model version 'cli-v'" in printed
    version = model_versions.read_version("cli-v")
    assert version is not None and version.val_dice_before is not None and version.val_dice_after is not None
    assert version.record["train_config"]["correction_weight"] == 2.0
    assert {row["source"] for row in version.record["data"]["train"] + version.record["data"]["val"]} >= {"correction"}
    assert model_versions.active_model() == "default"
    assert (out / "best.safetensors").is_file()  # the user's run folder is kept


def test_cli_refuses_a_taken_name_before_training(tmp_path, tiny_checkpoint, capsys):
    from core.cli import main

    model_versions.save_version("taken", tiny_checkpoint, {})
    root = make_folder(tmp_path / "set", count=2)
    out = tmp_path / "run"
    code = main(["train", "--images", str(root / "images"), "--masks", str(root / "masks"), "-o", str(out),
                 "--init", str(tiny_checkpoint), "--save-as", "taken"])
    assert code != 0 and "exists" in capsys.readouterr().err
    assert not (out / "last.safetensors").exists()
    assert main(["train", "--images", str(root / "images"), "-o", str(out)]) != 0
    assert "--masks" in capsys.readouterr().err

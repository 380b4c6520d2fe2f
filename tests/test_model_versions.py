"""The user's model versions: save, list, the active choice, remove; never overwrite."""

from __future__ import annotations

import json

import pytest

from core.masking.inference import Segmenter
from core.models import model_versions as mv
from core.models.checkpoint import load_model, read_config
from core.models.model_store import app_home, list_user_models, resolve_model, user_model_path


def record(**figures) -> dict:
    return {"base_model": "default", "train_config": {"arch": "maskingnet", "width": 4, "size": 64, "epochs": 2},
            "data": {"train": [{"image": "/p/a.jpg", "group": "g1", "source": "correction"}],
                     "val": [{"image": "/p/b.jpg", "group": "g2", "source": "correction"}], "split_note": "1 held out"},
            "figures": {"val_dice_before": 0.91, "val_dice_after": 0.95, "history": [
                {"epoch": 1, "loss": 0.3, "val_dice": 0.93}, {"epoch": 2, "loss": 0.2, "val_dice": 0.95}], **figures}}


def test_save_list_and_load_a_version(tiny_checkpoint):
    version = mv.save_version("outdoor", tiny_checkpoint, record())
    assert version.path == user_model_path("outdoor") and version.path.is_file()
    assert [v.name for v in mv.list_versions()] == ["outdoor"] == list_user_models()
    assert (version.val_dice_before, version.val_dice_after) == (0.91, 0.95)
    config = json.loads((version.folder / mv.CONFIG_FILE).read_text())
    assert config["model"]["arch"] == "maskingnet" and config["name"] == "outdoor"
    card = version.card_path.read_text()
    assert "# Model card: outdoor" in card and "| this model | 0.9500 |" in card and "/p/a.jpg" in card
    assert read_config(version.path).info["name"] == "outdoor"
    _, loaded = load_model(resolve_model("outdoor"))  # the CLI's --model/--init name
    assert loaded.info["figures"]["val_dice_after"] == 0.95
    assert Segmenter.load(version.path, device="cpu").name == "outdoor"
    assert "Dice 0.9500" in version.summary()
    assert not (app_home() / mv.STAGING_DIR).exists() or not any((app_home() / mv.STAGING_DIR).iterdir())


def test_names_are_checked_and_never_overwritten(tiny_checkpoint):
    mv.save_version("v1", tiny_checkpoint, record())
    before = user_model_path("v1").read_bytes()
    with pytest.raises(mv.VersionError, match="exists"):
        mv.save_version("v1", tiny_checkpoint, record(val_dice_after=0.1))
    assert user_model_path("v1").read_bytes() == before
    for bad in ("", "default", "../up", "a/b", ".hidden", "x" * 65, "with space"):
        with pytest.raises(mv.VersionError):
            mv.check_name(bad)
    assert mv.check_name(" ok-name_1.2 ") == "ok-name_1.2"


def test_suggested_names_are_free(tiny_checkpoint):
    first = mv.suggest_name()
    mv.save_version(first, tiny_checkpoint, record())
    second = mv.suggest_name()
    assert second != first and second.startswith(first)
    assert mv.check_name(second) == second


def test_active_model_choice(tiny_checkpoint):
    assert mv.active_model() == "default"
    mv.save_version("v1", tiny_checkpoint, record())
    mv.set_active_model("v1")
    assert mv.active_model() == "v1"
    assert json.loads((app_home() / mv.ACTIVE_FILE).read_text())["model"] == "v1"
    with pytest.raises(mv.VersionError, match="no such model version"):
        mv.set_active_model("nope")
    assert mv.active_model() == "v1"
    assert mv.set_active_model(tiny_checkpoint) == str(tiny_checkpoint.resolve())  # a model file loaded by path
    assert mv.active_model() == str(tiny_checkpoint.resolve())
    mv.set_active_model(mv.model_path("v1"))  # the version's own file still protects it
    with pytest.raises(mv.VersionError, match="in use"):
        mv.remove_version("v1")
    mv.set_active_model("default")
    assert mv.active_model() == "default"
    (app_home() / mv.ACTIVE_FILE).write_text(json.dumps({"model": "relative/file.safetensors"}))
    assert mv.active_model() == "default"
    (app_home() / mv.ACTIVE_FILE).write_text("{broken")
    assert mv.active_model() == "default"


def test_remove_a_version_but_not_the_one_in_use(tiny_checkpoint):
    mv.save_version("v1", tiny_checkpoint, record())
    mv.save_version("v2", tiny_checkpoint, record())
    mv.set_active_model("v2")
    with pytest.raises(mv.VersionError, match="in use"):
        mv.remove_version("v2")
    mv.remove_version("v1")
    assert [v.name for v in mv.list_versions()] == ["v2"]
    assert not (app_home() / "models" / "v1").exists()
    with pytest.raises(mv.VersionError, match="no such"):
        mv.remove_version("v1")
    mv.set_active_model("default")
    mv.remove_version("v2")
    assert mv.list_versions() == []


def test_a_version_whose_folder_vanished_is_not_active(tiny_checkpoint):
    import shutil

    version = mv.save_version("gone", tiny_checkpoint, record())
    mv.set_active_model("gone")
    shutil.rmtree(version.folder)
    assert mv.active_model() == "default"
    assert mv.list_versions() == []


def test_a_failed_save_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    with pytest.raises(Exception, match="bad.safetensors"):
        mv.save_version("v1", bad, record())
    assert mv.list_versions() == [] and mv.read_version("v1") is None


# -- the Model menu (Qt) ------------------------------------------------------------------


def test_model_menu_switches_and_removes_versions(qtbot, tiny_checkpoint, no_shipped_models):
    from maskingnet_app.training.model_menu import ModelMenu, model_name

    mv.save_version("v1", tiny_checkpoint, record())
    mv.save_version("v2", tiny_checkpoint, record())
    state = {"current": "v1"}
    switched: list[str] = []
    answers = [False, True]
    menu = ModelMenu(lambda: state["current"], switched.append, confirm=lambda question: answers.pop(0)).chooser
    qtbot.addWidget(menu.menu)
    assert menu.choice_names() == ["default", "v1", "v2"] and menu.checked_name() == "v1"
    default = menu.choices.actions()[0]
    assert "not installed" in default.text() and not default.isEnabled()

    menu.choices.actions()[2].trigger()
    assert switched == ["v2"]
    menu.choose("v1")  # already in use: nothing to do
    assert switched == ["v2"]

    removable = {a.data(): a.isEnabled() for a in menu.remove_menu.actions()}
    assert removable == {"v1": False, "v2": True}
    with qtbot.waitSignal(menu.message) as refused:
        assert not menu.remove("v1")
    assert "in use" in refused.args[0]
    assert not menu.remove("v2")  # the user said no
    assert [v.name for v in mv.list_versions()] == ["v1", "v2"]
    with qtbot.waitSignal(menu.model_removed):
        assert menu.remove("v2")
    menu.rebuild()
    assert menu.choice_names() == ["default", "v1"]

    state["current"] = str(mv.model_path("v1"))  # the window may name it by its file
    assert model_name(state["current"]) == "v1"
    menu.rebuild()
    assert menu.checked_name() == "v1"
    state["current"] = str(tiny_checkpoint)
    menu.rebuild()
    assert menu.choice_names()[-1] == str(tiny_checkpoint) and menu.checked_name() == str(tiny_checkpoint)
    with qtbot.waitSignal(menu.train_requested):
        menu.train_action.trigger()


def test_model_chooser_goes_on_top_of_an_existing_menu(qtbot, tiny_checkpoint, no_shipped_models):
    from PySide6.QtWidgets import QMenu

    from maskingnet_app.training.model_menu import ModelChooser

    menu = QMenu("Model")
    qtbot.addWidget(menu)
    load = menu.addAction("Load Model File…")
    chooser = ModelChooser(menu, lambda: "default", lambda name: None)
    mv.save_version("late", tiny_checkpoint, record())
    menu.aboutToShow.emit()  # opening the menu lists the new version
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == chooser.train_action.text() and menu.actions()[-1] is load
    assert chooser.choice_names() == ["default", "late"] and chooser.checked_name() == "default"
    assert texts.index(chooser.use_menu.title()) < texts.index(chooser.remove_menu.title())
    assert "Use model" not in texts  # no stray label: the choices are in the Use Model sub-menu
    choices = [a.text() for a in chooser.use_menu.actions()]
    assert choices == ["Shipped default model (not installed)", mv.list_versions()[0].summary()]
    chooser.rebuild()
    assert [a.text() for a in menu.actions()] == texts  # a rebuild replaces, never duplicates
    assert [a.text() for a in chooser.use_menu.actions()] == choices


def test_an_older_apps_model_choice_carries_over_once(tiny_checkpoint):
    """Older versions kept the model in use in QSettings 'model/active': the first start of this
    one moves it into the record, and drops the key; a record already there wins."""
    from maskingnet_app import app_settings

    mv.save_version("v1", tiny_checkpoint, record())
    app_settings.set_value(app_settings.LEGACY_ACTIVE_MODEL, "v1")
    app_settings.migrate_legacy_settings()
    assert mv.active_model() == "v1"
    assert app_settings.settings().value(app_settings.LEGACY_ACTIVE_MODEL) is None
    app_settings.set_value(app_settings.LEGACY_ACTIVE_MODEL, str(tiny_checkpoint))
    app_settings.migrate_legacy_settings()
    assert mv.active_model() == "v1"  # the record exists: it wins
    assert app_settings.settings().value(app_settings.LEGACY_ACTIVE_MODEL) is None


@pytest.mark.parametrize("old", ["a-version-since-removed", "/runs/gone/best.safetensors", ""])
def test_an_older_choice_that_names_nothing_starts_on_the_default(old):
    from maskingnet_app import app_settings

    app_settings.set_value(app_settings.LEGACY_ACTIVE_MODEL, old)
    app_settings.migrate_legacy_settings()
    assert mv.active_model() == "default" and not (app_home() / mv.ACTIVE_FILE).exists()
    assert app_settings.settings().value(app_settings.LEGACY_ACTIVE_MODEL) is None

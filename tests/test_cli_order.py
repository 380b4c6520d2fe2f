"""``maskingnet predict`` and ``eval`` check their inputs before loading the model, and create
nothing when nothing can be done."""

from __future__ import annotations

import pytest
from test_app_helpers import make_photo

from core import cli
from core.masking.inference import Segmenter


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(Segmenter, "load", classmethod(refuse))


def test_a_missing_photo_fails_before_the_model_loads_and_makes_no_folder(tmp_path, capsys, no_model_load):
    out = tmp_path / "X"
    assert cli.main(["predict", str(tmp_path / "nonexistent"), "-o", str(out)]) == 1
    assert f"error: {tmp_path / 'nonexistent'}: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_a_model_that_does_not_exist_makes_no_folder(tmp_path, capsys, no_model_load):
    photo = make_photo(tmp_path / "car.png")
    out = tmp_path / "X" / "deeper"
    assert cli.main(["predict", str(photo), "-o", str(out), "--model", "nosuch"]) == 2
    assert "nosuch: no such model file or model name" in capsys.readouterr().err
    assert not (tmp_path / "X").exists()


def test_a_model_file_that_cannot_load_leaves_no_folder_behind(tmp_path, capsys):
    photo = make_photo(tmp_path / "car.png")
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a model")
    out = tmp_path / "X"
    assert cli.main(["predict", str(photo), "-o", str(out / "deeper"), "--model", str(bad)]) == 2
    assert "not a safetensors model file" in capsys.readouterr().err
    assert not out.exists()
    (out / "kept").mkdir(parents=True)  # a folder the user made stays
    assert cli.main(["predict", str(photo), "-o", str(out / "kept"), "--model", str(bad)]) == 2
    assert (out / "kept").is_dir()


def test_eval_checks_its_folders_before_the_model_loads(tmp_path, capsys, no_model_load):
    assert cli.main(["eval", "--images", str(tmp_path / "none"), "--masks", str(tmp_path)]) == 2
    assert f"{tmp_path / 'none'}: no such folder" in capsys.readouterr().err
    assert cli.main(["eval", "--images", str(tmp_path), "--masks", str(tmp_path)]) == 2
    assert "no photos with masks" in capsys.readouterr().err


def test_eval_options_have_help_text(capsys):
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--images IMAGES folder of photos" in text and "--masks MASKS folder of whole-car masks" in text

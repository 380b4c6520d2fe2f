"""The ``maskingnet`` command end to end on real photos: predict, eval, train and the errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import ProgressBar, main
from core.io.imageio import read_photo
from core.models.checkpoint import read_config
from core.models.model_store import shipped_model_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MASKINGNET = PROJECT_ROOT / ".venv" / "bin" / "maskingnet"


@pytest.fixture
def photos(few_cars: Path, tmp_path: Path) -> Path:
    """The 8 real photos, plus a wide one, an EXIF-rotated one and an odd-sized PNG."""
    folder = tmp_path / "photos"
    folder.mkdir()
    sources = sorted((few_cars / "images").glob("*.jpg"))
    for source in sources:
        (folder / source.name).symlink_to(source)
    car = Image.open(sources[0]).convert("RGB")
    car.resize((1918, 1280)).save(folder / "wide.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    car.resize((300, 200)).save(folder / "rotated.jpg", exif=exif)
    car.resize((97, 61)).save(folder / "odd.png")
    return folder


def _sizes(folder: Path) -> dict[str, tuple[int, int]]:
    return {path.stem: read_photo(path).size for path in folder.iterdir()}


def test_predict_writes_full_resolution_cutouts(photos, tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(photos), "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    written = {path.stem: path for path in out.glob("*.png")}
    sizes = _sizes(photos)
    assert set(written) == set(sizes)
    assert sizes["rotated"] == (200, 300)
    for stem, path in written.items():
        with Image.open(path) as image:
            assert image.mode == "RGBA"
            assert image.size == sizes[stem], stem
            cutout = np.asarray(image)
        assert set(np.unique(cutout[..., 3]).tolist()) <= {0, 255}
        assert np.array_equal(cutout[..., :3], read_photo(photos / f"{stem}{_suffix(photos, stem)}").rgb)
    err = capsys.readouterr().err
    assert "11 masked, 0 skipped, 0 failed" in err


def _suffix(folder: Path, stem: str) -> str:
    return next(path.suffix for path in folder.iterdir() if path.stem == stem)


def test_predict_mask_only_writes_8_bit_masks(photos, tmp_path, tiny_checkpoint):
    out = tmp_path / "masks"
    inputs = [str(photos / "wide.jpg"), str(photos / "rotated.jpg"), str(photos / "odd.png")]
    assert main(["predict", *inputs, "-o", str(out), "--mask-only", "--model", str(tiny_checkpoint), "--device", "cpu"]) == 0
    sizes = _sizes(photos)
    for stem in ("wide", "rotated", "odd"):
        with Image.open(out / f"{stem}.png") as image:
            assert image.mode == "L" and image.size == sizes[stem]
            assert set(np.unique(np.asarray(image)).tolist()) <= {0, 255}


def test_predict_reports_an_unreadable_photo_and_does_the_rest(photos, tmp_path, tiny_checkpoint, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    out = tmp_path / "out"
    code = main(["predict", str(photos), "-o", str(out), "--mask-only", "--model", str(tiny_checkpoint), "--device", "cpu"])
    assert code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert len(list(out.glob("*.png"))) == 11
    assert not (out / "broken.png").exists()


def test_predict_without_photos_fails_clearly(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint)]) == 1
    assert "no images found" in capsys.readouterr().err


def test_eval_json_prints_dice_and_count(few_cars, tiny_checkpoint, capsys):
    code = main(["eval", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
                 "--model", str(tiny_checkpoint), "--device", "cpu", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 8
    assert 0.0 <= report["dice"] <= 1.0
    assert len(report["worst"]) == 5 and report["worst"][0]["dice"] <= report["worst"][-1]["dice"]
    assert report["photos_without_mask"] == 0 and report["model"] == "tiny"
    assert report["mirror"] is True  # mirror averaging is the default


def test_eval_no_tta_measures_the_single_pass(few_cars, tiny_checkpoint, capsys):
    args = ["eval", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
            "--model", str(tiny_checkpoint), "--device", "cpu", "--limit", "2"]
    assert main([*args, "--no-tta"]) == 0
    single = capsys.readouterr().out
    assert main(args) == 0
    mirrored = capsys.readouterr().out
    assert "mirror-averaged" in mirrored.splitlines()[0] and "mirror-averaged" not in single


def test_eval_summary_and_limit(few_cars, tiny_checkpoint, capsys):
    assert main(["eval", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
                 "--model", str(tiny_checkpoint), "--device", "cpu", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mean Dice ") and "over 2 photos" in out and "worst:" in out


def test_eval_without_masks_fails_with_one_line(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.jpg")
    code = main(["eval", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"),
                 "--model", str(tiny_checkpoint)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no photos with masks" in err


def test_train_writes_checkpoints_that_predict_can_use(few_cars, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--arch", "arc2", "--width", "4", "--size", "64", "--epochs", "2", "--batch-size", "2",
                 "--max-steps-per-epoch", "2", "--val-fraction", "0.5", "--device", "cpu", "--no-augment"])
    assert code == 0
    out = capsys.readouterr().out
    assert "4 training photos (1 groups), 4 validation photos (1 groups)" in out
    assert "epoch 2 done" in out and "finished" in out
    assert {"last.safetensors", "best.safetensors", "state.safetensors", "history.json"} <= {p.name for p in run.iterdir()}
    config = read_config(run / "last.safetensors")
    assert (config.arch, config.width, config.preprocess.size) == ("arc2", 4, 64)
    assert config.info["epochs_done"] == 2 and config.info["train_config"]["augment"] is False

    masks = tmp_path / "masks"
    photo = next((few_cars / "images").glob("*.jpg"))
    assert main(["predict", str(photo), "-o", str(masks), "--mask-only", "--model", str(run), "--device", "cpu"]) == 0
    assert (masks / f"{photo.stem}.png").is_file()
    assert "run on CPU" in capsys.readouterr().err  # the run folder's name names the model


def test_fine_tuning_keeps_the_init_models_working_size(few_cars, tmp_path, tiny_checkpoint, capsys):
    run = tmp_path / "tuned"
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--init", str(tiny_checkpoint), "--epochs", "1", "--max-steps-per-epoch", "1", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    config = read_config(run / "last.safetensors")
    assert (config.arch, config.width, config.preprocess.size) == ("maskingnet", 4, 64)
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--init", str(tiny_checkpoint), "--epochs", "2", "--max-steps-per-epoch", "1", "--device", "cpu"])
    out = capsys.readouterr().out  # the same command resumes the fine-tune without a note about its width
    assert code == 0 and "resuming at epoch 2" in out and "which is what continues" not in out
    assert read_config(run / "last.safetensors").width == 4


def test_training_can_go_on_from_a_widened_init_model(few_cars, tmp_path, tiny_checkpoint, capsys):
    run = tmp_path / "wider"
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--init", str(tiny_checkpoint), "--widen-to", "6", "--epochs", "1", "--max-steps-per-epoch", "1",
                 "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert "widened from width 4 to 6" in capsys.readouterr().out
    config = read_config(run / "last.safetensors")
    assert (config.arch, config.width, config.preprocess.size) == ("maskingnet", 6, 64)
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--init", str(tiny_checkpoint), "--widen-to", "6", "--epochs", "2", "--max-steps-per-epoch", "1",
                 "--device", "cpu"])  # the same command resumes the widened run, as it is
    out = capsys.readouterr().out
    assert code == 0 and "resuming at epoch 2" in out and "which is what continues" not in out
    assert read_config(run / "last.safetensors").width == 6
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
                 "-o", str(tmp_path / "narrower"), "--init", str(tiny_checkpoint), "--widen-to", "2", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "must be an even number of at least 4" in err


def test_fresh_widening_trains_only_the_added_channels(few_cars, tmp_path, tiny_checkpoint, capsys):
    from core.models.checkpoint import load_model
    from core.models.networks.fresh_widen import fresh_widen, old_entry_masks

    run = tmp_path / "fresh"
    command = ["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
               "--init", str(tiny_checkpoint), "--widen-to", "6", "--widen-fresh", "--max-steps-per-epoch", "2",
               "--device", "cpu"]
    assert main([*command, "--epochs", "1"]) == 0, capsys.readouterr().err
    assert "widened from width 4 to 6 with fresh channels; only they train" in capsys.readouterr().out
    assert main([*command, "--epochs", "2"]) == 0, capsys.readouterr().err  # resumed: still frozen
    assert "resuming at epoch 2" in capsys.readouterr().out
    narrow, _ = load_model(tiny_checkpoint)
    wide, config = load_model(run / "last.safetensors")
    assert config.width == 6
    masks = old_entry_masks(wide, 4)
    old, start = dict(narrow.named_parameters()), dict(fresh_widen(narrow, 6, seed=0).named_parameters())
    for name, parameter in wide.named_parameters():  # the old entries are --init's, untouched
        assert torch.equal(parameter[masks[name]], old[name].flatten())
    assert any(not torch.equal(p[~masks[name]], start[name][~masks[name]]) for name, p in wide.named_parameters())


def test_fresh_widening_with_an_old_entries_rate_trains_the_old_entries_too(few_cars, tmp_path, tiny_checkpoint, capsys):
    from core.models.checkpoint import load_model
    from core.models.networks.fresh_widen import old_entry_masks

    run = tmp_path / "slow-old"
    assert main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
                 "--init", str(tiny_checkpoint), "--widen-to", "6", "--widen-fresh", "--old-entries-lr", "1e-4",
                 "--max-steps-per-epoch", "2", "--epochs", "1", "--device", "cpu"]) == 0, capsys.readouterr().err
    assert "with fresh channels; the old ones train at lr 0.0001" in capsys.readouterr().out
    narrow, _ = load_model(tiny_checkpoint)
    wide, _ = load_model(run / "last.safetensors")
    masks, old = old_entry_masks(wide, 4), dict(narrow.named_parameters())
    assert any(not torch.equal(p[masks[name]], old[name].flatten()) for name, p in wide.named_parameters())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--size", "100"], "not a positive multiple of 32"),
        (["--arch", "resnet"], "valid names: unet, segnet, arc1, arc2, arc3, maskingnet"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--init", "no-such-model"], "no such model file or model name"),
        (["--widen-to", "8"], "--widen-to widens the network of --init: give --init too"),
        (["--widen-fresh"], "--widen-fresh says how --widen-to widens: give --widen-to too"),
        (["--old-entries-lr", "1e-5"], "give --widen-fresh too"),
    ],
)
def test_train_refuses_bad_settings_with_one_line(few_cars, tmp_path, capsys, flags, message):
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
                 "-o", str(tmp_path / "run"), *flags])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_train_recipe_file(few_cars, tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"wdith": 4}))
    args = ["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(tmp_path / "r"),
            "--recipe", str(recipe)]
    assert main(args) == 2
    assert "unknown recipe field(s) wdith" in capsys.readouterr().err
    recipe.write_text("{broken")
    assert main(args) == 2
    assert "recipe.json: not readable JSON" in capsys.readouterr().err


def test_missing_default_model_is_one_line_and_non_zero(photos, tmp_path, capsys, monkeypatch):
    import core.models.model_store

    monkeypatch.setattr(core.models.model_store, "SHIPPED_MODELS_DIR", tmp_path / "no-shipped-models")
    code = main(["predict", str(photos / "odd.png"), "-o", str(tmp_path / "out"), "--model", "default"])
    assert code != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no default model is installed" in err
    assert main(["eval", "--images", str(photos), "--masks", str(photos)]) != 0  # --model omitted: default
    assert "no default model is installed" in capsys.readouterr().err


def test_a_model_file_that_does_not_exist(photos, tmp_path, capsys):
    code = main(["predict", str(photos / "odd.png"), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "x.safetensors: no such model file or model name" in capsys.readouterr().err


def test_progress_bar_stays_in_bounds():
    class Terminal:
        text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    bar = ProgressBar(0, stream=terminal)  # type: ignore[arg-type]
    for name in ("a", "b"):
        bar.advance(name)
    bar.close()
    assert "[" + "#" * 30 + "]" in terminal.text and "2/0" in terminal.text
    assert "-" not in terminal.text.split("]")[1].split("left")[0]  # no negative time left


def test_the_installed_command_runs(few_cars, tiny_checkpoint):
    if not MASKINGNET.exists():
        pytest.skip(f"{MASKINGNET} is not installed (pip install -e .)")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [str(MASKINGNET), "eval", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
         "--model", str(tiny_checkpoint), "--device", "cpu", "--limit", "2", "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 2
    version = subprocess.run([str(MASKINGNET), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("maskingnet ")


def test_train_vgg_init_needs_a_width_64_vgg_network(few_cars, tmp_path, capsys):
    code = main(["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"),
                 "-o", str(tmp_path / "run"), "--width", "16", "--vgg-init", "torchvision"])
    assert code == 2
    assert "--vgg-init fits a new segnet, arc1-3 or maskingnet of --width 64" in capsys.readouterr().err


def test_ctrl_c_stops_training_after_the_step_and_saves_the_state(few_cars, tmp_path, capsys, monkeypatch):
    import signal

    import core.training.train

    real_loss = core.training.train.segmentation_loss
    calls = []

    def loss_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C during the first step
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(core.training.train, "segmentation_loss", loss_then_interrupt)
    run = tmp_path / "run"
    args = ["train", "--images", str(few_cars / "images"), "--masks", str(few_cars / "masks"), "-o", str(run),
            "--width", "4", "--size", "64", "--epochs", "1", "--batch-size", "2", "--device", "cpu"]
    assert main(args) == 130
    captured = capsys.readouterr()
    assert "stopping after this step" in captured.err
    assert "stopped; the state is saved" in captured.out and "to resume, run the same command again" in captured.out
    assert len(calls) == 1 and (run / "state.safetensors").is_file() and (run / "last.safetensors").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back

    assert main(args) == 0  # the same command resumes and finishes
    assert "resuming at epoch 1, step 1" in capsys.readouterr().out


def test_the_shipped_default_model_is_what_model_omitted_means(photos, tmp_path, capsys):
    if not shipped_model_path().is_file():
        pytest.skip("no shipped default model in resources/models")
    out = tmp_path / "out"
    assert main(["predict", str(photos / "odd.png"), "-o", str(out), "--mask-only", "--device", "cpu"]) == 0
    with Image.open(out / "odd.png") as mask:
        assert mask.size == (97, 61)
    assert "(default on CPU" in capsys.readouterr().err

"""Damaged or hostile app files (issue 14): every file the app reads back is a checked record.

Each numbered block matches a defect of the issue: writes outside where they belong, hangs,
crashes on wrong types, busy workers, silent skips, unclear messages.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.batch.pipeline import BatchJob, plan_jobs, remove_partial_files, run_batch
from core.batch.review import LOCK_NAME, REVIEW_LOG_NAME, ReviewItem, ReviewLog, folder_lock, reexport_from_correction
from core.cli import main
from core.errors import ImageReadError, MaskingNetError
from core.io.records import RecordError, printable
from core.masking.export import ExportOptions
from core.store.corrections import CorrectionStore, photo_key


def _photo(path: Path, size: tuple[int, int] = (48, 32), value: int = 120) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.full((size[1], size[0], 3), value, np.uint8)
    rgb[size[1] // 4 : 3 * size[1] // 4, size[0] // 4 : 3 * size[0] // 4] = 250
    Image.fromarray(rgb).save(path)
    return path


def _one_line(message: str, path: Path | str) -> bool:
    return message.startswith(f"{printable(path)}: ") and "\n" not in message and "\x1b" not in message


# -- 1. writes through planted links ---------------------------------------------------------


def test_a_symlinked_review_log_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "bashrc"
    victim.write_text("original\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / REVIEW_LOG_NAME).symlink_to(victim)
    with pytest.raises(RecordError, match="symbolic link"):
        ReviewLog(out).record_options(ExportOptions())
    assert victim.read_text() == "original\n"


def test_a_symlinked_lock_is_refused_and_creates_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "created-by-lock"
    (out / LOCK_NAME).symlink_to(target)
    with pytest.raises(RecordError, match="symbolic link"), folder_lock(out):
        pass
    assert not target.exists()


def test_a_fifo_planted_as_the_review_log_is_refused_without_hanging(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / REVIEW_LOG_NAME)
    with pytest.raises(RecordError, match="FIFO"):
        ReviewLog(out).record_options(ExportOptions())
    log = ReviewLog(out)
    assert log.items() == {} and "FIFO" in log.problems[0]


def test_a_batch_into_a_folder_with_a_symlinked_log_writes_nothing_through_it(tmp_path, tiny_checkpoint):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    photo = _photo(tmp_path / "in" / "car$(touch PWNED).jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / REVIEW_LOG_NAME).symlink_to(victim)
    code = main(["predict", str(photo.parent), "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"])
    assert code == 2 and victim.read_text() == "keep"


# -- 2. paths from the review log stay inside the output folder ------------------------------


@pytest.mark.parametrize("output", ["../victim/important.txt", "/tmp/x/important.txt", "a/../../b.png", ""])
def test_a_log_line_whose_output_leaves_the_folder_is_skipped(tmp_path, output):
    out = tmp_path / "out"
    out.mkdir()
    (out / REVIEW_LOG_NAME).write_text(json.dumps({"kind": "result", "output": output, "source": "/x.jpg"}) + "\n"
                                       + json.dumps({"kind": "result", "output": "fine.png"}) + "\n")
    log = ReviewLog(out)
    assert list(log.items()) == ["fine.png"]
    assert len(log.problems) == 1 and _one_line(log.problems[0], out / REVIEW_LOG_NAME)
    assert "line 1" in log.problems[0]


def test_reexport_refuses_an_output_outside_the_folder(tmp_path):
    photo = _photo(tmp_path / "in" / "car.png")
    mask = np.zeros((32, 48), bool)
    mask[8:24, 12:36] = True
    store = CorrectionStore()
    store.save(photo, mask)
    victim = tmp_path / "victim" / "important.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(victim.parent)
    log = ReviewLog(out)
    for output in ("../victim/important.txt", str(victim), "link/important.txt"):
        with pytest.raises(RecordError, match="outside|not relative"):
            reexport_from_correction(ReviewItem(output=output, source=str(photo)), log, store)
    assert victim.read_text() == "precious"


# -- 3. special files in a batch folder once a correction exists ------------------------------


def test_fifo_and_device_links_fail_at_once_when_photos_are_hashed(tmp_path, tiny_checkpoint):
    from core.masking.inference import Segmenter

    folder = tmp_path / "in"
    good = _photo(folder / "good.png")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "random.png").symlink_to("/dev/urandom")
    store = CorrectionStore(tmp_path / "corrections")
    other = _photo(tmp_path / "other.png", value=60)
    store.save(other, np.ones((32, 48), bool))  # any correction: every photo is hashed
    for special in ("pipe.jpg", "zero.jpg", "random.png"):
        with pytest.raises(ImageReadError, match="not a regular file"):
            photo_key(folder / special)
    jobs = plan_jobs([folder], tmp_path / "out", ExportOptions(format="mask"))
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")
    done = threading.Event()
    results = []

    def work() -> None:
        results.extend(run_batch(jobs, segmenter, ExportOptions(format="mask"), out_dir=tmp_path / "out",
                                 corrections=store))
        done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    assert done.wait(120), "the batch hung on a special file"
    by_name = {r.source.name: r for r in results}
    assert by_name[good.name].status == "done"
    for special in ("pipe.jpg", "zero.jpg", "random.png"):
        assert by_name[special].status == "failed" and "not a regular file" in by_name[special].error


# -- 4. model versions' config.json ----------------------------------------------------------


@pytest.mark.parametrize("config", ["[]", '{"created": "yesterday"}', '{"figures": []}', '{"figures": {"val_dice_after": "x"}}',
                                    "{broken", '{"created": 1e400}'])
def test_a_damaged_version_config_is_listed_with_defaults(tiny_checkpoint, config):
    from core.models import model_versions

    version = model_versions.save_version("mine", tiny_checkpoint, {"base_model": "tiny"})
    (version.folder / model_versions.CONFIG_FILE).write_text(config)
    (listed,) = model_versions.list_versions()
    assert listed.name == "mine" and listed.created > 0 and listed.val_dice_after is None
    assert _one_line(listed.problem, version.folder / model_versions.CONFIG_FILE)
    assert "mine" in listed.summary()


def test_a_damaged_active_model_file_reads_as_default(isolated_home):
    from core.models.model_versions import ACTIVE_FILE, active_model

    for text in ('{"model": ["x"]}', "[1]", "\x00\xff", '{"model": 5}'):
        (isolated_home / ACTIVE_FILE).write_text(text)
        assert active_model() == "default"
    (isolated_home / ACTIVE_FILE).unlink()
    os.mkfifo(isolated_home / ACTIVE_FILE)
    assert active_model() == "default"  # refused, never opened for reading


# -- 5. window geometry and state of another type --------------------------------------------


def test_window_geometry_and_state_of_another_type_are_ignored(qtbot, tiny_checkpoint):
    from maskingnet_app import app_settings
    from tests.test_app_helpers import make_window

    app_settings.set_value(app_settings.WINDOW_GEOMETRY, "hello")
    app_settings.set_value(app_settings.WINDOW_STATE, "not bytes")
    assert app_settings.byte_value(app_settings.WINDOW_GEOMETRY) is None
    window = make_window(qtbot, tiny_checkpoint)
    assert window.width() > 0
    window.close()


# -- 6. corrections' meta.json ----------------------------------------------------------------


@pytest.mark.parametrize("change", [{"width": "abc"}, {"updated": "soon"}, {"source": 5}, {"saves": -1},
                                    {"source": "relative.jpg"}])
def test_a_damaged_correction_is_skipped_and_named(tmp_path, change):
    photo = _photo(tmp_path / "car.png")
    store = CorrectionStore()
    record = store.save(photo, np.ones((32, 48), bool))
    meta = record.folder / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), **change}))
    assert store.get(record.key) is None and store.records() == []
    assert _one_line(store.problems[0], meta)
    again = store.save(photo, np.zeros((32, 48), bool), key=record.key)  # a fresh record replaces it
    assert again.saves == 1 and store.get(record.key) is not None


def test_predict_goes_on_past_a_damaged_correction(tmp_path, tiny_checkpoint, capsys):
    photo = _photo(tmp_path / "in" / "car.png")
    record = CorrectionStore().save(photo, np.ones((32, 48), bool))
    (record.folder / "meta.json").write_text('{"width": "abc", "source": 5}')
    code = main(["predict", str(photo), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0 and (tmp_path / "out" / "car.png").is_file()
    assert f"note: {record.folder / 'meta.json'}: the field 'source'" in err


def test_the_photo_loader_never_leaves_a_photo_waiting(qtbot, tmp_path):
    from maskingnet_app.editor.photo_loader import PhotoLoader

    photo = _photo(tmp_path / "car.png")
    store = CorrectionStore()
    record = store.save(photo, np.ones((32, 48), bool))
    (record.folder / "meta.json").write_text('{"width": "abc"}')
    loader = PhotoLoader(lambda: store)
    with qtbot.waitSignal(loader.identified, timeout=20000) as signal:
        loader.identify(1, photo)
    assert signal.args[1].correction is None


# -- 7. review log fields of the wrong type ---------------------------------------------------


@pytest.mark.parametrize("line", [{"kind": "mark", "output": "a.png", "mark": "bogus"},
                                  {"kind": "result", "output": "a.png", "time": "abc"},
                                  {"kind": "result", "output": "a.png", "time": [1]},
                                  {"kind": "result", "output": "a.png", "angle": "x"},
                                  {"kind": "result", "output": "a.png", "uncertainty": "NaN"},
                                  {"kind": "options", "feather": 1e6}, {"kind": "options", "format": "exe"},
                                  {"kind": "options", "background": [1, 2]}, {"kind": 5}, [1, 2], "text"])
def test_review_log_fields_of_the_wrong_type_are_skipped(tmp_path, line):
    from core.batch.review import group_cars, rank_by_doubt

    out = tmp_path / "out"
    log = ReviewLog(out)
    log.record_result(_result(out, "b"))
    with open(log.path, "a") as handle:
        handle.write(json.dumps(line) + "\n")
    log.record_result(_result(out, "c"))
    items, options = log.load()
    assert set(items) == {"b.png", "c.png"} and options is None
    assert len(log.problems) == 1 and _one_line(log.problems[0], log.path) and "line 2" in log.problems[0]
    rank_by_doubt(items.values())
    group_cars(items.values())


def test_predict_accepts_a_folder_whose_log_has_bad_lines(tmp_path, tiny_checkpoint, capsys):
    photo = _photo(tmp_path / "in" / "car.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / REVIEW_LOG_NAME).write_text('{"kind": "mark", "output": "car.png", "mark": "bogus", "time": [1]}\n')
    code = main(["predict", str(photo), "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"])
    assert code == 0 and f"note: {out / REVIEW_LOG_NAME}: line 1:" in capsys.readouterr().err


def _result(out: Path, name: str):
    from core.batch.pipeline import BatchResult

    return BatchResult(Path(f"/photos/{name}.jpg"), out / f"{name}.png", "done", uncertainty=0.1, area=0.3)


# -- 8. the exporter is free again after any error ---------------------------------------------


def test_the_exporter_survives_an_unexpected_error(qtbot, tmp_path):
    from maskingnet_app.export.exporter import Exporter, ExportItem

    def broken(path: Path):
        raise RuntimeError("something nobody expected")

    exporter = Exporter(broken)
    failures = []
    exporter.itemFailed.connect(lambda document_id, message: failures.append(message))
    item = ExportItem(1, tmp_path / "car.png", np.zeros((4, 4), np.uint8), tmp_path / "out" / "car.png")
    with qtbot.waitSignal(exporter.finished, timeout=10000) as signal:
        assert exporter.start([item], ExportOptions(), set())
    assert signal.args == [0, 1, False] and not exporter.running
    assert failures == [f"{tmp_path / 'out' / 'car.png'}: RuntimeError: something nobody expected"]
    with qtbot.waitSignal(exporter.finished, timeout=10000):
        assert exporter.start([item], ExportOptions(), set())  # free again


def test_remembered_export_settings_out_of_range_are_clamped():
    from core.masking.export import MAX_FEATHER
    from maskingnet_app import app_settings
    from maskingnet_app.export.exporter import ExportSettings

    for feather, expected in ((1e6, MAX_FEATHER), ("inf", MAX_FEATHER), ("nan", 0.0), (-3, 0.0)):
        app_settings.set_value("export/feather", feather)
        assert ExportSettings.load().options.feather == expected
    app_settings.set_value("export/quality", 10**6)
    assert ExportSettings.load().options.quality == 100


# -- 9. unreadable folders are never skipped in silence ----------------------------------------


def _unreadable(monkeypatch, *folders: Path) -> None:
    """Make ``folders`` unreadable even for root (tests may run as root)."""
    real = os.scandir
    blocked = {str(folder) for folder in folders}

    def scandir(path="."):
        if os.fspath(path) in blocked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_sub_folder_is_an_error_with_recursive(tmp_path, tiny_checkpoint, monkeypatch, capsys):
    root = tmp_path / "in"
    _photo(root / "a.png")
    _photo(root / "locked" / "b.png")
    _unreadable(monkeypatch, root / "locked")
    code = main(["predict", str(root), "-o", str(tmp_path / "out"), "--recursive", "--model", str(tiny_checkpoint),
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and f"error: {root / 'locked'}: cannot read the folder (Permission denied)" in err
    assert (tmp_path / "out" / "a.png").is_file()


def test_an_unreadable_input_folder_is_not_reported_as_empty(tmp_path, monkeypatch, capsys):
    root = tmp_path / "in"
    _photo(root / "a.png")
    _unreadable(monkeypatch, root)
    code = main(["predict", str(root), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {root}: cannot read the folder (Permission denied)" in err
    assert "no images found" not in err


# -- 10. out of memory on the CPU; width x working size bounded ---------------------------------


def test_a_cpu_allocator_failure_is_the_one_line_message(tiny_checkpoint):
    import torch

    from core.masking.inference import CpuOutOfMemory, Segmenter

    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")

    def no_memory(batch, mirror, use_context_network=True):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried "
                           "to allocate 68719476736 bytes.\nlong C++ trace")

    segmenter._probabilities = no_memory
    with pytest.raises(CpuOutOfMemory) as caught:
        segmenter.probabilities_and_disagreement(torch.zeros(1, 3, 64, 64), mirror=False)
    assert str(caught.value) == "out of memory on the CPU even for one photo at 64x64; close other programs"


@pytest.mark.parametrize(("width", "size", "ok"), [(64, 2048, True), (16, 4096, True), (64, 4096, False),
                                                   (32, 4096, False), (4, 4096, True)])
def test_width_times_working_size_is_bounded(width, size, ok):
    from core.models.checkpoint import ModelConfig
    from core.models.preprocess import Preprocess

    text = ModelConfig(arch="maskingnet", width=width, preprocess=Preprocess(size=size)).to_json()
    if ok:
        ModelConfig.from_json(text, "m.safetensors")
    else:
        with pytest.raises(RecordError, match="needs more memory per photo"):
            ModelConfig.from_json(text, "m.safetensors")


# -- 11. messages that name the file ----------------------------------------------------------


def _config(**change) -> str:
    from core.models.checkpoint import ModelConfig
    from core.models.preprocess import Preprocess

    data = json.loads(ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64)).to_json())
    for key, value in change.items():
        if key in ("mean", "std"):
            data["preprocess"][key] = value
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(("text", "words"), [
    (_config(num_classes=1), "num_classes must be 2"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    (_config(mean="abc"), "mean and std need 3 finite numbers"),
    (_config(std=[0.2, float("nan"), 0.2]), "mean and std need 3 finite numbers"),
    (_config(info=[]), "'info' should be a JSON object"),
    (_config(width="8"), "'width' should be a whole number"),
])
def test_bad_model_configurations_name_the_file(tmp_path, text, words):
    from core.models.checkpoint import read_config, save_tensors

    path = tmp_path / "model.safetensors"
    import torch

    save_tensors(path, {"x": torch.zeros(1)}, {"maskingnet": text})
    with pytest.raises(MaskingNetError) as caught:
        read_config(path)
    assert _one_line(str(caught.value), path) and words in str(caught.value)


def test_eval_held_out_with_val_groups_of_the_wrong_type_names_the_model(tmp_path, capsys):
    import torch

    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess

    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64), info={"val_groups": 5})
    path = tmp_path / "odd.safetensors"
    torch.manual_seed(0)
    save_model(path, config.build(), config)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    code = main(["eval", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"), "--held-out",
                 "--model", str(path), "--device", "cpu"])
    assert code == 2
    assert f"error: {path}: info: the field 'val_groups' should be a list of texts, found 5" in capsys.readouterr().err


@pytest.mark.parametrize(("recipe", "words"), [
    ({"epochs": "10"}, "the field 'epochs' should be a whole number of at least 1, found \"10\""),
    ({"lr_milestones": 5}, "the field 'lr_milestones' should be a list of whole numbers, found 5"),
    ({"lr": float("nan")}, "the field 'lr' should be a finite number"),
    ({"augment": "yes"}, "the field 'augment' should be true or false"),
    ({"size": 100000}, "the field 'size' should be a whole number between 32 and 4096, found 100000"),
    ([], "expected a JSON object, found list"),
])
def test_bad_recipes_name_the_file(tmp_path, capsys, recipe, words):
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    tmp_path.joinpath("i").mkdir()
    code = main(["train", "--images", str(tmp_path / "i"), "--masks", str(tmp_path / "i"), "-o", str(tmp_path / "r"),
                 "--recipe", str(path)])
    assert code == 2 and f"error: {path}: {words}" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--threads", "-1"], ["--feather", "inf"], ["--feather", "nan"], ["--feather", "-1"],
                                   ["--batch-size", "-2"]])
def test_bad_numbers_on_the_command_line_are_refused(tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as caught:
        main(["predict", str(tmp_path), "-o", str(tmp_path / "out"), *flags])
    assert caught.value.code == 2 and flags[0] in capsys.readouterr().err


# -- 12. smaller ones -------------------------------------------------------------------------


def test_control_characters_in_file_names_are_escaped(tmp_path, capsys):
    name = tmp_path / "evil\n\x1b[31mred.jpg"
    name.write_bytes(b"")
    code = main(["predict", str(name), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert "\x1b" not in err and "evil\\n\\x1b[31mred.jpg: the file is empty" in err
    assert [line for line in err.splitlines() if "evil" in line] == [
        f"error: {printable(name)}: the file is empty"]
    assert code in (1, 2)


@pytest.mark.parametrize("pattern", ["{stem:.0}", "{n!r}", "{stem:>300}"])
def test_export_patterns_with_a_format_are_refused(pattern):
    from maskingnet_app.export.exporter import check_pattern

    with pytest.raises(ValueError, match="take no format"):
        check_pattern(pattern)


def test_a_pattern_giving_a_hidden_name_is_refused():
    from maskingnet_app.export.exporter import output_name

    with pytest.raises(ValueError, match="visible name"):
        output_name("{name}", Path(".png"), 1, ExportOptions())


def test_a_name_of_244_bytes_is_written_atomically_and_its_temp_file_cleaned(tmp_path):
    from core.io.atomic import atomic_path, write_bytes_atomic

    target = tmp_path / ("é" * 118 + "abcd.png")  # 244 bytes in UTF-8
    assert len(os.fsencode(target.name)) == 244
    write_bytes_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temp:  # a killed run leaves its temp file
        Path(temp).write_bytes(b"partial")
        os.link(temp, tmp_path / "kept.part")
        raise KeyboardInterrupt
    os.rename(tmp_path / "kept.part", temp)
    assert len(os.fsencode(Path(temp).name)) <= 255
    assert remove_partial_files([BatchJob(Path("x"), target)]) == 1 and not Path(temp).exists()


def _pair(folder: Path, name: str, mask: np.ndarray, photo_size=(48, 32)) -> None:
    _photo(folder / "images" / f"{name}.png", photo_size)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(folder / "masks" / f"{name}_mask.png")


def test_training_leaves_out_masks_that_cannot_teach_and_says_why(tmp_path):
    from core.models.preprocess import Preprocess
    from core.training.data import cache_samples, find_samples

    good = np.zeros((32, 48), np.uint8)
    good[8:24, 12:36] = 255
    _pair(tmp_path, "good", good)
    _pair(tmp_path, "small", good[:16, :24])
    _pair(tmp_path, "empty", np.zeros((32, 48), np.uint8))
    _pair(tmp_path, "full", np.full((32, 48), 255, np.uint8))
    noisy = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    _pair(tmp_path, "photo", noisy)
    samples, _ = find_samples(tmp_path / "images", tmp_path / "masks")
    cached = cache_samples(samples, Preprocess(size=32))
    assert [s.name for s in cached.samples] == ["good"]
    notes = "\n".join(cached.left_out)
    assert "empty_mask.png: the mask is empty" in notes and "full_mask.png: the mask is all car" in notes
    assert "small_mask.png: the mask is 24x16, its photo 48x32" in notes
    assert "photo_mask.png: looks like a photo, not a mask" in notes


def test_two_trainings_into_one_run_folder_are_refused(tmp_path):
    from core.io.records import hold_lock
    from core.training.train import RUN_LOCK, TrainConfig, train

    run = tmp_path / "run"
    run.mkdir()
    with hold_lock(run / RUN_LOCK) as held:
        assert held
        from core.training.data import Sample

        events = train(TrainConfig(epochs=1), [Sample(Path("a.png"), Path("b.png"), "g")], [], run)
        with pytest.raises(MaskingNetError, match="another training is using this run folder"):
            next(events)


def test_only_run_folders_the_app_owns_are_cleaned_up(isolated_home):
    from core.training import finetune as ft

    runs = isolated_home / ft.RUNS_DIR
    for name, owner in (("plain", None), ("damaged", "{"), ("zero", '{"pid": 0}'), ("text", '{"pid": "1"}'),
                        ("dead", json.dumps({"pid": 2**22 + 4321}))):
        (runs / name).mkdir(parents=True)
        (runs / name / "precious.txt").write_text("keep")
        if owner is not None:
            (runs / name / ft.OWNER_FILE).write_text(owner)
    (runs / "link").symlink_to(runs / "plain")
    assert ft.cleanup_stale_runs() == [runs / "dead"]
    assert sorted(p.name for p in runs.iterdir()) == ["damaged", "link", "plain", "text", "zero"]


def test_a_folder_scan_says_what_it_left_out(tmp_path, tiny_checkpoint, capsys):
    root = tmp_path / "in"
    _photo(root / "a.png")
    (root / "noext").write_bytes((root / "a.png").read_bytes())
    (root / "notes.txt").write_text("x")
    (root / ".hidden.png").write_text("x")
    left = []
    jobs = plan_jobs([root], tmp_path / "out", ExportOptions(), left_out=left)
    assert [job.source.name for job in jobs] == ["a.png"]
    assert sorted(item.path.name for item in left) == ["noext", "notes.txt"]
    args = ["predict", str(root), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--device", "cpu"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "note: 2 file(s) left out of the folder scan: no image extension" in err and "noext" not in err
    assert main([*args, "--list-left-out", "--skip-existing"]) == 0
    assert f"left out: {root / 'noext'} (no image extension)" in capsys.readouterr().err


def test_a_damaged_training_state_names_the_file():
    from core.training.train import checked_progress

    path = Path("/runs/r/state.safetensors")
    assert checked_progress({"epoch": 2, "step": 1}, path)["epoch"] == 2
    for progress in ({"epoch": "x"}, {"history": 5}, [], {"best_dice": float("nan")}):
        with pytest.raises(MaskingNetError) as caught:
            checked_progress(progress, path)
        assert _one_line(str(caught.value), path) and "cannot be resumed" in str(caught.value)


def test_editor_settings_of_any_value_never_stop_the_app(qtbot):
    from maskingnet_app import app_settings
    from maskingnet_app.editor.editor_state import EditorState

    for key in ("brush/size", "brush/hardness", "view/overlay_opacity", "mask/cleanup_percent"):
        for raw in ("inf", "-inf", "nan", "abc", "1e999"):
            app_settings.set_value(key, raw)
            EditorState()  # falls back to a valid value
    assert 1 <= EditorState().brush_size

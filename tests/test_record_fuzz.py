"""Property tests: random JSON and random bytes thrown at every reader of the app's own files.

Each reader either returns a valid record (or its documented default) or refuses with one
line that names the file; it never raises anything else, and never trusts a bad value.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import FileProblem, printable
from core.io.records import RecordError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = ["kind", "output", "source", "car", "angle", "uncertainty", "mirror", "area", "corrected", "mark", "time",
        "updated", "format", "background", "feather", "quality", "width", "height", "name", "group", "model", "saves",
        "created", "base_model", "figures", "val_dice_before", "val_dice_after", "arch", "num_classes", "preprocess",
        "size", "mean", "std", "info", "val_groups", "epochs", "lr", "lr_milestones", "augment", "seed", "pid"]
WORDS = ["result", "mark", "options", "png", "mask", "accepted", "fixed", "a.png", "../x.png", "/etc/x", "maskingnet",
         "", "\n", "\x1b[31m"]
leaves = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=8) | st.sampled_from(WORDS))
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4),
                                                                        inner, max_size=6),
    max_leaves=12)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=10)
anything = json_objects | json_values


def refused_in_one_line(error: FileProblem, path: Path) -> None:
    """The one-line refusal of every reader of a file: ``"<file>: <problem>"``."""
    message = str(error)
    assert message.startswith(f"{printable(path)}: ") and "\n" not in message, message


def _check(read, data, path: Path):
    """``read(data)`` returns a record or raises ``RecordError`` naming ``path`` in one line."""
    try:
        return read(data)
    except RecordError as error:
        refused_in_one_line(error, path)
        return None


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


# -- typed records from parsed JSON --------------------------------------------------------------


@FUZZ
@given(anything)
def test_review_log_lines(data):
    from core.batch.review import MARKS, parse_line
    from core.masking.export import ExportOptions

    path = Path("/out/.maskingnet-review.jsonl")
    record = _check(lambda d: parse_line(d, path, "line 1"), data, path)
    if isinstance(record, dict):
        assert not record["output"].startswith("/") and ".." not in record["output"].split("/")
        assert record["mark"] in MARKS and math.isfinite(record["time"])
    elif record is not None:
        assert isinstance(record, ExportOptions)


@FUZZ
@given(anything)
def test_correction_meta(data):
    from core.store.corrections import CorrectionRecord

    folder = Path("/store/0123456789abcdef0123")
    record = _check(lambda d: CorrectionRecord.from_json(d, folder.name, folder), data, folder / "meta.json")
    if record is not None:
        assert record.source.is_absolute() and record.width >= 0 and record.height >= 0
        assert math.isfinite(record.updated) and isinstance(record.group, str) and isinstance(record.model, str)


@FUZZ
@given(anything)
def test_model_version_config(data):
    from core.models.model_versions import ModelVersion

    folder = Path("/models/mine")
    version = _check(lambda d: ModelVersion.from_json(d, "mine", folder), data, folder / "config.json")
    if version is not None:
        assert math.isfinite(version.created) and isinstance(version.base_model, str)
        for figure in (version.val_dice_before, version.val_dice_after):
            assert figure is None or 0.0 <= figure <= 1.0
        version.summary()


@FUZZ
@given(anything)
def test_model_configuration(data):
    from core.models.checkpoint import MAX_WIDTH, ModelConfig

    path = Path("/models/m.safetensors")
    config = _check(lambda d: ModelConfig.from_json(json.dumps(d), path), data, path)
    if config is not None:
        assert isinstance(config.arch, str) and 2 <= config.width <= MAX_WIDTH and config.num_classes == 2
        assert all(math.isfinite(v) for v in (*config.preprocess.mean, *config.preprocess.std))


@FUZZ
@given(anything)
def test_training_recipe(data):
    from core.training.train import TrainConfig, recipe_from_json

    path = Path("/recipes/r.json")
    values = _check(lambda d: recipe_from_json(d, path), data, path)
    if values is not None:
        config = replace(TrainConfig(), **values)
        assert config.epochs >= 1 and config.batch_size >= 1 and math.isfinite(config.lr)


# -- the same readers from random bytes on disk ----------------------------------------------------


@FUZZ
@given(st.binary(max_size=300) | anything.map(lambda d: json.dumps(d).encode()))
def test_files_read_back_from_random_bytes(scratch, monkeypatch, data):
    from core.batch.review import ReviewLog
    from core.io.records import read_json
    from core.models.model_versions import ACTIVE_FILE, active_model, read_version
    from core.store.corrections import CorrectionStore
    from core.training import finetune as ft

    monkeypatch.setenv("MASKINGNET_HOME", str(scratch))
    log = ReviewLog(scratch / "out")
    log.out_dir.mkdir(exist_ok=True)
    log.path.write_bytes(data + b"\n" + data)
    items = log.items()
    assert all(not key.startswith("/") for key in items)
    for problem in log.problems:
        assert problem.startswith(f"{log.path}: ") and "\n" not in problem

    store = CorrectionStore(scratch / "corrections")
    folder = store.folder_for("0123456789abcdef0123")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mask.png").write_bytes(b"x")
    (folder / "meta.json").write_bytes(data)
    record = store.get("0123456789abcdef0123")
    assert record is not None or all(p.startswith(f"{folder / 'meta.json'}: ") and "\n" not in p for p in store.problems)

    version_folder = scratch / "models" / "mine"
    version_folder.mkdir(parents=True, exist_ok=True)
    (version_folder / "model.safetensors").write_bytes(b"weights")
    (version_folder / "config.json").write_bytes(data)
    version = read_version("mine")
    assert version is not None and version.created > 0
    assert version.problem == "" or (version.problem.startswith(f"{version_folder / 'config.json'}: ")
                                     and "\n" not in version.problem)

    (scratch / ACTIVE_FILE).write_bytes(data)
    assert isinstance(active_model(), str)

    run = scratch / ft.RUNS_DIR / "finetune-x"
    run.mkdir(parents=True, exist_ok=True)
    (run / ft.OWNER_FILE).write_bytes(data)
    owner = ft.run_owner(run)
    assert owner is None or owner >= 1

    recipe = scratch / "recipe.json"
    recipe.write_bytes(data)
    try:
        read_json(recipe)
    except RecordError as error:
        refused_in_one_line(error, recipe)

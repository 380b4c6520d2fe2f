"""Fine-tuning a model on the user's corrected masks: data, settings, the run, the result.

The engine behind the app's training dialog and ``maskingnet train --save-as``:

1. ``correction_items`` / ``folder_items`` list the photos that can be used (with a mask).
2. ``plan_split`` holds out a validation share by group (car or folder).
3. ``finetune`` trains into a temporary run folder under ``<app home>/runs`` and yields
   ``FinetuneEvent``s: the starting model's validation Dice, the training loop's events, and
   the new model's validation Dice on the same photos.
4. ``save_as_version`` makes a finished run a new model version (never the active one).

A stopped, failed or crashed run leaves no version and never touches the active model;
``remove_run`` deletes its folder and ``cleanup_stale_runs`` removes those of dead processes.
Torch is imported only when training or evaluating starts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Sequence

from core.grouping import near_duplicate_groups
from core.io.records import Fields, RecordError, read_json
from core.models.model_store import app_home, resolve_model
from core.store.corrections import CorrectionStore
from core.training.data import Sample, find_samples, split_by_group

if TYPE_CHECKING:
    from core.models.model_versions import ModelVersion
    from core.training.train import TrainConfig, TrainEvent

RUNS_DIR = "runs"
OWNER_FILE = "owner.json"


@dataclass
class FinetuneSettings:
    """What the user chose. ``size`` None keeps the starting model's working size."""

    name: str
    base_model: str
    epochs: int = 24
    lr: float = 5e-4
    size: int | None = None
    batch_size: int = 4
    device: str = "auto"
    weight_corrections: bool = True
    correction_weight: float = 4.0
    val_fraction: float = 0.2
    seed: int = 0
    augment: bool = True
    max_steps_per_epoch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Presets, from benchmarks/bench_finetune.py on a 2-core CPU (see the README): lr 5e-4 beat 2e-4,
# and 24 epochs beat 12, with the earlier 256 default (21 s for 13 photos) and again with the
# shipped outdoor default (stage 9, 512: 0.9642 against 0.9516 and 0.9219 on the new kind). The GPU
# preset takes batches of 8 and as many steps. The rate halves at half the epochs.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"epochs": 24, "batch_size": 4, "lr": 5e-4, "device": "cpu"},
    "gpu": {"epochs": 48, "batch_size": 8, "lr": 5e-4, "device": "auto"},
}


def apply_preset(settings: FinetuneSettings, preset: str) -> FinetuneSettings:
    """``settings`` with the values of ``PRESETS[preset]``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(settings, **PRESETS[preset])


@dataclass
class DataItem:
    """A photo that can be trained on. ``source``: 'correction' or the folder it came from."""

    sample: Sample
    source: str
    label: str
    key: str

    def describe(self) -> dict[str, str]:
        return {"image": str(self.sample.image), "group": self.sample.group, "source": self.source}


def correction_items(store: CorrectionStore) -> list[DataItem]:
    """The user's corrected photos (newest first) as training items, weighted where known."""
    items = []
    for record in store.records():
        sample = Sample(image=record.source, mask=record.mask_path, group=record.group, weight=record.weight_path)
        items.append(DataItem(sample=sample, source="correction", label=record.name, key=f"correction:{record.key}"))
    return items


def folder_items(folder: str | Path, masks: str | Path | None = None) -> tuple[list[DataItem], list[Path]]:
    """Photos + masks from a folder: ``folder/images`` + ``folder/masks``, or ``folder`` + ``masks``.

    Returns (items, photos without a mask). Raises ``FileNotFoundError`` naming a missing folder.
    """
    folder = Path(folder)
    if masks is None:
        if (folder / "images").is_dir() and (folder / "masks").is_dir():
            folder, masks = folder / "images", folder / "masks"
        elif (folder.parent / "masks").is_dir() and folder.parent != folder:
            masks = folder.parent / "masks"
        else:
            raise FileNotFoundError(f"{folder}: no masks folder found (expected {folder / 'masks'}); choose it")
    samples, unmatched = find_samples(folder, masks)
    items = [DataItem(sample=s, source=str(folder), label=s.image.name, key=f"file:{s.image.resolve()}")
             for s in samples]
    return items, unmatched


@dataclass
class SplitPlan:
    """Training and validation photos, and a one-line note on how they were split."""

    train: list[Sample]
    val: list[Sample]
    note: str


def plan_split(samples: Sequence[Sample], val_fraction: float = 0.2, *, seed: int = 0) -> SplitPlan:
    """Hold out ``val_fraction`` of the groups (``core.grouping``: cars, numbered series such as
    the frames of one clip, folders; groups that share near-identical photos are joined) for
    validation, so no group is on both sides.

    With a single group of 3 or more photos the photos themselves are split (and the note says
    the figure will be optimistic); with fewer than 3 photos nothing is held out.
    """
    samples = list(samples)
    if val_fraction <= 0 or len(samples) < 3:
        return SplitPlan(samples, [], "no validation photos (too few photos)" if val_fraction > 0 else
                         "no validation photos")
    joined = near_duplicate_groups([s.image for s in samples], [s.group for s in samples])
    samples = [s if group == s.group else replace(s, group=group) for s, group in zip(samples, joined)]
    groups = {s.group for s in samples}
    if len(groups) > 1:
        train, val = split_by_group(samples, val_fraction, seed=seed)
        if train:
            val_groups = len({s.group for s in val})
            return SplitPlan(train, val, f"{len(val)} photo(s) of {val_groups} of {len(groups)} groups held out")
    by_photo = [replace(s, group=f"{s.group}/{s.image.name}") for s in samples]
    train_p, val_p = split_by_group(by_photo, val_fraction, seed=seed)
    chosen = {s.image for s in val_p}
    train = [s for s in samples if s.image not in chosen]
    val = [s for s in samples if s.image in chosen]
    return SplitPlan(train, val, f"{len(val)} photo(s) held out from a single group (an optimistic check)")


def train_config(settings: FinetuneSettings, base_path: Path) -> TrainConfig:
    """The training loop's recipe for these settings, starting from ``base_path``."""
    from core.models.checkpoint import read_config
    from core.training.train import TrainConfig

    base = read_config(base_path)
    size = settings.size or base.preprocess.size
    if size % 32:
        raise ValueError(f"working size {size} is not a multiple of 32")
    return TrainConfig(
        arch=base.arch, width=base.width, size=size, epochs=settings.epochs, batch_size=settings.batch_size,
        lr=settings.lr, lr_halve_every=max(1, (settings.epochs + 1) // 2),
        correction_weight=settings.correction_weight if settings.weight_corrections else 0.0,
        augment=settings.augment, val_fraction=settings.val_fraction, seed=settings.seed, device=settings.device,
        init=str(base_path), save_every_s=1e9, max_steps_per_epoch=settings.max_steps_per_epoch,
    )


def evaluate_model(path: str | Path, samples: Sequence[Sample], device: str = "auto") -> list[float]:
    """Per-photo Dice of a checkpoint on ``samples`` (the training loop's validation metric).

    Raises ``ValueError`` naming the file when a sample cannot be used (see ``cache_samples``)."""
    from core.models.checkpoint import load_model
    from core.models.device import autocast_dtype, select_device
    from core.training.data import cache_samples
    from core.training.train import evaluate_cached

    if not samples:
        return []
    model, config = load_model(path)
    torch_device = select_device(device)
    model = model.to(torch_device)
    cached = cache_samples(samples, config.preprocess, keep_full_masks=True)
    if cached.left_out:  # figures on fewer photos than listed would compare unlike with unlike
        raise ValueError(cached.left_out[0])
    return evaluate_cached(model, cached, config.preprocess, torch_device, autocast_dtype(torch_device))


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def kept_epoch(history: Sequence[dict[str, Any]]) -> int:
    """The epoch whose weights a run keeps, from its history records (``epoch``, ``val_dice``): the
    first with the best validation Dice (the training loop saves ``best`` on a strict gain), else
    the last; 0 for no history."""
    scored = [h for h in history if h.get("val_dice") is not None]
    if not scored:
        return history[-1]["epoch"] if history else 0
    best = max(h["val_dice"] for h in scored)
    return next(h["epoch"] for h in scored if h["val_dice"] == best)


@dataclass
class FinetuneResult:
    """A finished run: where the new weights are and how both models did on the validation photos."""

    settings: FinetuneSettings
    base_path: Path
    run_dir: Path
    best_path: Path
    train: list[Sample]
    val: list[Sample]
    split_note: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    dice_before: list[float]
    dice_after: list[float]
    seconds: float
    device: str
    sources: dict[str, str] = field(default_factory=dict)  # image path -> 'correction' or a folder

    @property
    def val_dice_before(self) -> float | None:
        return _mean(self.dice_before)

    @property
    def val_dice_after(self) -> float | None:
        return _mean(self.dice_after)

    @property
    def best_epoch(self) -> int:
        """The epoch whose weights were kept (``kept_epoch``)."""
        return kept_epoch(self.history)

    @property
    def improved(self) -> bool | None:
        """Whether the new model is better on the validation photos (None without any)."""
        if self.val_dice_before is None or self.val_dice_after is None:
            return None
        return self.val_dice_after > self.val_dice_before


FinetuneKind = Literal["status", "baseline", "train", "evaluated", "stopped", "done"]


@dataclass
class FinetuneEvent:
    """``kind``: 'status', 'baseline' (``val_dice`` of the starting model), 'train' (``train``
    holds the loop's event), 'evaluated' (``val_dice`` of the new model), 'stopped' or 'done'
    (``result``)."""

    kind: FinetuneKind
    message: str = ""
    val_dice: float | None = None
    train: TrainEvent | None = None
    result: FinetuneResult | None = None


def new_run_dir() -> Path:
    """A fresh run folder under ``<app home>/runs``, marked with this process's id."""
    root = app_home() / RUNS_DIR
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(1000):
        folder = root / f"finetune-{stamp}-{os.getpid()}-{number}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        (folder / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
        return folder
    raise RuntimeError(f"{root}: cannot create a run folder")


def remove_run(run_dir: str | Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)


def run_owner(folder: Path) -> int | None:
    """The process id recorded in a run folder's ``owner.json``; None when the folder is not
    one the app made (no such file, a link, or a damaged record): such a folder is never
    deleted."""
    if folder.is_symlink() or not folder.is_dir():
        return None
    try:
        return Fields(read_json(folder / OWNER_FILE), folder / OWNER_FILE).int("pid", low=1)
    except (OSError, RecordError):
        return None


def cleanup_stale_runs() -> list[Path]:
    """Delete the run folders the app made (with a valid ``owner.json``) for processes that
    are gone (a crash); returns what was removed. Anything else under ``runs`` is left alone."""
    root = app_home() / RUNS_DIR
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        pid = run_owner(folder)
        if pid is not None and pid != os.getpid() and not _process_alive(pid):
            remove_run(folder)
            removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def finetune(
    settings: FinetuneSettings,
    plan: SplitPlan,
    run_dir: str | Path,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    sources: dict[str, str] | None = None,
) -> Iterator[FinetuneEvent]:
    """Fine-tune ``settings.base_model`` on ``plan`` in ``run_dir``; see the module docstring.

    Raises ``CheckpointError`` for an unusable starting model and ``ValueError`` for bad
    settings or no training photos.
    """
    from core.models.device import describe_device, select_device
    from core.training.train import BEST, train

    if not plan.train:
        raise ValueError("no training photos: check at least one photo")
    run_dir = Path(run_dir)
    started = time.monotonic()
    base_path = resolve_model(settings.base_model)
    config = train_config(settings, base_path)
    device_label = describe_device(select_device(config.device))
    dice_before: list[float] = []
    if plan.val:
        yield FinetuneEvent("status", f"measuring the starting model on {len(plan.val)} validation photo(s)")
        dice_before = evaluate_model(base_path, plan.val, config.device)
        yield FinetuneEvent("baseline", f"starting model: validation Dice {_mean(dice_before):.4f}",
                            val_dice=_mean(dice_before))
    if should_stop():
        yield FinetuneEvent("stopped", "stopped before training; nothing was saved")
        return
    history: list[dict[str, Any]] = []
    info = {"name": settings.name, "base_model": settings.base_model}
    for event in train(config, plan.train, plan.val, run_dir, should_stop=should_stop, info=info):
        if event.kind == "stopped":
            yield FinetuneEvent("stopped", "stopped; nothing was saved", train=event)
            return
        if event.history:
            history = event.history
        yield FinetuneEvent("train", event.message, train=event)
    best_path = run_dir / BEST
    dice_after: list[float] = []
    if plan.val:
        yield FinetuneEvent("status", "measuring the new model on the same validation photos")
        dice_after = evaluate_model(best_path, plan.val, config.device)
        yield FinetuneEvent("evaluated", f"new model: validation Dice {_mean(dice_after):.4f}",
                            val_dice=_mean(dice_after))
    result = FinetuneResult(
        settings=settings, base_path=base_path, run_dir=run_dir, best_path=best_path, train=list(plan.train),
        val=list(plan.val), split_note=plan.note, config=config.to_dict(), history=history,
        dice_before=dice_before, dice_after=dice_after, seconds=time.monotonic() - started, device=device_label,
        sources=dict(sources or {}),
    )
    yield FinetuneEvent("done", "finished", result=result)


def version_record(result: FinetuneResult) -> dict[str, Any]:
    """The configuration saved with a new version: recipe, data, figures."""

    def rows(samples: Sequence[Sample]) -> list[dict[str, str]]:
        return [{"image": str(s.image), "group": s.group, "source": result.sources.get(str(s.image), "folder")}
                for s in samples]

    epochs_done = result.history[-1]["epoch"] if result.history else 0
    return {
        "base_model": result.settings.base_model,
        "base_model_path": str(result.base_path),
        "settings": result.settings.to_dict(),
        "train_config": result.config,
        "data": {"train": rows(result.train), "val": rows(result.val), "split_note": result.split_note},
        "figures": {
            "val_dice_before": result.val_dice_before, "val_dice_after": result.val_dice_after,
            "val_dice_before_per_photo": result.dice_before, "val_dice_after_per_photo": result.dice_after,
            "history": result.history, "train_seconds": round(result.seconds, 1), "device": result.device,
            "epochs_done": epochs_done, "best_epoch": result.best_epoch,
        },
    }


def save_as_version(result: FinetuneResult, name: str | None = None, *, keep_run: bool = False) -> ModelVersion:
    """Save a finished run as a new model version (not activated), then delete the run folder
    unless ``keep_run``."""
    from core.models.model_versions import save_version

    version = save_version(name or result.settings.name, result.best_path, version_record(result))
    if not keep_run:
        remove_run(result.run_dir)
    return version


def version_from_run(
    run_dir: str | Path, name: str, config: TrainConfig, train: Sequence[Sample], val: Sequence[Sample],
    *, base_model: str | None = None,
) -> ModelVersion:
    """Save a finished ``maskingnet train`` run (its best weights) as the version ``name``,
    measuring ``base_model`` (when given) and the new weights on ``val`` for its model card.
    The run folder is kept."""
    from core.models.checkpoint import read_config
    from core.training.train import BEST, LAST

    run_dir = Path(run_dir)
    best = run_dir / BEST if (run_dir / BEST).is_file() else run_dir / LAST
    info = read_config(run_dir / LAST).info
    base_path = resolve_model(base_model) if base_model else None
    settings = FinetuneSettings(
        name=name, base_model=base_model or "", epochs=config.epochs, lr=config.lr, size=config.size,
        batch_size=config.batch_size, device=config.device, weight_corrections=config.correction_weight > 0,
        correction_weight=config.correction_weight, val_fraction=config.val_fraction, seed=config.seed,
        augment=config.augment,
    )
    result = FinetuneResult(
        settings=settings, base_path=base_path or Path(""), run_dir=run_dir, best_path=best, train=list(train),
        val=list(val), split_note=f"{len({s.group for s in val})} group(s) held out", config=config.to_dict(),
        history=list(info.get("history") or []),
        dice_before=evaluate_model(base_path, val, config.device) if base_path else [],
        dice_after=evaluate_model(best, val, config.device), seconds=float(info.get("train_seconds") or 0.0),
        device=str(info.get("device", "")),
        sources={str(s.image): ("correction" if s.weight is not None else str(s.image.parent)) for s in [*train, *val]},
    )
    return save_as_version(result, name, keep_run=True)
